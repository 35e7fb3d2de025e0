// One shared `list servers` poll per provider. It runs only while someone waits, so a quiet
// pool costs no calls, and one list answers every waiter at once instead of one GET per
// server per tick.
import type { Clock } from '../src/clock.js';
import { TimeoutError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { CloudServer } from './provider.js';

export interface ServerSnapshot {
  servers: CloudServer[];
  /** When the list request was sent: the list shows the cloud no earlier than this. */
  at: number;
}

/**
 * Decides a waiter's fate from one list: true = done (resolve with the server, or undefined
 * if absent), false = keep waiting, throw = fail the waiter with that error.
 */
export type ServerPredicate = (server: CloudServer | undefined) => boolean;

export interface ServerPollerOptions {
  /** One list call (the caller adds rate limiting); `signal` aborts on close. */
  list: (signal: AbortSignal) => Promise<CloudServer[]>;
  clock: Clock;
  log: Logger;
  intervalMs: number;
}

interface Waiter {
  id: string;
  predicate: ServerPredicate;
  /** Only lists requested after the waiter arrived may answer it (an older list may predate a create or delete). */
  minSeq: number;
  resolve: (server: CloudServer | undefined) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

export class ServerPoller {
  private readonly opts: ServerPollerOptions;
  private readonly waiters = new Set<Waiter>();
  private latest: ServerSnapshot | null = null;
  /** Sequence number the next list request gets. */
  private nextSeq = 1;
  /** Sequence number of the list that produced `latest`. */
  private latestSeq = 0;
  private running = false;
  private wakeRequested = false;
  private sleeper: AbortController | null = null;
  private readonly closer = new AbortController();
  private polls = 0;
  private failures = 0;

  constructor(opts: ServerPollerOptions) {
    this.opts = opts;
  }

  /**
   * Waits until `predicate` accepts server `id` in a list taken after this call. Rejects with
   * TimeoutError after `timeoutMs`, the signal's reason if aborted, an AbortError on close,
   * or whatever the predicate throws.
   */
  waitFor(id: string, predicate: ServerPredicate, timeoutMs: number, signal?: AbortSignal, what = 'ready'): Promise<CloudServer | undefined> {
    if (this.closer.signal.aborted) return Promise.reject(this.closer.signal.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const timer = new AbortController();
      const onAbort = () => settle(() => reject(signal?.reason));
      const waiter: Waiter = {
        id,
        predicate,
        minSeq: this.nextSeq,
        resolve: (s) => settle(() => resolve(s)),
        reject: (e) => settle(() => reject(e)),
        cleanup: () => {
          timer.abort();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const settle = (fn: () => void) => {
        if (!this.waiters.delete(waiter)) return;
        waiter.cleanup();
        fn();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.opts.clock.sleep(timeoutMs, timer.signal).then(
        () => settle(() => reject(new TimeoutError(`server ${id}: not ${what} after ${timeoutMs} ms`))),
        () => {},
      );
      this.waiters.add(waiter);
      this.start();
    });
  }

  /** Runs the next poll now instead of at the next tick; calls made while one is pending share it. */
  pollNow(): void {
    if (this.closer.signal.aborted || this.waiters.size === 0) return;
    this.wakeRequested = true;
    this.sleeper?.abort();
  }

  /** The latest list, from a poll or from a caller's own list (see `record`). */
  snapshot(): ServerSnapshot | null {
    return this.latest;
  }

  /** Reserve a sequence number before sending a list request whose result goes to `record`. */
  ticket(): { seq: number; at: number } {
    return { seq: this.nextSeq++, at: this.opts.clock.now() };
  }

  /** Offer a list fetched outside the poll loop; lists older than the latest one are ignored. */
  record(ticket: { seq: number; at: number }, servers: CloudServer[]): void {
    if (this.closer.signal.aborted || ticket.seq <= this.latestSeq) return;
    this.latestSeq = ticket.seq;
    this.latest = { servers, at: ticket.at };
    const byId = new Map(servers.map((s) => [s.id, s]));
    for (const w of [...this.waiters]) {
      if (ticket.seq < w.minSeq) continue;
      const server = byId.get(w.id);
      let done: boolean;
      try {
        done = w.predicate(server);
      } catch (err) {
        w.reject(err);
        continue;
      }
      if (done) w.resolve(server);
    }
  }

  /** Waiters still pending, polls sent and polls failed. */
  stats(): { waiters: number; polls: number; failures: number } {
    return { waiters: this.waiters.size, polls: this.polls, failures: this.failures };
  }

  /** Stops polling and rejects every waiter with an AbortError; idempotent. */
  close(): void {
    if (this.closer.signal.aborted) return;
    this.closer.abort(new DOMException('server poller closed', 'AbortError'));
    this.sleeper?.abort();
    for (const w of [...this.waiters]) w.reject(this.closer.signal.reason);
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (!this.closer.signal.aborted && this.waiters.size > 0) {
        if (!this.wakeRequested) await this.sleep();
        this.wakeRequested = false;
        if (this.closer.signal.aborted || this.waiters.size === 0) break;
        await this.pollOnce();
      }
    } finally {
      // No await between the loop's last check and this line, so a waiter added meanwhile restarts it.
      this.running = false;
    }
    if (!this.closer.signal.aborted && this.waiters.size > 0) this.start();
  }

  private async sleep(): Promise<void> {
    const sleeper = new AbortController();
    this.sleeper = sleeper;
    try {
      await this.opts.clock.sleep(this.opts.intervalMs, sleeper.signal);
    } catch {
      // Woken early by pollNow() or close().
    } finally {
      if (this.sleeper === sleeper) this.sleeper = null;
    }
  }

  private async pollOnce(): Promise<void> {
    const ticket = this.ticket();
    this.polls++;
    try {
      const servers = await this.opts.list(this.closer.signal);
      this.record(ticket, servers);
    } catch (err) {
      if (this.closer.signal.aborted) return;
      // Not fatal: the waiters keep their own timeouts and the next tick tries again.
      this.failures++;
      this.opts.log.warn({ err, waiters: this.waiters.size }, 'server list poll failed; retrying at next tick');
    }
  }
}
