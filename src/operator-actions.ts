// What an operator's hold and delete do to a node, whether they come from the CLI (another
// process, on the store directly) or from the daemon's HTTP API. One place, so both agree.
import { NodepoolError } from './errors.js';
import { NODE_STATES, canTransition, type NodeRecord } from './model.js';
import type { Store } from './store/store.js';

export const HOLDABLE = NODE_STATES.filter((s) => canTransition(s, 'hold'));

/** The node is not in the store, or is in a state the action cannot start from. */
export class OperatorActionError extends NodepoolError {
  override readonly code = 'operator-action';
  constructor(
    message: string,
    readonly reason: 'not-found' | 'wrong-state',
  ) {
    super(message);
  }
}

async function existing(store: Store, id: number): Promise<NodeRecord> {
  const node = await store.getNode(id);
  if (!node) throw new OperatorActionError(`node ${id} not found`, 'not-found');
  return node;
}

/**
 * Holds a node (not used, not deleted) until `expireMs` from `now` or until deleted. Holding a
 * held node again changes its reason and expiry (e.g. to extend it). Compare-and-set: if the
 * daemon moved the node meanwhile, the hold fails rather than hold the wrong thing.
 */
export async function holdNode(store: Store, id: number, opts: { reason?: string; expireMs?: number | null; now: number }): Promise<NodeRecord> {
  const node = await existing(store, id);
  const holdExpires = opts.expireMs == null ? null : opts.now + opts.expireMs;
  const holdReason = opts.reason ?? 'held by operator';
  const until = holdExpires === null ? '' : ` until ${new Date(holdExpires).toISOString()}`;
  const patch = { holdReason, holdExpires, comment: `${holdReason}${until}` };
  if (node.state === 'hold') return store.updateNode(id, patch);
  if (!HOLDABLE.includes(node.state)) throw new OperatorActionError(`node ${id} is ${node.state}; only ${HOLDABLE.join(', ')} nodes can be held`, 'wrong-state');
  return store.transitionNode(id, 'hold', { from: [node.state], reason: `operator: ${holdReason}`, patch });
}

/** Marks a node for deletion (the daemon's deleter takes it); a node already deleting is left as it is. */
export async function markForDeletion(store: Store, id: number): Promise<NodeRecord> {
  const node = await existing(store, id);
  if (node.state === 'deleting') return node;
  return store.transitionNode(id, 'deleting', { from: [node.state], reason: 'operator delete', patch: { comment: 'deleted by operator' } });
}
