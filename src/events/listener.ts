// Listens to the ZeroMQ event publishers of the CI masters. One SUB socket connected to every
// URL and subscribed to everything; ZeroMQ reconnects by itself when a publisher restarts (we
// make it retry every 100 ms instead of libzmq's default). Bad frames are counted and logged at
// most once per reason per window; an exception thrown by onEvent is logged and counted, and
// the loop goes on.
import { Subscriber } from 'zeromq';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { EventCounters, type EventListenerStats } from './counters.js';
import { parseFrame, type BuildEvent, type FrameProblem } from './frame.js';

export type { EventListenerStats } from './counters.js';

export interface EventListenerOptions {
  urls: readonly string[];
  log: Logger;
  /** Called for every good frame. May return a promise: a rejection counts like a throw. */
  onEvent: (ev: BuildEvent) => void | Promise<void>;
  clock?: Clock;
  /** ZMQ_RECONNECT_IVL. Default 100. */
  reconnectIntervalMs?: number;
  /** Bad frames of one reason are logged at most once per this window. Default 60 000. */
  badLogWindowMs?: number;
  /** Where the counts go: the daemon passes one that outlives this listener (reloads). Default: a new one. */
  counters?: EventCounters;
}

export class EventListener {
  private readonly sock: Subscriber;
  private readonly log: Logger;
  private readonly onEvent: EventListenerOptions['onEvent'];
  private readonly clock: Clock;
  private readonly badLogWindowMs: number;
  private readonly counts: EventCounters;
  /** Per reason: when a line was last logged and how many went unlogged since. */
  private readonly badLog = new Map<string, { at: number; suppressed: number }>();
  private readonly loop: Promise<void>;
  private closed = false;

  constructor(opts: EventListenerOptions) {
    this.log = opts.log;
    this.onEvent = opts.onEvent;
    this.clock = opts.clock ?? systemClock;
    this.badLogWindowMs = opts.badLogWindowMs ?? 60_000;
    this.counts = opts.counters ?? new EventCounters();
    // linger 0: nothing is ever sent on a SUB socket except subscriptions; close must not wait.
    this.sock = new Subscriber({ reconnectInterval: opts.reconnectIntervalMs ?? 100, linger: 0 });
    for (const url of opts.urls) this.sock.connect(url);
    this.sock.subscribe();
    this.log.info({ urls: opts.urls }, 'listening for build events');
    this.loop = this.receive();
  }

  stats(): EventListenerStats {
    return this.counts.stats();
  }

  /** Idempotent: closes the socket, which ends the receive loop, and waits for the loop. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.sock.close();
    }
    await this.loop;
  }

  private async receive(): Promise<void> {
    try {
      // The iterator ends when the socket is closed.
      for await (const parts of this.sock) {
        this.counts.received();
        // The plugin sends exactly one frame; anything in more parts is not from it.
        if (parts.length !== 1) this.onBad('garbage', `${parts.length} message parts, expected 1`);
        else this.onFrame(parts[0]);
      }
    } catch (err) {
      if (!this.closed) this.log.error({ error: String(err) }, 'build event receive loop stopped');
    }
  }

  private onFrame(frame: Buffer): void {
    const parsed = parseFrame(frame);
    if (!parsed.ok) return this.onBad(parsed.reason, parsed.detail);
    const ev = parsed.event;
    this.counts.handled();
    try {
      const result = this.onEvent(ev);
      if (result && typeof result.then === 'function') result.then(undefined, (err: unknown) => this.onHandlerError(ev, err));
    } catch (err) {
      this.onHandlerError(ev, err);
    }
  }

  private onHandlerError(ev: BuildEvent, err: unknown): void {
    this.counts.handlerError();
    this.log.error(
      { error: err instanceof Error ? err.message : String(err), topic: ev.topic, job: ev.name, build: ev.build.number, nodeName: ev.build.node_name },
      'build event handler failed',
    );
  }

  private onBad(reason: FrameProblem, detail: string): void {
    const total = this.counts.bad(reason);
    const now = this.clock.now();
    const seen = this.badLog.get(reason);
    if (seen && now - seen.at < this.badLogWindowMs) {
      seen.suppressed += 1;
      return;
    }
    this.log.warn({ reason, detail, suppressedSinceLast: seen?.suppressed ?? 0, total }, 'bad build event frame ignored');
    this.badLog.set(reason, { at: now, suppressed: 0 });
  }
}
