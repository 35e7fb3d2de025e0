// Surplus ready nodes: after a burst of builds, or a gearmand restart that lost its queue, more
// nodes may be ready than min-ready plus demand asks for. They are kept for `surplus-grace` (the
// next builds often come soon) and then deleted, oldest first, instead of waiting for
// `max-age.ready`. Pure: the daemon applies the answer.

export interface SurplusNode {
  id: number;
  label: string;
  state: string;
  /** When the node entered its state (ready since). */
  stateTime: number;
}

export interface SurplusInput {
  labels: readonly { name: string; minReady: number }[];
  nodes: readonly SurplusNode[];
  /** Waiting builds per label. */
  demand: Readonly<Record<string, number>>;
  /** Label -> since when it has had a surplus; the previous answer's `surplusSince`. */
  surplusSince: Readonly<Record<string, number>>;
  graceMs: number;
  now: number;
}

export interface SurplusResult {
  /** Node ids to delete, oldest ready first within each label. */
  remove: number[];
  surplusSince: Record<string, number>;
}

export function surplusNodes(input: SurplusInput): SurplusResult {
  const remove: number[] = [];
  const surplusSince: Record<string, number> = {};
  for (const label of input.labels) {
    const ready = input.nodes.filter((n) => n.label === label.name && n.state === 'ready').sort((a, b) => a.stateTime - b.stateTime || a.id - b.id);
    const wanted = Math.max(0, label.minReady) + Math.max(0, input.demand[label.name] ?? 0);
    const extra = ready.length - wanted;
    if (extra <= 0) continue;
    const since = input.surplusSince[label.name] ?? input.now;
    if (input.now - since < input.graceMs) {
      surplusSince[label.name] = since;
      continue;
    }
    remove.push(...ready.slice(0, extra).map((n) => n.id));
  }
  return { remove, surplusSince };
}
