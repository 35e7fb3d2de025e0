// What a master's own view of a node says about events we missed. ZeroMQ drops every frame sent
// while we are disconnected, so a periodic pass asks each target about the nodes we believe are
// ready or in use, and this pure rule decides the repair. The daemon applies it.

/** The master's answer for one node. `present: false` means the master has no such agent. */
export interface MasterNodeView {
  present: boolean;
  /** A build is running on it now. */
  busy: boolean;
  /** Takes no builds: taken offline (by us at build start or hold, by the Gearman plugin after a build, by an operator). */
  offline: boolean;
  /**
   * Builds started on it, where the master can tell (a Gearman manager's node_status); absent
   * when it cannot (Jenkins' computer api/json keeps no history).
   */
  builds?: number;
}

export type TargetRepair =
  | { action: 'none' }
  /** Its onStarted was lost: in use now (and a replacement launches). */
  | { action: 'in-use'; why: string }
  /** Its build ended and the onFinalized was lost: used (a ready node via in-use), then deleted. */
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
    if ((view.builds ?? 0) > 0) return { action: 'used', why: 'a build ran and ended on the ready node (onStarted and onFinalized missed)' };
    // We take a node offline only after it left ready: a build that asked to (the Gearman
    // plugin's OFFLINE_NODE_WHEN_COMPLETE) ended unseen, or an operator did. Nothing runs on it again.
    if (view.offline) return { action: 'used', why: 'ready node offline on its master (its build ended unseen, or an operator took it offline)' };
    return { action: 'none' };
  }
  if (state === 'in-use') {
    if (view.busy || stateAgeMs < graceMs) return { action: 'none' };
    if (!view.present) return { action: 'used', why: 'in-use node gone from its master (onFinalized missed)' };
    if (view.offline) return { action: 'used', why: 'in-use node idle and offline after its build (onFinalized missed)' };
    if ((view.builds ?? 0) > 0) return { action: 'used', why: 'in-use node idle after its build ended (onFinalized missed)' };
    return { action: 'none' };
  }
  return { action: 'none' };
}

/**
 * The targets a ZeroMQ publisher speaks for: the Jenkins targets on the publisher's host (the
 * event plugin runs inside the master). Undefined (all targets) when none matches, since a
 * master may be reached by another name than its publisher.
 */
export function publisherTargets(publisherUrl: string, targets: readonly { name: string; jenkins?: { url: string } }[]): string[] | undefined {
  const host = /^tcp:\/\/(.*):\d+$/.exec(publisherUrl)?.[1]?.toLowerCase();
  const names = targets.filter((t) => {
    if (!t.jenkins || host === undefined) return false;
    try {
      return new URL(t.jenkins.url).hostname.toLowerCase() === host;
    } catch {
      return false;
    }
  }).map((t) => t.name);
  return names.length ? names : undefined;
}
