// What a master's own view of a node says about events we missed. ZeroMQ drops every frame sent
// while we are disconnected, so a periodic pass asks each target about the nodes we believe are
// ready or in use, and this pure rule decides the repair. The daemon applies it.

/** The master's answer for one node. `present: false` means the master has no such agent. */
export interface MasterNodeView {
  present: boolean;
  /** A build is running on it now. */
  busy: boolean;
  /** Taken offline (by us, at build start or hold). */
  offline: boolean;
}

export type TargetRepair =
  | { action: 'none' }
  /** Its onStarted was lost: in use now (and a replacement launches). */
  | { action: 'in-use'; why: string }
  /** Its build ended and the onFinalized was lost: used, then deleted. */
  | { action: 'used'; why: string }
  /** The master lost it while it was ready: delete it (the planner replaces it). */
  | { action: 'delete'; why: string };

export interface TargetRepairInput {
  state: string;
  view: MasterNodeView;
  /** How long the node has been in its state. */
  stateAgeMs: number;
  /**
   * A node in use for less than this is not judged idle: the event and the master's executor
   * view race each other around a build's start.
   */
  graceMs: number;
}

export function decideTargetRepair({ state, view, stateAgeMs, graceMs }: TargetRepairInput): TargetRepair {
  if (state === 'ready') {
    if (!view.present) return { action: 'delete', why: 'ready node missing from its master' };
    if (view.busy) return { action: 'in-use', why: 'master runs a build on it (onStarted missed)' };
    return { action: 'none' };
  }
  if (state === 'in-use') {
    if (view.busy || stateAgeMs < graceMs) return { action: 'none' };
    if (!view.present) return { action: 'used', why: 'in-use node gone from its master (onFinalized missed)' };
    if (view.offline) return { action: 'used', why: 'in-use node idle and offline after its build (onFinalized missed)' };
    return { action: 'none' };
  }
  return { action: 'none' };
}
