// Where a ready node is registered so that builds can run on it: a Jenkins master, or any
// Gearman consumer. Every implementation must pass test/contract/target-contract.ts.
import { TargetError } from '../errors.js';
import type { NodeRecord } from '../model.js';
import type { MasterNodeView } from '../target-reconcile.js';

/**
 * A registration that got no answer in time but may still take effect (a Gearman job a manager
 * may yet complete): retryable, and the node must be revoked from whoever took it.
 */
export class RegisterTimeoutError extends TargetError {
  readonly maybeRegistered = true;
  constructor(message: string) {
    super(message, true);
  }
}

/**
 * Why a node leaves the schedulable set: its build started (default for nothing: say it), or it
 * is held. A Gearman manager took the node for one build itself, so only a hold revokes there.
 */
export type OfflineCause = 'build-started' | 'hold';

export interface TargetNode {
  /** Node name in the master: the node's hostname. */
  name: string;
  /** Address the master connects to. */
  host: string;
  port: number;
  description: string;
  labels: string[];
}

export interface ViewOptions {
  /**
   * Events are known to be lost (start-up, a publisher reconnect, a build-number gap): where the
   * cheap answer cannot tell whether a build ran (Jenkins: an idle, online agent), also ask the
   * master's build history, at one more request for such a node.
   */
  history?: boolean;
}

/** An agent as its master lists it. */
export interface TargetAgent {
  name: string;
  description: string;
  labels: string[];
  offline: boolean;
  busy: boolean;
}

export interface Registration {
  /** Gearman: the manager that accepted node_assign (needed for node_revoke). */
  manager?: string;
}

export interface Target {
  readonly name: string;
  /** Registers the node; "already exists" is success. Throws TargetError / TargetAuthError. */
  register(node: TargetNode): Promise<Registration>;
  /** Removes the node; an unknown node is success. */
  unregister(node: Pick<NodeRecord, 'hostname' | 'manager'>): Promise<void>;
  exists(name: string): Promise<boolean>;
  /**
   * Takes the node out of the master's schedulable set (Jenkins: agent temporarily offline;
   * Gearman: node revoked), so that no second build runs on it. Idempotent; an unknown node is
   * success. Optional: a target without it has nothing to schedule.
   */
  takeOffline?(node: Pick<NodeRecord, 'hostname' | 'manager'>, reason: string, cause?: OfflineCause): Promise<void>;
  /**
   * Whether a node registered now could be taken (Gearman: some worker serves node_assign:<target>),
   * from a cheap cached check. Optional: absent means always.
   */
  available?(): boolean;
  /**
   * The master's own view of the node (present, running a build, taken offline), for the
   * reconcile pass that repairs lost build events (target-reconcile.ts). One request. null when
   * the master cannot say (a Gearman manager that serves no node_status). Optional: a target
   * without it is never reconciled.
   */
  view?(node: Pick<NodeRecord, 'hostname' | 'manager'>, opts?: ViewOptions): Promise<MasterNodeView | null>;
  /**
   * Every agent the master has (Jenkins: GET /computer/api/json), for `alien-list --targets`,
   * which lists those no node row knows and never touches them. Optional: a master that cannot
   * list its agents is skipped with a note.
   */
  listAgents?(): Promise<TargetAgent[]>;
  /** Idempotent. */
  close(): Promise<void>;
}
