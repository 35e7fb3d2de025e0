// Any Gearman consumer as a Target (the original Nodepool's gearman target): a manager process
// registers the worker function `node_assign:<target>`; we submit a job with the node as JSON
// `{name, host, port, description, labels}`, and its reply names the manager that took the node (JSON
// `{"manager": "..."}` or the plain name). On delete we submit `node_revoke:<manager>` with
// `{name}`. gearmanode does the Gearman binary protocol.
//
// A foreground job for a function nobody serves waits in gearmand forever, and would be handed to
// the first worker that shows up long after we gave up. So before submitting we ask each
// server's admin `status` who has a worker for the function and submit only there.
//
// A manager may also serve `node_status:<manager>` (`{name}` in, `{name, present, busy, offline,
// builds}` out): the reconcile pass asks it what became of a node whose build events were lost.
// A manager without it is skipped (view() answers null), never guessed about.
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { TargetError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { NodeRecord } from '../model.js';
import type { Client } from 'gearmanode';
import { GearmanAdminClient } from '../gearman/admin-client.js';
import { gearmanText, loadGearmanode } from '../gearman/gearmanode.js';
import type { MasterNodeView } from '../target-reconcile.js';
import { RegisterTimeoutError, type OfflineCause, type Registration, type Target, type TargetNode } from './target.js';

export interface GearmanTargetOptions {
  /** The target's name: nodes are offered through `node_assign:<name>`. */
  name: string;
  servers: readonly { host: string; port: number }[];
  log?: Logger;
  clock?: Clock;
  /** Budget for one assign or revoke, worker included. Default 30 s. */
  timeoutMs?: number;
  /** Budget for one node_status request. Default 10 s. */
  statusTimeoutMs?: number;
  /** Budget for the admin `status` asked before submitting. Default 5 s. */
  adminTimeoutMs?: number;
  /** How old the cached answer of available() may get before a fresh `status` is asked. Default 2 s. */
  availabilityTtlMs?: number;
}

/**
 * A manager name as it must appear in `node_revoke:<manager>`: a Gearman function-name token of
 * 1 to 128 characters from [A-Za-z0-9_.:@-], starting with a letter or digit. No whitespace, no
 * control characters (gearmand's admin protocol is line- and tab-separated).
 */
export const MANAGER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

/**
 * The manager named by a node_assign reply: `{"manager": "NAME"}`, a JSON string, or plain text.
 * null when the reply names nobody usable in a function name (see MANAGER_NAME).
 */
export function parseAssignReply(reply: string): string | null {
  let text = reply.trim();
  if (text.startsWith('{') || text.startsWith('"')) {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'string') text = value.trim();
      else if (value && typeof value === 'object' && typeof (value as { manager?: unknown }).manager === 'string') {
        text = (value as { manager: string }).manager.trim();
      } else return null;
    } catch {
      // Not JSON after all: a plain name that happens to start with a brace or quote.
    }
  }
  return MANAGER_NAME.test(text) ? text : null;
}

/**
 * A node_status reply: a JSON object with a boolean `present`; `busy` and `offline` default to
 * false, `builds` (builds started on the node) is kept when it is a count. Throws on anything else.
 */
export function parseStatusReply(reply: string, name: string): MasterNodeView {
  let value: unknown;
  try {
    value = JSON.parse(reply);
  } catch {
    value = null;
  }
  const v = value as { present?: unknown; busy?: unknown; offline?: unknown; builds?: unknown } | null;
  if (!v || typeof v !== 'object' || typeof v.present !== 'boolean') {
    throw new TargetError(`node_status for ${name}: expected {"present": true|false, ...}, got ${JSON.stringify(reply.slice(0, 200))}`);
  }
  const view: MasterNodeView = { present: v.present, busy: v.busy === true, offline: v.offline === true };
  if (typeof v.builds === 'number' && Number.isInteger(v.builds) && v.builds >= 0) view.builds = v.builds;
  return view;
}

type Server = { host: string; port: number };

