// The records `nodepool label-list|provider-list --json` print and the daemon's JSON API serves:
// one code path for both. Pure: config, store rows and (from a running daemon) live figures in,
// plain JSON-ready objects out. The CLI passes no live figures (the daemon may be down), so
// demand, quota and launches in flight are null there; the daemon passes its poolView().
import type { Config } from './config.js';
import { NODE_STATES, type ImageRecord, type NodeRecord, type NodeState } from './model.js';
import { freeCapacity, labelDeficits } from './pool/planner.js';

/** What only a running daemon knows. Every field null or absent = unknown. */
export interface LiveFigures {
  /** Waiting builds per label from Gearman; null when no demand source is configured. */
  demand: Record<string, number> | null;
  providers: Record<string, LiveProvider>;
}

export interface LiveProvider {
  /** The cloud's quota minus what others use there (quota-estimate.ts); null = unknown or unlimited. */
  limits: QuotaView;
  /** Launch tasks holding a launch slot, and those waiting for one. */
  launching: number;
  queued: number;
  /** The daemon has reconciled this cloud since start. */
  reconciled: boolean;
  /** The cloud answered its last reconcile pass (cloud-health.ts); null before the first. */
  cloudUp?: boolean | null;
}

export interface QuotaView {
  instances: number | null;
  cores: number | null;
  ramMb: number | null;
}

export type StateCounts = Record<NodeState, number>;

export interface LabelView {
  name: string;
  minReady: number;
  ready: number;
  building: number;
  inUse: number;
  used: number;
  hold: number;
  deleting: number;
  /** Waiting builds; null when unknown (CLI, or no Gearman configured). */
  demand: number | null;
  /** max(0, demand + min-ready - ready - building), as the planner computes it (unknown demand counts 0). */
  deficit: number;
  providers: string[];
}

export interface ProviderView {
  name: string;
  maxServers: number;
  /** Seconds between API calls (the provider's `rate`). */
  rate: number;
  /** Live quota estimate; null when unknown (CLI). */
  quota: QuotaView | null;
  /** Every node we hold there, by state, and their total. */
  nodes: StateCounts;
  held: number;
  /** Instances the planner may still start there: min(max-servers, quota instances) - held. */
  capacity: number;
  /** Launches in flight; null when unknown (CLI). */
  launching: number | null;
  reconciled: boolean | null;
  /** "ok", "unreachable" (its last reconcile pass failed) or "not reconciled"; null when unknown (CLI). */
  health: 'ok' | 'unreachable' | 'not reconciled' | null;
}

export interface StatusView {
  deploymentId: string | null;
  versions: { nodepool: string; node: string };
  nodes: { total: number } & StateCounts;
  images: { total: number; ready: number; building: number; failed: number; deleting: number };
  labels: number;
  providers: number;
  /** Whether live figures came with the view (the daemon serves it). */
  live: boolean;
  /** Every provider reconciled; null when unknown (CLI). */
  ready: boolean | null;
}

export function stateCounts(nodes: readonly Pick<NodeRecord, 'state'>[]): StateCounts {
  const out = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as StateCounts;
  for (const n of nodes) out[n.state]++;
  return out;
}

/** One record per configured label, in config order. */
export function labelView(cfg: Config, nodes: readonly NodeRecord[], live: LiveFigures | null = null): LabelView[] {
  const demand = live?.demand ?? null;
  const deficits = labelDeficits(
    cfg.labels.map((l) => ({ name: l.name, minReady: l['min-ready'], providers: [] })),
    nodes,
    demand ?? {},
  );
  return cfg.labels.map((l) => {
    const c = stateCounts(nodes.filter((n) => n.label === l.name));
    return {
      name: l.name,
      minReady: l['min-ready'],
      ready: c.ready,
      building: c.building,
      inUse: c['in-use'],
      used: c.used,
      hold: c.hold,
      deleting: c.deleting,
      demand: demand === null ? null : (demand[l.name] ?? 0),
      deficit: deficits[l.name],
      providers: l.providers.map((p) => p.name),
    };
  });
}

/** One record per configured provider, in config order. */
export function providerView(cfg: Config, nodes: readonly NodeRecord[], live: LiveFigures | null = null): ProviderView[] {
  const capacity = freeCapacity(
    cfg.providers.map((p) => ({ name: p.name, maxServers: p['max-servers'], cloudLimit: live?.providers[p.name]?.limits.instances ?? null })),
    nodes,
  );
  return cfg.providers.map((p) => {
    const lp = live?.providers[p.name];
    const c = stateCounts(nodes.filter((n) => n.provider === p.name));
    return {
      name: p.name,
      maxServers: p['max-servers'],
      rate: p.rate,
      quota: lp ? { ...lp.limits } : null,
      nodes: c,
      held: Object.values(c).reduce((a, b) => a + b, 0),
      capacity: capacity[p.name],
      launching: lp ? lp.launching : null,
      reconciled: lp ? lp.reconciled : null,
      health: !lp ? null : lp.cloudUp === false ? 'unreachable' : lp.reconciled ? 'ok' : 'not reconciled',
    };
  });
}

