/**
 * The planner: from the store's nodes, demand and provider limits, which nodes to launch now.
 * Pure and deterministic: the same input gives the same plan; no I/O, no clock (time is `now`).
 *
 * - Supply of a label: its ready and building nodes (in any provider). In-use, used, held and
 *   deleting nodes serve no new build.
 * - Deficit: max(0, demand + min-ready - supply).
 * - Free capacity of a provider: max(0, min(max-servers, cloud limit) - every node we hold
 *   there in any state); deleting and held nodes still occupy a cloud instance.
 * - Cores and RAM: after allocation, launches are kept in priority order while the provider's
 *   cores and RAM quota (minus what every node we hold there uses, by its label's flavor) still
 *   fit them, so a label with a large flavor is not launched on headroom measured for a small one.
 * - Allocation (allocate.ts): round-robin one node at a time over labels with a deficit, in
 *   priority order; each label's nodes split across its providers in proportion to their free
 *   capacity; capacity shared by all labels and never exceeded.
 * - Priority: the label waiting longest first (`starvedSince`, oldest first; a label without one
 *   is behind every label that has one), then the larger deficit, then the name.
 * - `starvedSince` is when a label began waiting with an unmet deficit *without being served*:
 *   set when it first has one, kept while it gets no launch, removed once its deficit is fully
 *   met. A label that gets some launches but not all it needs re-queues just behind every label
 *   that waited through this plan. Were a partly served label to keep its old time, a label with
 *   a large, steadily refilled deficit would win every tie on deficit and a small label could
 *   wait for ever; this way a label that got nothing is always ahead of every label that got
 *   something, so a label whose providers free a slot is served once the labels that waited
 *   longer have been.
 *   The value is `now`, nudged forward by a millisecond or two when needed to stay strictly
 *   after every earlier waiter: plans may run several times in one millisecond (or under a
 *   frozen test clock), and a tie there would let two labels overtake a third for ever.
 */
import type { NodeState } from '../model.js';
import { allocate, type AllocationRequest } from './allocate.js';

export interface PlannerLabel {
  name: string;
  minReady: number;
  providers: string[];
}

export interface PlannerFlavor {
  vcpus: number;
  ramMb: number;
}

export interface PlannerProvider {
  name: string;
  maxServers: number;
  /** Instances the cloud lets us hold in total; null = unknown or unlimited. */
  cloudLimit: number | null;
  /** Cores and RAM the cloud lets us hold in total (quota minus others' use); null or absent = unlimited. */
  coresLimit?: number | null;
  ramLimitMb?: number | null;
  /** The flavor each label boots on this provider; a label without one counts no cores or RAM. */
  flavors?: Readonly<Record<string, PlannerFlavor>>;
}

export interface PlannerNode {
  provider: string;
  label: string;
  state: NodeState;
}

export interface PlannerInput {
  labels: PlannerLabel[];
  providers: PlannerProvider[];
  /** Every node row in the store. */
  nodes: PlannerNode[];
  /** Waiting builds per label (empty or 0 without gearman). */
  demand: Record<string, number>;
  /** Label -> time it has waited unserved since; the previous plan's `starvedSince`. */
  starvedSince: Record<string, number>;
  now: number;
}

export interface PlanLaunch {
  label: string;
  provider: string;
  count: number;
}

export interface Plan {
  /** In priority order of the labels, then provider name; no zero counts. */
  launches: PlanLaunch[];
  /** Deficit of every configured label before these launches. */
  deficits: Record<string, number>;
  /** Free capacity of every configured provider before these launches. */
  capacity: Record<string, number>;
  /** Labels left with an unmet deficit after these launches; feed to the next plan. */
  starvedSince: Record<string, number>;
}

const SUPPLY_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['ready', 'building']);