export class GearmanTarget implements Target {
  readonly name: string;
  private readonly servers: Server[];
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly adminTimeoutMs: number;
  private readonly clients = new Set<Client>();
  private readonly admins = new Set<GearmanAdminClient>();
  /** What this process did: true = assigned, false = revoked. See exists(). */
  private readonly known = new Map<string, boolean>();
  /** Managers named by replies that came after their assign had timed out: revoked on unregister. */
  private readonly lateManagers = new Map<string, Set<string>>();
  private readonly availabilityTtlMs: number;
  private readonly statusTimeoutMs: number;
  /** Per node_status function: the servers with a worker for it, asked at most once per availabilityTtlMs. */
  private readonly statusServers = new Map<string, { at: number; servers: Promise<Server[]> }>();
  private availability: { value: boolean; at: number } | null = null;
  private checking: Promise<void> | null = null;
  private closed = false;

  constructor(opts: GearmanTargetOptions) {
    this.name = opts.name;
    this.servers = opts.servers.map((s) => ({ host: s.host, port: s.port }));
    this.log = (opts.log ?? silentLogger).child({ target: opts.name });
    this.clock = opts.clock ?? systemClock;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.adminTimeoutMs = opts.adminTimeoutMs ?? 5000;
    this.availabilityTtlMs = opts.availabilityTtlMs ?? 2000;
    this.statusTimeoutMs = opts.statusTimeoutMs ?? 10_000;
  }

  /**
   * Whether some worker serves node_assign:<target>, from the last admin `status` (a fresh one is
   * asked in the background when the answer is older than availabilityTtlMs). False until the
   * first answer (the planner asks again every demand-interval); a register answers it too.
   */
  available(): boolean {
    const now = this.clock.now();
    if (!this.closed && !this.checking && (!this.availability || now - this.availability.at >= this.availabilityTtlMs)) {
      this.checking = this.checkAvailability().then(() => undefined, () => undefined).finally(() => {
        this.checking = null;
      });
    }
    return this.availability?.value ?? false;
  }

  /** Asks the servers now; resolves when the answer is cached. */
  async checkAvailability(): Promise<boolean> {
    const fn = `node_assign:${this.name}`;
    try {
      this.setAvailable((await this.serversWithWorker(fn)).length > 0);
    } catch (err) {
      // No server answered: nobody can take a node.
      this.log.debug({ err }, 'availability check failed');
      this.setAvailable(false);
    }
    return this.availability!.value;
  }

  private setAvailable(value: boolean): void {
    if (this.availability?.value !== value) this.log.info({ fn: `node_assign:${this.name}`, available: value }, value ? 'a worker serves node_assign: launching allowed' : 'no worker serves node_assign: no launches');
    this.availability = { value, at: this.clock.now() };
  }

  async register(node: TargetNode): Promise<Registration> {
    const fn = `node_assign:${this.name}`;
    const servers = await this.serversWithWorker(fn);
    this.setAvailable(servers.length > 0);
    if (servers.length === 0) {
      throw new TargetError(`${fn}: no manager has a worker for it on any gearman server`, true);
    }
    const payload = { name: node.name, host: node.host, port: node.port, description: node.description, labels: node.labels };
    const reply = await this.submit(servers, fn, payload, node.name, (late) => {
      // The manager took the node after we gave up on the assign: remember it for the revoke.
      const manager = parseAssignReply(late);
      if (manager === null) return;
      this.log.warn({ node_hostname: node.name, manager }, 'late node_assign reply: the node will be revoked from this manager');
      const set = this.lateManagers.get(node.name) ?? new Set<string>();
      set.add(manager);
      this.lateManagers.set(node.name, set);
    });
    const manager = parseAssignReply(reply);
    if (manager === null) {
      throw new TargetError(`${fn} for ${node.name}: the reply names no valid manager (a Gearman function-name token matching ${MANAGER_NAME.source}): ${JSON.stringify(reply.slice(0, 200))}`);
    }
    this.known.set(node.name, true);
    this.log.info({ node_hostname: node.name, manager }, 'node assigned');
    return { manager };
  }

