// Listens to the ZeroMQ event publishers of the CI masters. One SUB socket connected to every
// URL and subscribed to everything; ZeroMQ reconnects by itself when a publisher restarts (we
// make it retry every 100 ms instead of libzmq's default). Bad frames are counted and logged at
// most once per reason per window; an exception thrown by onEvent is logged and counted, and
// the loop goes on. Every frame sent while a publisher was unreachable is lost, so the socket's
// event observer tells onReconnect when a publisher comes back after a disconnect.
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
  /**
   * A publisher connected again after a disconnect (not its first connect): the frames it sent
   * meanwhile are lost. Called with the URL as configured. Must not throw.
   */
  onReconnect?: (url: string) => void;
}

/**
 * The configured URL an observer event is about. libzmq reports the resolved address after a
 * reconnect (tcp://localhost:P comes back as tcp://127.0.0.1:P), so the port decides when the
 * text differs; with several URLs on one port, the same host must match too.
 */
export function configuredUrl(address: string, urls: readonly string[]): string | undefined {
  if (urls.includes(address)) return address;
  const split = (u: string) => /^tcp:\/\/(.*):(\d+)$/.exec(u);
  const a = split(address);
  if (!a) return undefined;
  const samePort = urls.filter((u) => split(u)?.[2] === a[2]);
  if (samePort.length === 1) return samePort[0];
  return samePort.find((u) => split(u)?.[1] === a[1]);
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
  /** Configured URLs that disconnected and have not connected again yet. */
  private readonly down = new Set<string>();
  private closed = false;

  constructor(opts: EventListenerOptions) {
    this.log = opts.log;
    this.onEvent = opts.onEvent;
    this.clock = opts.clock ?? systemClock;
    this.badLogWindowMs = opts.badLogWindowMs ?? 60_000;
    this.counts = opts.counters ?? new EventCounters();
    // linger 0: nothing is ever sent on a SUB socket except subscriptions; close must not wait.
    this.sock = new Subscriber({ reconnectInterval: opts.reconnectIntervalMs ?? 100, linger: 0 });
    // Reconnects are counted (/health, nodepool_build_event_reconnects_total) with or without a handler.
    this.watchReconnects(opts.urls, opts.onReconnect);
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

  /** Observer events: `disconnect` marks the URL down, the next `connect` for it is a reconnect. */
  private watchReconnects(urls: readonly string[], onReconnect: ((url: string) => void) | undefined): void {
    this.sock.events.on('disconnect', (ev) => {
      const url = configuredUrl(ev.address, urls);
      if (!url || this.closed) return;
      this.down.add(url);
      this.log.warn({ url }, 'build event publisher disconnected: its events are lost until it is back');
    });
    this.sock.events.on('connect', (ev) => {
      const url = configuredUrl(ev.address, urls);
      if (!url || this.closed || !this.down.delete(url)) return;
      this.counts.reconnected(url);
      this.log.info({ url }, 'build event publisher connected again');
      if (!onReconnect) return;
      try {
        onReconnect(url);
      } catch (err) {
        this.log.error({ err, url }, 'reconnect handler failed');
      }
    });
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
