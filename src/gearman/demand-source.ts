// Gearman demand: polls `status` on every configured gearmand, on a timer and on request, and
// hands back the rows of all servers summed per function (src/pool/demand.ts turns them into
// demand per label). A server that is down contributes nothing; its outage is logged once when it
// starts and once when it ends, and health() reports it.
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { sumStatusRows, type GearmanStatusRow, type ParsedGearmanStatus } from '../pool/demand.js';
import { GearmanAdminClient } from './admin-client.js';

export interface GearmanServerAddress {
  host: string;
  port: number;
}

export interface GearmanServerHealth {
  host: string;
  port: number;
  up: boolean;
  /** When `up` last changed (or the source started, before the first answer). */
  since: number;
  lastError?: string;
}

/** What the source needs from a per-server client; GearmanAdminClient by default. */
export interface StatusClient {
  status(): Promise<GearmanStatusRow[] | ParsedGearmanStatus>;
  close(): Promise<void>;
}

export interface GearmanDemandSourceOptions {
  servers: readonly GearmanServerAddress[];
  /** Time between polls when start() runs the timer. Default 5000 (config `demand-interval`). */
  intervalMs?: number;
  /** Per-request budget of each admin client. Default 5000. */
  timeoutMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Called after every poll with the combined rows (e.g. to wake the planner). */
  onRows?: (rows: GearmanStatusRow[]) => void;
  createClient?: (server: GearmanServerAddress, opts: { clock: Clock; log: Logger; timeoutMs: number }) => StatusClient;
}

interface ServerState {
  address: GearmanServerAddress;
  client: StatusClient;
  /** null until the first poll answers or fails: neither "down" nor "back up" is news then. */
  up: boolean | null;
  since: number;
  lastError?: string;
  rows: GearmanStatusRow[];
}

export class GearmanDemandSource {
  private readonly servers: ServerState[];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly onRows?: (rows: GearmanStatusRow[]) => void;
  private combined: GearmanStatusRow[] = [];
  private inflight: Promise<GearmanStatusRow[]> | null = null;
  private queued: Promise<GearmanStatusRow[]> | null = null;
  private readonly stop = new AbortController();
  private loop: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  constructor(opts: GearmanDemandSourceOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? silentLogger).child({ component: 'gearman-demand' });
    this.intervalMs = opts.intervalMs ?? 5000;
    this.onRows = opts.onRows;
    const timeoutMs = opts.timeoutMs ?? 5000;
    const create =
      opts.createClient ??
      ((server, o) =>
        new GearmanAdminClient({
          host: server.host,
          port: server.port,
          timeoutMs: o.timeoutMs,
          // Never longer than one interval: a server that comes back is seen at the next poll.
          backoffMinMs: Math.min(500, this.intervalMs),
          backoffMaxMs: this.intervalMs,
          clock: o.clock,
          log: o.log,
        }));
    const now = this.clock.now();
    this.servers = opts.servers.map((address) => ({
      address: { host: address.host, port: address.port },
      client: create(address, { clock: this.clock, log: this.log, timeoutMs }),
      up: null,
      since: now,
      lastError: 'not polled yet',
      rows: [],
    }));
  }

  /** Polls now and then every intervalMs until close(). Calling it again does nothing. */
  start(): void {
    if (this.loop || this.closing) return;
    this.loop = (async () => {
      while (!this.stop.signal.aborted) {
        await this.refresh();
        try {
          await this.clock.sleep(this.intervalMs, this.stop.signal);
        } catch {
          return; // closed
        }
      }
    })();
  }

  /**
   * Polls every server now and resolves with the combined rows. Never rejects: a server that
   * fails counts as down. A call during a poll waits for one fresh poll after it (shared by all
   * such callers), so the answer is never older than the call.
   */
  refresh(): Promise<GearmanStatusRow[]> {
    if (this.closing) return Promise.resolve(this.rows());
    if (!this.inflight) {
      this.inflight = this.pollAll().finally(() => {
        this.inflight = null;
      });
      return this.inflight;
    }
    this.queued ??= this.inflight.then(() => {
      this.queued = null;
      return this.refresh();
    });
    return this.queued;
  }

  /** The combined rows of the last poll, summed per function over the servers that answered. */
  rows(): GearmanStatusRow[] {
    return this.combined.map((r) => ({ ...r }));
  }

  health(): GearmanServerHealth[] {
    return this.servers.map((s) => ({
      host: s.address.host,
      port: s.address.port,
      up: s.up === true,
      since: s.since,
      ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
    }));
  }

  /** Idempotent: stops the timer, waits for a poll in flight, closes the connections. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stop.abort();
      await this.loop;
      await this.inflight?.catch(() => undefined);
      const results = await Promise.allSettled(this.servers.map((s) => s.client.close()));
      for (const r of results) if (r.status === 'rejected') this.log.warn({ error: String(r.reason) }, 'closing a gearman admin client failed');
    })();
    return this.closing;
  }

  private async pollAll(): Promise<GearmanStatusRow[]> {
    await Promise.all(this.servers.map((s) => this.pollOne(s)));
    this.combined = sumStatusRows(this.servers.flatMap((s) => (s.up ? s.rows : [])));
    const rows = this.rows();
    if (this.onRows) {
      try {
        this.onRows(rows);
      } catch (err) {
        this.log.error({ error: String(err) }, 'onRows callback failed');
      }
    }
    return rows;
  }

  private async pollOne(s: ServerState): Promise<void> {
    const server = `${s.address.host}:${s.address.port}`;
    try {
      const answer = await s.client.status();
      const problems = 'errors' in answer ? answer.errors : [];
      if (problems.length > 0) this.log.debug({ server, problems }, 'gearman status lines not understood');
      s.rows = answer.map((r) => ({ ...r }));
      if (s.up !== true) {
        const now = this.clock.now();
        if (s.up === false) this.log.info({ server, downForMs: now - s.since }, 'gearman server is back up');
        else this.log.debug({ server }, 'gearman server answers');
        s.up = true;
        s.since = now;
      }
      s.lastError = undefined;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      s.rows = [];
      s.lastError = error;
      if (s.up !== false) {
        this.log.warn({ server, error }, 'gearman server is down; its demand is ignored until it answers');
        s.up = false;
        s.since = this.clock.now();
      }
    }
  }
}
