// The store is the source of truth. Async so that SQLite (embedded) and PostgreSQL (scale-out)
// share one interface; every implementation must pass test/contract/store-contract.ts.
import type {
  AuditRow,
  ImagePatch,
  ImageRecord,
  ImageState,
  LaunchFailure,
  NewImage,
  NewNode,
  NodePatch,
  NodeRecord,
  NodeState,
  ImagePause,
  ImageRequest,
  PendingUnregister,
} from '../model.js';

export interface NodeFilter {
  provider?: string;
  label?: string;
  states?: readonly NodeState[];
}

export interface Store {
  /** Inserts a node in state `building` with a unique hostname derived from its id (model.nodeHostname). */
  createNode(input: NewNode): Promise<NodeRecord>;
  getNode(id: number): Promise<NodeRecord | undefined>;
  getNodeByHostname(hostname: string): Promise<NodeRecord | undefined>;
  listNodes(filter?: NodeFilter): Promise<NodeRecord[]>;
  /** Changes fields that are not the state. Throws NotInStoreError if the row is gone. */
  updateNode(id: number, patch: NodePatch): Promise<NodeRecord>;
  /**
   * Moves a node to `to` if model.ts allows it from its current state, sets state_time,
   * applies `patch` and writes an audit row, all in one transaction. Throws
   * InvalidTransitionError (row untouched) or NotInStoreError.
   * With `from`, the move happens only if the node is still in one of those states (compare-and-set).
   */
  transitionNode(id: number, to: NodeState, opts?: { reason?: string; patch?: NodePatch; from?: readonly NodeState[] }): Promise<NodeRecord>;
  /** Removes the row (its audit rows stay). */
  removeNode(id: number): Promise<void>;

  createImage(input: NewImage): Promise<ImageRecord>;
  getImage(id: number): Promise<ImageRecord | undefined>;
  listImages(filter?: { provider?: string; image?: string; states?: readonly ImageState[] }): Promise<ImageRecord[]>;
  updateImage(id: number, patch: ImagePatch): Promise<ImageRecord>;
  transitionImage(id: number, to: ImageState, opts?: { reason?: string; patch?: ImagePatch }): Promise<ImageRecord>;
  removeImage(id: number): Promise<void>;

  /** Audit rows, oldest first; for one node or image when given. */
  audit(filter?: { kind?: 'node' | 'image'; objectId?: number; limit?: number }): Promise<AuditRow[]>;

  /** A fact about this installation (e.g. `deployment_id`), or undefined. */
  getMeta(key: string): Promise<string | undefined>;
  /** Stores `value` under `key` unless a value is there already; returns the stored value (first writer wins). */
  setMetaIfAbsent(key: string, value: string): Promise<string>;

  /**
   * Records that `hostname` must still be removed from `target` (upsert on target + hostname;
   * a new record is due at once).
   */
  addPendingUnregister(input: { target: string; hostname: string; manager: string | null; nodeId: number }): Promise<PendingUnregister>;
  /** Oldest first; with `dueBy`, only those whose next try is at or before that time. */
  listPendingUnregisters(filter?: { dueBy?: number }): Promise<PendingUnregister[]>;
  /** A try failed: count it, keep the error, and wait until `nextTry`. */
  deferPendingUnregister(id: number, error: string, nextTry: number): Promise<void>;
  /** The target acknowledged the removal. Removing a missing record is a no-op. */
  removePendingUnregister(id: number): Promise<void>;

  /** Keeps a failed launch attempt; only the newest `keep` (default 1000) rows are kept. */
  recordLaunchFailure(input: Omit<LaunchFailure, 'id' | 'time'> & { time?: number }, keep?: number): Promise<LaunchFailure>;
  /** Newest first; filtered by provider and label, limited to `limit` rows and to rows at or after `since`. */
  listLaunchFailures(filter?: { provider?: string; label?: string; since?: number; limit?: number }): Promise<LaunchFailure[]>;

  /** Stops scheduled builds of `image` on every provider (image-pause); upsert. */
  pauseImage(image: string, reason: string | null): Promise<void>;
  /** Resumes them; false if it was not paused. */
  unpauseImage(image: string): Promise<boolean>;
  listImagePauses(): Promise<ImagePause[]>;

  /** An operator asks for a build now (image-update); the daemon takes it. */
  requestImageBuild(provider: string, image: string): Promise<ImageRequest>;
  getImageRequest(id: number): Promise<ImageRequest | undefined>;
  /** Oldest first; `open`: only those no build was started for yet. */
  listImageRequests(filter?: { open?: boolean }): Promise<ImageRequest[]>;
  /** Records the build started for a request. */
  takeImageRequest(id: number, imageId: number): Promise<void>;

  /**
   * A number that changes whenever another connection or process has committed a change
   * (SQLite: PRAGMA data_version). The daemon polls it to notice CLI holds and deletes quickly.
   */
  changeMarker(): Promise<number>;

  /** Idempotent. */
  close(): Promise<void>;

  /** A job rule (0.3's job-create): hold up to `holdOnFailure` nodes of its failed builds. A name already stored is an error. */
  createJob(name: string, holdOnFailure: number): Promise<StoredJob>;
  /** By name. */
  listJobs(): Promise<StoredJob[]>;
  /** False when there is no such rule. */
  deleteJob(id: number): Promise<boolean>;
}

/** A job rule kept in the store; the daemon adds these to the config's `jobs`. */
export interface StoredJob {
  id: number;
  /** A job name or a regular expression, as in the config's jobs. */
  name: string;
  holdOnFailure: number;
  time: number;
}
