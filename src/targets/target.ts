// Where a ready node is registered so that builds can run on it: a Jenkins master, or any
// Gearman consumer. Every implementation must pass test/contract/target-contract.ts.
import type { NodeRecord } from '../model.js';

export interface TargetNode {
  /** Node name in the master: the node's hostname. */
  name: string;
  /** Address the master connects to. */
  host: string;
  port: number;
  description: string;
  labels: string[];
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
  /** Idempotent. */
  close(): Promise<void>;
}
