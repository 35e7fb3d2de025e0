// Pure decisions that match the store's rows against what a cloud lists. Used at start-up
// (crash recovery) and by every cleanup pass. No I/O here: the daemon applies the actions.
import { META_DEPLOYMENT, META_IMAGE_ID, META_NODE_ID, META_OWNER, META_PROVIDER, OWNER, type NodeRecord, type NodeState } from './model.js';
import type { CloudServer } from '../providers/provider.js';
import type { Config } from './config.js';

export interface ReconcileInput {
  provider: string;
  /** This installation's deployment id: only servers carrying it are ours (see model.META_DEPLOYMENT). */
  deploymentId: string;
  /** Every row of this provider. */
  nodes: readonly NodeRecord[];
  /** Rows a launch or delete task is working on: they own their servers and are not judged. */
  busy?: ReadonlySet<number>;
  servers: readonly CloudServer[];
  /** Ids of servers judged leaked on the previous pass. */
  suspects: ReadonlySet<string>;
  /** Ids of nodes whose server the previous complete list did not show (and no GET found since). */
  missing: ReadonlySet<number>;
  /** At start-up no launch is in flight, so a building row without a server never got one. */
  startup: boolean;
}

export interface ReconcileActions {
  /** Building rows that lost the create call's answer: the server exists, record its id and resume. */
  adopt: { nodeId: number; serverId: string }[];
  /** Building rows whose server never got created: drop them, the planner launches anew. */
  dropRows: number[];
  /** Rows whose server two consecutive complete lists missed: go to deleting. */
  lost: number[];
  /**
   * Rows whose server this list missed for the first time: remember them for the next pass, and
   * confirm with one GET (404: lost at once; found: forget the miss). One list alone never loses a node.
   */
  missing: Set<number>;
  /** Ours by metadata, no live row, seen on two consecutive passes: delete. */
  leaked: CloudServer[];
  /** Seen for the first time without a row: delete if still so next pass. */
  suspects: Set<string>;
}

/** Created by this installation (product marker and deployment id) for this provider. */
export function isOurs(server: CloudServer, deploymentId: string, provider: string): boolean {
  const m = server.metadata;
  return m[META_OWNER] === OWNER && m[META_DEPLOYMENT] === deploymentId && m[META_PROVIDER] === provider;
}

export function reconcile(input: ReconcileInput): ReconcileActions {
  const actions: ReconcileActions = { adopt: [], dropRows: [], lost: [], missing: new Set(), leaked: [], suspects: new Set() };
  const byId = new Map(input.servers.map((s) => [s.id, s]));
  const rowsById = new Map(input.nodes.map((n) => [n.id, n]));
  // Template servers of image bakes (they carry an image id, no node id) belong to the builder.
  const ours = input.servers.filter((s) => isOurs(s, input.deploymentId, input.provider) && s.status !== 'deleting' && s.metadata[META_IMAGE_ID] === undefined);

  const busy = input.busy ?? new Set<number>();
  for (const node of input.nodes) {
    if (node.state === 'deleting' || busy.has(node.id)) continue;
    if (node.serverId) {
      if (byId.has(node.serverId)) continue;
      if (input.missing.has(node.id)) actions.lost.push(node.id);
      else actions.missing.add(node.id);
      continue;
    }
    if (node.state !== 'building' || !input.startup) continue;
    const found = ours.find((s) => s.metadata[META_NODE_ID] === String(node.id));
    if (found) actions.adopt.push({ nodeId: node.id, serverId: found.id });
    else actions.dropRows.push(node.id);
  }

  const adopted = new Set(actions.adopt.map((a) => a.serverId));
  for (const server of ours) {
    if (adopted.has(server.id)) continue;
    const row = rowsById.get(Number(server.metadata[META_NODE_ID]));
    // Owned: its row lives and points at it, has not recorded a server yet (create in flight),
    // or a task is working on it (a launch discarding a failed attempt, a delete).
    if (row && (row.serverId === server.id || busy.has(row.id) || (row.serverId === null && !input.startup))) continue;
    if (input.suspects.has(server.id)) actions.leaked.push(server);
    else actions.suspects.add(server.id);
  }
  return actions;
}

/** Nodes to delete because a hold expired or they sat in a state longer than max-age allows. */
export function expiredNodes(nodes: readonly NodeRecord[], now: number, maxAge: Config['max-age']): { node: NodeRecord; why: string }[] {
  const out: { node: NodeRecord; why: string }[] = [];
  const limits: Partial<Record<NodeState, number>> = { ready: maxAge.ready, 'in-use': maxAge['in-use'], used: maxAge.used, hold: maxAge.hold };
  for (const node of nodes) {
    if (node.state === 'hold' && node.holdExpires !== null && node.holdExpires <= now) {
      out.push({ node, why: 'hold expired' });
      continue;
    }
    const limit = limits[node.state];
    if (limit !== undefined && now - node.stateTime > limit) out.push({ node, why: `in state ${node.state} longer than max-age` });
  }
  return out;
}