export function statusView(input: {
  cfg: Config;
  nodes: readonly NodeRecord[];
  images: readonly ImageRecord[];
  deploymentId: string | null;
  version: string;
  nodeVersion: string;
  live?: LiveFigures | null;
}): StatusView {
  const live = input.live ?? null;
  const img = { total: input.images.length, ready: 0, building: 0, failed: 0, deleting: 0 };
  for (const i of input.images) img[i.state]++;
  return {
    deploymentId: input.deploymentId,
    versions: { nodepool: input.version, node: input.nodeVersion },
    nodes: { total: input.nodes.length, ...stateCounts(input.nodes) },
    images: img,
    labels: input.cfg.labels.length,
    providers: input.cfg.providers.length,
    live: live !== null,
    ready: live === null ? null : input.cfg.providers.every((p) => live.providers[p.name]?.reconciled === true),
  };
}

/** Per provider and image: the current image's age and how the last bake ended. */
export interface ImageBuildView {
  provider: string;
  image: string;
  /** The newest ready image, if any: its version and age (since it was created) in seconds. */
  current: { version: string; ageSeconds: number } | null;
  /** The newest bake that ended (ready or failed, by state_time); null before the first. */
  lastBuild: { version: string; result: 'ready' | 'failed'; time: number; reason: string | null } | null;
  /** A bake is running now. */
  building: boolean;
}

/**
 * One record per (provider, image) present in the images table, sorted by provider then image.
 * Rows being deleted count for neither the current image nor the last bake.
 */
export function imageBuildView(images: readonly ImageRecord[], now: number): ImageBuildView[] {
  const groups = new Map<string, ImageRecord[]>();
  for (const i of images) {
    const key = `${i.provider}\u0000${i.image}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  const out: ImageBuildView[] = [];
  for (const rows of groups.values()) {
    const newest = (xs: ImageRecord[], by: (r: ImageRecord) => number) => xs.reduce<ImageRecord | null>((a, r) => (a === null || by(r) > by(a) || (by(r) === by(a) && r.id > a.id) ? r : a), null);
    const current = newest(rows.filter((r) => r.state === 'ready'), (r) => r.created);
    const last = newest(rows.filter((r) => r.state === 'ready' || r.state === 'failed'), (r) => r.stateTime);
    out.push({
      provider: rows[0].provider,
      image: rows[0].image,
      current: current && { version: current.version, ageSeconds: Math.max(0, (now - current.created) / 1000) },
      lastBuild: last && { version: last.version, result: last.state as 'ready' | 'failed', time: last.stateTime, reason: last.reason },
      building: rows.some((r) => r.state === 'building'),
    });
  }
  return out.sort((a, b) => a.provider.localeCompare(b.provider) || a.image.localeCompare(b.image));
}

/** Nodes per (provider, label, state), only the combinations that exist: the Prometheus gauge's series. */
export function nodeCounts(nodes: readonly Pick<NodeRecord, 'provider' | 'label' | 'state'>[]): { provider: string; label: string; state: NodeState; count: number }[] {
  const counts = new Map<string, { provider: string; label: string; state: NodeState; count: number }>();
  for (const n of nodes) {
    const key = `${n.provider}\u0000${n.label}\u0000${n.state}`;
    const c = counts.get(key) ?? { provider: n.provider, label: n.label, state: n.state, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  return [...counts.values()];
}

/** Everything the metrics, statsd gauges, status page and history read at one instant, from one store read. */
export interface PoolSnapshot {
  time: number;
  labels: LabelView[];
  providers: ProviderView[];
  images: ImageBuildView[];
  nodes: ReturnType<typeof nodeCounts>;
  /** Nodes by target and state, for every configured target (statsd nodepool.target.T.nodes.STATE). */
  targets: Record<string, StateCounts>;
}

export function poolSnapshot(cfg: Config, nodes: readonly NodeRecord[], images: readonly ImageRecord[], live: LiveFigures | null, now: number): PoolSnapshot {
  const targets: Record<string, StateCounts> = {};
  for (const t of cfg.targets) targets[t.name] = stateCounts(nodes.filter((n) => n.target === t.name));
  return { time: now, labels: labelView(cfg, nodes, live), providers: providerView(cfg, nodes, live), images: imageBuildView(images, now), nodes: nodeCounts(nodes), targets };
}