  /**
   * Revokes the node from the manager that took it. With no manager recorded there is nothing to
   * revoke; when no worker serves `node_revoke:<manager>` any more, the manager is gone and the
   * node with it: both are success, like an unknown node.
   */
  async unregister(node: Pick<NodeRecord, 'hostname' | 'manager'>): Promise<void> {
    const late = this.lateManagers.get(node.hostname) ?? new Set<string>();
    for (const manager of [...late]) {
      if (manager === node.manager) continue;
      await this.revoke(node.hostname, manager);
      late.delete(manager);
    }
    this.lateManagers.delete(node.hostname);
    if (!node.manager) {
      if (late.size === 0) this.log.info({ node_hostname: node.hostname }, 'no manager recorded for the node: nothing to revoke');
      this.known.set(node.hostname, false);
      return;
    }
    await this.revoke(node.hostname, node.manager);
    this.known.set(node.hostname, false);
  }

  /**
   * On hold the node leaves its manager: revoked, as on delete. A build start changes nothing: the
   * manager took the node for that one build (revoking would pull it from under the build).
   */
  async takeOffline(node: Pick<NodeRecord, 'hostname' | 'manager'>, reason: string, cause: OfflineCause = 'hold'): Promise<void> {
    if (cause !== 'hold') return;
    this.log.info({ node_hostname: node.hostname, reason }, 'taking the node from its manager');
    await this.unregister(node);
  }

  private async revoke(hostname: string, managerName: string): Promise<void> {
    const node = { hostname, manager: managerName };
    const fn = `node_revoke:${node.manager}`;
    const servers = await this.serversWithWorker(fn);
    if (servers.length === 0) {
      this.log.warn({ node_hostname: node.hostname, manager: node.manager }, 'the manager serves no node_revoke any more: nothing to revoke');
    } else {
      await this.submit(servers, fn, { name: node.hostname }, node.hostname);
      this.log.info({ node_hostname: node.hostname, manager: node.manager }, 'node revoked');
    }
  }

  /**
   * The manager's view of the node through `node_status:<manager>`: one job per node, plus an
   * admin `status` per server at most once per availabilityTtlMs and manager (shared by a whole
   * pass). null when no manager is recorded or no worker serves the function: nothing to judge.
   */
  async view(node: Pick<NodeRecord, 'hostname' | 'manager'>): Promise<MasterNodeView | null> {
    if (!node.manager) return null;
    const fn = `node_status:${node.manager}`;
    const servers = await this.serversForStatus(fn);
    if (servers.length === 0) return null;
    const reply = await this.submit(servers, fn, { name: node.hostname }, node.hostname, undefined, this.statusTimeoutMs);
    return parseStatusReply(reply, node.hostname);
  }

  private serversForStatus(fn: string): Promise<Server[]> {
    const now = this.clock.now();
    const cached = this.statusServers.get(fn);
    if (cached && now - cached.at < this.availabilityTtlMs) return cached.servers;
    const servers = this.serversWithWorker(fn);
    const entry = { at: now, servers };
    this.statusServers.set(fn, entry);
    // A failed check is not remembered: the next node asks again.
    servers.catch(() => {
      if (this.statusServers.get(fn) === entry) this.statusServers.delete(fn);
    });
    return servers;
  }

  /**
   * exists() is given no manager, so it cannot ask node_status (view() does). We answer from what this
   * process did: false after we revoked the node, true after we assigned it, and true for a node
   * we know nothing about (e.g. after a restart), so that no caller deletes or re-registers a
   * node on a guess; unregister() is safe to call either way.
   */
  async exists(name: string): Promise<boolean> {
    return this.known.get(name) ?? true;
  }

