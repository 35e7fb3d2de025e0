// Any Gearman consumer as a Target (the original Nodepool's gearman target): a manager process
// registers the worker function `node_assign:<target>`; we submit a job with the node as JSON
// `{name, host, description, labels}`, and its reply names the manager that took the node (JSON
// `{"manager": "..."}` or the plain name). On delete we submit `node_revoke:<manager>` with
// `{name}`. gearmanode does the Gearman binary protocol.
//
// A foreground job for a function nobody serves waits in gearmand forever, and would be handed to
// the first worker that shows up long after we gave up. So before submitting we ask each
// server's admin `status` who has a worker for the function and submit only there.
import { systemClock, type Clock } from '../clock.js';
import { TargetError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { NodeRecord } from '../model.js';
import type { Client } from 'gearmanode';
import { GearmanAdminClient } from '../gearman/admin-client.js';
import { gearmanText, loadGearmanode } from '../gearman/gearmanode.js';
import type { Registration, Target, TargetNode } from './target.js';

export interface GearmanTargetOptions {
  /** The target's name: nodes are offered through `node_assign:<name>`. */
  name: string;
  servers: readonly { host: string; port: number }[];
  log?: Logger;
  clock?: Clock;
  /** Budget for one assign or revoke, worker included. Default 30 s. */
  timeoutMs?: number;
  /** Budget for the admin `status` asked before submitting. Default 5 s. */
  adminTimeoutMs?: number;
}

/**
 * The manager named by a node_assign reply: `{"manager": "NAME"}`, a JSON string, or plain text.
 * null when the reply names nobody usable in a function name.
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
  // eslint-disable-next-line no-control-regex
  if (text === '' || /[\x00-\x1f\x7f]/.test(text)) return null;
  return text;
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
  private closed = false;

  constructor(opts: GearmanTargetOptions) {
    this.name = opts.name;
    this.servers = opts.servers.map((s) => ({ host: s.host, port: s.port }));
    this.log = (opts.log ?? silentLogger).child({ target: opts.name });
    this.clock = opts.clock ?? systemClock;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.adminTimeoutMs = opts.adminTimeoutMs ?? 5000;
  }

  async register(node: TargetNode): Promise<Registration> {
    const fn = `node_assign:${this.name}`;
    const servers = await this.serversWithWorker(fn);
    if (servers.length === 0) {
      throw new TargetError(`${fn}: no manager has a worker for it on any gearman server`, true);
    }
    const payload = { name: node.name, host: node.host, description: node.description, labels: node.labels };
    const reply = await this.submit(servers, fn, payload, node.name);
    const manager = parseAssignReply(reply);
    if (manager === null) throw new TargetError(`${fn} for ${node.name}: the reply names no manager: ${JSON.stringify(reply.slice(0, 200))}`);
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
    if (!node.manager) {
      this.log.warn({ node_hostname: node.hostname }, 'no manager recorded for the node: nothing to revoke');
      this.known.set(node.hostname, false);
      return;
    }
    const fn = `node_revoke:${node.manager}`;
    const servers = await this.serversWithWorker(fn);
    if (servers.length === 0) {
      this.log.warn({ node_hostname: node.hostname, manager: node.manager }, 'the manager serves no node_revoke any more: nothing to revoke');
    } else {
      await this.submit(servers, fn, { name: node.hostname }, node.hostname);
      this.log.info({ node_hostname: node.hostname, manager: node.manager }, 'node revoked');
    }
    this.known.set(node.hostname, false);
  }

  /**
   * Gearman has no request to ask a manager which nodes it holds. We answer from what this
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

  /** Submits a foreground job and resolves with the worker's reply text. */
  private submit(servers: Server[], fn: string, payload: object, unique: string): Promise<string> {
    this.assertOpen();
    const gm = loadGearmanode();
    // A client per job: gearmanode marks a failed server bad for `recoverTime` and can then fail
    // a later submit synchronously; a fresh client starts clean. Assigns and revokes are rare.
    const client = gm.client({ servers: servers.map((s) => ({ ...s })), loadBalancing: 'Sequence' });
    this.clients.add(client);
    const abort = new AbortController();

    const result = new Promise<string>((resolve, reject) => {
      const fail = (message: string, retryable: boolean, cause?: unknown) =>
        reject(new TargetError(`${fn} for ${unique}: ${message}`, retryable, cause === undefined ? undefined : { cause }));
      // gearmanode emits 'error' on the client for unrecoverable states; unhandled it would throw.
      client.on('error', (err: Error) => fail(`gearman client error: ${err.message}`, true, err));
      // The same unique id makes a retry join a job still queued from an earlier attempt.
      const job = client.submitJob(fn, JSON.stringify(payload), { unique, toStringEncoding: 'utf8' });
      if (job instanceof Error) return fail(job.message, false, job);
      client.on('socketDisconnect', (uid: string, err?: Error) => {
        if (job.jobServerUid === uid && job.handle) fail(`connection to ${uid} lost while the job ran${err ? `: ${err.message}` : ''}`, true, err);
      });
      job.on('complete', () => resolve(gearmanText(job.response)));
      job.on('failed', () => fail('the worker reported failure (WORK_FAIL)', false));
      job.on('exception', (text: unknown) => fail(`the worker raised: ${gearmanText(text as string)}`, false));
      job.on('error', (err: Error) => fail(`gearman: ${err.message}`, true, err));
      job.on('close', () => fail('the job was closed before it completed (connection lost)', true));
      this.clock.sleep(this.timeoutMs, abort.signal).then(
        () => fail(`no reply within ${this.timeoutMs}ms`, true),
        () => undefined,
      );
    });

    const cleanup = () => {
      abort.abort();
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
        cleanup();
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