export function plan(input: PlannerInput): Plan {
  const capacity = freeCapacity(input.providers, input.nodes);
  const deficits = labelDeficits(input.labels, input.nodes, input.demand);

  // Queue position of a label that starts waiting in this plan: after every earlier waiter.
  let latest = -Infinity;
  for (const l of input.labels) latest = Math.max(latest, input.starvedSince[l.name] ?? -Infinity);
  const joinAt = Math.max(input.now, latest + 1);
  const waitingSince = (label: string) => input.starvedSince[label] ?? joinAt;
  const order = input.labels
    .filter((l) => deficits[l.name] > 0)
    .sort(
      (a, b) =>
        waitingSince(a.name) - waitingSince(b.name) ||
        deficits[b.name] - deficits[a.name] ||
        compare(a.name, b.name),
    );
  const requests: AllocationRequest[] = order.map((l) => ({ label: l.name, want: deficits[l.name], providers: l.providers }));
  const launches = fitResources(allocate(requests, capacity), input.providers, input.nodes);

  const launched: Record<string, number> = {};
  for (const l of launches) launched[l.label] = (launched[l.label] ?? 0) + l.count;
  const starvedSince: Record<string, number> = {};
  for (const l of order) {
    const got = launched[l.name] ?? 0;
    if (got >= deficits[l.name]) continue;
    starvedSince[l.name] = got > 0 ? joinAt + 1 : waitingSince(l.name);
  }
  return { launches, deficits, capacity, starvedSince };
}

/**
 * Keeps launches (in their priority order) while the provider's cores and RAM still fit them;
 * a launch cut short is reduced, one that does not fit at all is dropped.
 */
export function fitResources(launches: readonly PlanLaunch[], providers: readonly PlannerProvider[], nodes: readonly PlannerNode[]): PlanLaunch[] {
  const free = new Map<string, { cores: number; ramMb: number; flavors: Readonly<Record<string, PlannerFlavor>> }>();
  for (const p of providers) {
    const flavors = p.flavors ?? {};
    let cores = p.coresLimit ?? Infinity;
    let ramMb = p.ramLimitMb ?? Infinity;
    for (const n of nodes) {
      if (n.provider !== p.name) continue;
      cores -= flavors[n.label]?.vcpus ?? 0;
      ramMb -= flavors[n.label]?.ramMb ?? 0;
    }
    free.set(p.name, { cores, ramMb, flavors });
  }
  const out: PlanLaunch[] = [];
  for (const l of launches) {
    const f = free.get(l.provider);
    const flavor = f?.flavors[l.label];
    if (!f || !flavor) {
      out.push(l);
      continue;
    }
    const fits = (left: number, per: number) => (per > 0 ? Math.max(0, Math.floor(left / per)) : Infinity);
    const count = Math.min(l.count, fits(f.cores, flavor.vcpus), fits(f.ramMb, flavor.ramMb));
    if (count <= 0) continue;
    f.cores -= count * flavor.vcpus;
    f.ramMb -= count * flavor.ramMb;
    out.push({ ...l, count });
  }
  return out;
}

/** Free capacity per configured provider: its limit minus every node we hold there. */
export function freeCapacity(providers: readonly PlannerProvider[], nodes: readonly PlannerNode[]): Record<string, number> {
  const held: Record<string, number> = {};
  for (const n of nodes) held[n.provider] = (held[n.provider] ?? 0) + 1;
  const out: Record<string, number> = {};
  for (const p of providers) {
    const limit = Math.min(p.maxServers, p.cloudLimit ?? Infinity);
    out[p.name] = Math.max(0, limit - (held[p.name] ?? 0));
  }
  return out;
}

/** Deficit per configured label: demand plus min-ready minus ready and building nodes. */
export function labelDeficits(
  labels: readonly PlannerLabel[],
  nodes: readonly PlannerNode[],
  demand: Readonly<Record<string, number>>,
): Record<string, number> {
  const supply: Record<string, number> = {};
  for (const n of nodes) if (SUPPLY_STATES.has(n.state)) supply[n.label] = (supply[n.label] ?? 0) + 1;
  const out: Record<string, number> = {};
  for (const l of labels) {
    const want = count(demand[l.name]) + count(l.minReady);
    out[l.name] = Math.max(0, want - (supply[l.name] ?? 0));
  }
  return out;
}

function count(n: number | undefined): number {
  return n !== undefined && Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
