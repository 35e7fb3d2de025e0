// Node and image records, their states and the transitions allowed between them.
// Pure: no I/O. The store enforces these rules on every write.
import { InvalidTransitionError } from './errors.js';

export const NODE_STATES = ['building', 'ready', 'in-use', 'used', 'hold', 'deleting'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export const IMAGE_STATES = ['building', 'ready', 'failed', 'deleting'] as const;
export type ImageState = (typeof IMAGE_STATES)[number];

/**
 * building -> ready -> in-use -> used -> deleting -> (row removed).
 * A failed launch goes straight to deleting; an operator may hold a ready, in-use or used node;
 * a held node leaves hold only to be deleted.
 */
const NODE_TRANSITIONS: Record<NodeState, readonly NodeState[]> = {
  building: ['ready', 'deleting'],
  ready: ['in-use', 'hold', 'deleting'],
  'in-use': ['used', 'hold', 'deleting'],
  used: ['hold', 'deleting'],
  hold: ['deleting'],
  deleting: [],
};

/** building -> ready (current, then previous) -> deleting; a bake that fails goes to failed (kept to show why) and later deleting. */
const IMAGE_TRANSITIONS: Record<ImageState, readonly ImageState[]> = {
  building: ['ready', 'failed', 'deleting'],
  ready: ['deleting'],
  failed: ['deleting'],
  deleting: [],
};

export function canTransition(from: NodeState, to: NodeState): boolean {
  return NODE_TRANSITIONS[from].includes(to);
}

export function assertTransition(kind: 'node' | 'image', id: number, from: string, to: string): void {
  const table: Record<string, readonly string[]> = kind === 'node' ? NODE_TRANSITIONS : IMAGE_TRANSITIONS;
  if (!(table[from] ?? []).includes(to)) throw new InvalidTransitionError(kind, id, from, to);
}

export function canTransitionImage(from: ImageState, to: ImageState): boolean {
  return IMAGE_TRANSITIONS[from].includes(to);
}

/** A node as the store keeps it. Times are milliseconds since the epoch. */
export interface NodeRecord {
  id: number;
  provider: string;
  label: string;
  /** Config image name (not the cloud's id). */
  image: string;
  target: string;
  /** Unique; also the server name in the cloud and the node name in the target (Jenkins, Gearman). */
  hostname: string;
  serverId: string | null;
  ip: string | null;
  az: string | null;
  state: NodeState;
  stateTime: number;
  holdReason: string | null;
  holdExpires: number | null;
  /** Free text shown by `nodepool list` (why it was held, why a launch failed, ...). */
  comment: string | null;
  /** Gearman target: the manager that answered node_assign, needed for node_revoke. */
  manager: string | null;
  launchAttempts: number;
  created: number;
  /** The cloud image the server booted and our image version (null version: the base-image, no bake). */
  imageId: string | null;
  imageVersion: string | null;
}

/** Fields a caller may change without a state transition. */
export type NodePatch = Partial<
  Pick<NodeRecord, 'serverId' | 'ip' | 'az' | 'holdReason' | 'holdExpires' | 'comment' | 'manager' | 'launchAttempts' | 'hostname' | 'imageId' | 'imageVersion'>
>;

export interface NewNode {
  provider: string;
  label: string;
  image: string;
  target: string;
}

export interface ImageRecord {
  id: number;
  provider: string;
  /** Config image name. */
  image: string;
  /** Monotonic per (provider, image): a timestamp-like version string. */
  version: string;
  externalId: string | null;
  state: ImageState;
  stateTime: number;
  created: number;
  /** The template server's name and id while (and after) it is baked. */
  hostname: string | null;
  serverId: string | null;
  /** Why a bake failed or an image was deleted; null otherwise. */
  reason: string | null;
  /** The bake step it is at or ended in (bake.ts: boot, active, ssh, upload, setup, snapshot, ...). */
  step: string | null;
}

export type ImagePatch = Partial<Pick<ImageRecord, 'externalId' | 'hostname' | 'serverId' | 'reason' | 'step'>>;

/** An operator's `image-update`: a build the daemon's builder starts as soon as it can. */
export interface ImageRequest {
  id: number;
  provider: string;
  image: string;
  time: number;
  /** The build started for it; null while waiting. */
  imageId: number | null;
}

/** An image name whose scheduled builds an operator paused (`image-pause`). */
export interface ImagePause {
  image: string;
  reason: string | null;
  time: number;
}

export interface NewImage {
  provider: string;
  image: string;
  version: string;
}

export interface AuditRow {
  id: number;
  kind: 'node' | 'image';
  objectId: number;
  fromState: string | null;
  toState: string;
  reason: string | null;
  time: number;
}

/**
 * The server name and target node name, lowercase and DNS-safe: `<label>-<provider>-<deployment>-<id>`,
 * or `<label>-<provider>-<id>` when the store knows no deployment id yet. Ids restart at 1 in every
 * database, so the deployment id keeps names unique across installations sharing a cloud project or
 * a master. The name is computed once, when the row is created: existing rows (and their Jenkins node
 * names) keep theirs.
 */
export function nodeHostname(label: string, provider: string, id: number, deploymentId?: string): string {
  return [label, provider, deploymentId, id].filter((part) => part !== undefined).join('-').toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

/**
 * Metadata every server we create carries; cleanup recognises our servers by it. `nodepool_owner`
 * is the product marker (any nodepool-ts), `nodepool_deployment` the installation: a server is ours
 * only when both match, so several installations can share one cloud project. Node ids restart at
 * 1 in every database, so the node id alone never identifies a server. Servers created before
 * deployment ids existed carry only the marker: never adopted or deleted as leaks, listed by
 * alien-list (a row that recorded such a server's id still owns it).
 */
export const META_OWNER = 'nodepool_owner';
export const META_DEPLOYMENT = 'nodepool_deployment';
export const META_NODE_ID = 'nodepool_node_id';
export const META_IMAGE_ID = 'nodepool_image_id';
export const META_PROVIDER = 'nodepool_provider';
/** The value of META_OWNER on every server and image nodepool-ts creates. */
export const OWNER = 'nodepool-ts';

/** The identity metadata of a node's server (image metadata from the config goes underneath). */
/** Metadata of a bake's template server and of the snapshot made from it. */
export function imageMetadata(deploymentId: string, image: Pick<ImageRecord, 'id' | 'provider' | 'image'>): Record<string, string> {
  return { [META_OWNER]: OWNER, [META_DEPLOYMENT]: deploymentId, [META_IMAGE_ID]: String(image.id), [META_PROVIDER]: image.provider, nodepool_image_name: image.image };
}

export function serverMetadata(deploymentId: string, node: Pick<NodeRecord, 'id' | 'provider'>): Record<string, string> {
  return { [META_OWNER]: OWNER, [META_DEPLOYMENT]: deploymentId, [META_NODE_ID]: String(node.id), [META_PROVIDER]: node.provider };
}

/** A target removal the target has not acknowledged yet (see Store.addPendingUnregister). */
export interface PendingUnregister {
  id: number;
  target: string;
  hostname: string;
  /** Gearman: the manager the revoke goes to. */
  manager: string | null;
  nodeId: number;
  attempts: number;
  lastError: string | null;
  /** Milliseconds since the epoch before which it is not retried. */
  nextTry: number;
  created: number;
}

/** One failed launch attempt, kept after the node row is gone. */
export interface LaunchFailure {
  id: number;
  provider: string;
  label: string;
  nodeId: number | null;
  hostname: string | null;
  /** The error code (src/errors.ts), also the `reason` label in metrics. */
  code: string;
  message: string;
  time: number;
}