  /** Idempotent: closes every gearmanode client and admin connection, failing what is in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients) client.close();
    this.clients.clear();
    await Promise.allSettled([...this.admins].map((a) => a.close()));
    this.admins.clear();
  }

  /**
   * The servers, in configured order, where a worker is registered for `fn`. Throws a retryable
   * TargetError when no server answers and some could not be asked.
   */
  private async serversWithWorker(fn: string): Promise<Server[]> {
    this.assertOpen();
    if (this.servers.length === 0) throw new TargetError(`${fn}: no gearman-servers configured`);
    const answers = await Promise.allSettled(
      this.servers.map(async (s) => {
        const admin = new GearmanAdminClient({ host: s.host, port: s.port, timeoutMs: this.adminTimeoutMs, clock: this.clock, log: this.log });
        this.admins.add(admin);
        try {
          const rows = await admin.status();
          return rows.find((r) => r.function === fn)?.workers ?? 0;
        } finally {
          this.admins.delete(admin);
          await admin.close();
        }
      }),
    );
    this.assertOpen();
    const failed = answers.flatMap((a, i) => (a.status === 'rejected' ? [`${this.servers[i].host}:${this.servers[i].port}: ${errorText(a.reason)}`] : []));
    const serving = this.servers.filter((_, i) => {
      const a = answers[i];
      return a.status === 'fulfilled' && a.value > 0;
    });
    if (serving.length === 0 && failed.length > 0) {
      throw new TargetError(`${fn}: cannot tell who serves it: ${failed.join('; ')}`, true);
    }
    return serving;
  }

  /**
   * Submits a foreground job and resolves with the worker's reply text. Every call has its own
   * Gearman unique id: gearmand coalesces a SUBMIT_JOB whose unique id matches a job still queued
   * or running, so reusing one would make a retry join the attempt we gave up on. After a timeout
   * the job is still watched for a while; a late reply goes to `onLate`.
   */
  private submit(servers: Server[], fn: string, payload: object, what: string, onLate?: (reply: string) => void, timeoutMs = this.timeoutMs): Promise<string> {
    const unique = `${what}:${randomUUID()}`;
    this.assertOpen();
    const gm = loadGearmanode();
    // A client per job: gearmanode marks a failed server bad for `recoverTime` and can then fail
    // a later submit synchronously; a fresh client starts clean. Assigns and revokes are rare.
    const client = gm.client({ servers: servers.map((s) => ({ ...s })), loadBalancing: 'Sequence' });
    this.clients.add(client);
    const abort = new AbortController();

    const result = new Promise<string>((resolve, reject) => {
      let timedOut = false;
      const fail = (message: string, retryable: boolean, cause?: unknown) =>
        reject(new TargetError(`${fn} for ${what}: ${message}`, retryable, cause === undefined ? undefined : { cause }));
      // gearmanode emits 'error' on the client for unrecoverable states; unhandled it would throw.
      client.on('error', (err: Error) => fail(`gearman client error: ${err.message}`, true, err));
      const job = client.submitJob(fn, JSON.stringify(payload), { unique, toStringEncoding: 'utf8' });
      if (job instanceof Error) return fail(job.message, false, job);
      client.on('socketDisconnect', (uid: string, err?: Error) => {
        if (job.jobServerUid === uid && job.handle) fail(`connection to ${uid} lost while the job ran${err ? `: ${err.message}` : ''}`, true, err);
      });
      job.on('complete', () => {
        if (!timedOut) return resolve(gearmanText(job.response));
        onLate?.(gearmanText(job.response));
        if (this.clients.delete(client)) setImmediate(() => client.close());
      });
      job.on('failed', () => fail('the worker reported failure (WORK_FAIL)', false));
      job.on('exception', (text: unknown) => fail(`the worker raised: ${gearmanText(text as string)}`, false));
      job.on('error', (err: Error) => fail(`gearman: ${err.message}`, true, err));
      job.on('close', () => fail('the job was closed before it completed (connection lost)', true));
      this.clock.sleep(timeoutMs, abort.signal).then(
        () => {
          timedOut = true;
          const message = `${fn} for ${what}: no reply within ${timeoutMs}ms; the job may still run`;
          reject(onLate ? new RegisterTimeoutError(message) : new TargetError(message, true));
        },
        () => undefined,
      );
    });

    const cleanup = (err?: unknown) => {
      abort.abort();
      // A timed-out job may still complete: keep its client until close() to hear the late reply.
      if (err instanceof RegisterTimeoutError && onLate) return;
      if (!this.clients.delete(client)) return; // close() got there first
      // After gearmanode finished handling the packet that settled us.
      setImmediate(() => client.close());
    };
    return result.then(
      (reply) => {
        cleanup();
        return reply;
      },
      (err: unknown) => {
        cleanup(err);
        throw err;
      },
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new TargetError(`gearman target ${this.name} is closed`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
