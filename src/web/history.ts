// The status page's chart: a small in-memory ring of pool samples (size and demand per label),
// taken by the web server at a fixed interval. Lost on restart, by design: Prometheus keeps history.
import type { PoolSnapshot } from '../views.js';

export interface HistorySample {
  time: number;
  labels: Record<string, { ready: number; building: number; inUse: number; size: number; demand: number | null }>;
}

/** One hour of samples at the default 30 s interval. */
export const DEFAULT_HISTORY_INTERVAL_MS = 30_000;
export const DEFAULT_HISTORY_SPAN_MS = 3_600_000;

export function sampleOf(snap: PoolSnapshot): HistorySample {
  const labels: HistorySample['labels'] = {};
  for (const l of snap.labels) {
    // Pool size: every node that serves or will serve the label (deleting ones do not).
    labels[l.name] = { ready: l.ready, building: l.building, inUse: l.inUse, size: l.ready + l.building + l.inUse + l.used + l.hold, demand: l.demand };
  }
  return { time: snap.time, labels };
}

export class History {
  private readonly samples: HistorySample[] = [];
  constructor(private readonly capacity: number) {}

  add(sample: HistorySample): void {
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  /** Oldest first. */
  list(): HistorySample[] {
    return [...this.samples];
  }
}
