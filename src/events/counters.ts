// Counts of the build-event listener. Owned by the daemon, not by a listener, so that they
// survive a reload that replaces the listener (new zmq-publishers); mirrored into Prometheus
// counters when the daemon gives them.
import type { Counter } from 'prom-client';

export interface EventListenerStats {
  /** Frames received, good or bad. */
  received: number;
  /** Good frames passed to onEvent (whether or not it threw). */
  handled: number;
  /** Bad frames per reason. */
  bad: Record<string, number>;
  /** onEvent threw or rejected. */
  handlerErrors: number;
  /** A publisher connected again after a disconnect. */
  reconnects: number;
}

/** The Prometheus side (src/metrics.ts). */
export interface EventMetrics {
  eventFrames: Counter<never>;
  eventFramesBad: Counter<'reason'>;
  eventHandlerErrors: Counter<never>;
  eventReconnects: Counter<'publisher'>;
}

export class EventCounters {
  private readonly counts: EventListenerStats = { received: 0, handled: 0, bad: {}, handlerErrors: 0, reconnects: 0 };

  constructor(private readonly metrics?: EventMetrics) {}

  received(): void {
    this.counts.received += 1;
    this.metrics?.eventFrames.inc();
  }

  handled(): void {
    this.counts.handled += 1;
  }

  /** Counts a bad frame; returns how many of this reason so far. */
  bad(reason: string): number {
    this.counts.bad[reason] = (this.counts.bad[reason] ?? 0) + 1;
    this.metrics?.eventFramesBad.inc({ reason });
    return this.counts.bad[reason];
  }

  handlerError(): void {
    this.counts.handlerErrors += 1;
    this.metrics?.eventHandlerErrors.inc();
  }

  /** A publisher (its URL as configured) connected again after a disconnect. */
  reconnected(publisher: string): void {
    this.counts.reconnects += 1;
    this.metrics?.eventReconnects.inc({ publisher });
  }

  stats(): EventListenerStats {
    return { ...this.counts, bad: { ...this.counts.bad } };
  }
}
