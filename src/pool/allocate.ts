/**
 * Splits free provider capacity between labels. Pure: no I/O.
 *
 * Two passes over the same rules:
 * 1. How many nodes each label gets: one node at a time, round-robin over the labels in the
 *    caller's priority order, so that when capacity is short every label gets one node before
 *    any gets a second, and the first in order is served first. A label gets a node only if a
 *    placement of all nodes granted so far still fits (checked by an augmenting path, see
 *    `place`), so a label whose providers are full never takes a turn from one that can run.
 * 2. Where they go: each label in priority order splits its count across its providers in
 *    proportion to their remaining free capacity (largest remainder, ties by provider name).
 *    When labels share only some providers that greedy split can strand a later label (its only
 *    provider taken by an earlier label that had somewhere else to go); the shortfall is then
 *    placed by moving earlier nodes along an augmenting path, which always exists because the
 *    counts of pass 1 are known to fit.
 * Capacity is never exceeded and a label only gets its own providers.
 */

export interface AllocationRequest {
  label: string;
  /** Nodes wanted (the label's deficit). */
  want: number;
  /** Providers the label may use. Unknown names are ignored. */
  providers: readonly string[];
}

export interface Allocation {
  label: string;
  provider: string;
  count: number;
}

/**
 * `requests` are in priority order (first = served first). `capacity` is the free capacity of
 * each provider. Returns the launches in request order, then provider name; no zero counts.
 */
export function allocate(requests: readonly AllocationRequest[], capacity: Readonly<Record<string, number>>): Allocation[] {
  const providers = Object.keys(capacity).sort(compare);
  const index = new Map(providers.map((p, j) => [p, j]));
  const eligible = requests.map((r) =>
    [...new Set(r.providers)].filter((p) => index.has(p)).sort(compare).map((p) => index.get(p) as number),
  );
  const free = providers.map((p) => wholeCapacity(capacity[p]));
  const wants = requests.map((r) => (Number.isFinite(r.want) ? Math.max(0, Math.floor(r.want)) : 0));

  const granted = grant(wants, eligible, free);
  const placed = place(granted, eligible, free, providers);

  const out: Allocation[] = [];
  requests.forEach((r, i) => {
    for (const j of eligible[i]) {
      const count = placed[i][j];
      if (count > 0) out.push({ label: r.label, provider: providers[j], count });
    }
  });
  return out;
}

/** Pass 1: round-robin counts per request, each one proven to fit. */
function grant(wants: number[], eligible: number[][], capacity: number[]): number[] {
  const flow = new Flow(eligible, capacity);
  const granted = wants.map(() => 0);
  let active = wants.map((_, i) => i).filter((i) => wants[i] > 0 && eligible[i].length > 0);
  while (active.length > 0) {
    const next: number[] = [];
    for (const i of active) {
      // A request that cannot be placed now never can: placing others only fills providers.
      if (!flow.augment(i)) continue;
      granted[i]++;
      if (granted[i] < wants[i]) next.push(i);
    }
    active = next;
  }
  return granted;
}

/** Pass 2: proportional placement in priority order, then repair of any stranded node. */
function place(granted: number[], eligible: number[][], capacity: number[], names: string[]): number[][] {
  const flow = new Flow(eligible, capacity);
  granted.forEach((n, i) => {
    const split = splitProportional(
      n,
      eligible[i].map((j) => ({ key: names[j], free: flow.free[j] })),
    );
    eligible[i].forEach((j, k) => flow.put(i, j, split[k]));
  });
  granted.forEach((n, i) => {
    while (flow.total(i) < n) {
      // Cannot fail: pass 1 showed all granted counts fit together.
      if (!flow.augment(i)) break;
    }
  });
  return flow.counts;
}

/**
 * Splits `n` in proportion to each entry's `free`, by largest remainder, ties to the smaller key.
 * Never gives an entry more than its `free`; when `n` exceeds the total, every entry is filled.
 * Returns counts in the order of `entries`.
 */
export function splitProportional(n: number, entries: readonly { key: string; free: number }[]): number[] {
  const free = entries.map((e) => wholeCapacity(e.free));
  const total = free.reduce((a, b) => a + b, 0);
  if (n <= 0 || total === 0) return free.map(() => 0);
  if (n >= total) return free;
  // Integer arithmetic: quota_k = n * free_k / total, kept exact as quotient and remainder.
  const out = free.map((f) => Math.floor((n * f) / total));
  const remainder = free.map((f) => (n * f) % total);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = entries
    .map((_, k) => k)
    .sort((a, b) => remainder[b] - remainder[a] || compare(entries[a].key, entries[b].key));
  for (const k of order) {
    if (left === 0) break;
    // A positive remainder means the quota is below free, so one more still fits.
    if (remainder[k] === 0) continue;
    out[k]++;
    left--;
  }
  return out;
}

/**
 * Placement of nodes (request x provider counts) under provider capacities, with the one
 * operation both passes need: place one more node for a request, moving other nodes to another
 * of their providers when that is the only way (a shortest augmenting path over providers).
 */
class Flow {
  readonly counts: number[][];
  readonly free: number[];
  constructor(private readonly eligible: number[][], capacity: number[]) {
    this.free = [...capacity];
    this.counts = eligible.map(() => capacity.map(() => 0));
  }

  total(i: number): number {
    return this.counts[i].reduce((a, b) => a + b, 0);
  }

  put(i: number, j: number, n: number): void {
    const k = Math.min(n, this.free[j]);
    this.counts[i][j] += k;
    this.free[j] -= k;
  }

  augment(i: number): boolean {
    // Direct placement first: the provider with most room, ties by name (index order).
    let direct = -1;
    for (const j of this.eligible[i]) if (this.free[j] > 0 && (direct < 0 || this.free[j] > this.free[direct])) direct = j;
    if (direct >= 0) {
      this.put(i, direct, 1);
      return true;
    }
    // Breadth-first over full providers: from provider p, a node of request m on p may move to
    // another provider q of m. Stop at the first provider with room.
    const parent = new Map<number, { from: number; request: number } | null>();
    const queue: number[] = [];
    for (const j of this.eligible[i]) {
      parent.set(j, null);
      queue.push(j);
    }
    for (let head = 0; head < queue.length; head++) {
      const p = queue[head];
      for (let m = 0; m < this.counts.length; m++) {
        if (this.counts[m][p] === 0) continue;
        for (const q of this.eligible[m]) {
          if (parent.has(q)) continue;
          parent.set(q, { from: p, request: m });
          if (this.free[q] > 0) {
            this.apply(i, q, parent);
            return true;
          }
          queue.push(q);
        }
      }
    }
    return false;
  }

  private apply(i: number, target: number, parent: Map<number, { from: number; request: number } | null>): void {
    let at = target;
    this.free[target]--;
    for (let step = parent.get(at); step; step = parent.get(at)) {
      this.counts[step.request][step.from]--;
      this.counts[step.request][at]++;
      at = step.from;
    }
    this.counts[i][at]++;
  }
}

// Capacities beyond this are treated as this, keeping n * free exact in float64 arithmetic.
const MAX_CAPACITY = 1e9;

function wholeCapacity(n: number | undefined): number {
  if (n === undefined || Number.isNaN(n)) return 0;
  return Math.max(0, Math.min(MAX_CAPACITY, Math.floor(n)));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
