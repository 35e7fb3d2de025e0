// The Provider interface: what every cloud driver implements. Drivers are thin; policy
// (timeouts, retries, quota, leaks) lives once in the launcher, deleter and cleanup.
// Every driver must pass test/contract/provider-contract.ts.

import type { ServerAddress } from './address.js';
export type { ServerAddress } from './address.js';

/** Which networks a server joins: the cloud's choice, none at all, or these (by id or name). */
export type NetworkChoice = 'auto' | 'none' | { id?: string; name?: string }[];

/**
 * Storage an image is made of that the cloud keeps as a resource of its own and that can outlive
 * the image (EC2: the EBS snapshots behind an AMI; Nova's snapshots are the images themselves).
 */
export interface ImageArtifact {
  id: string;
  /** What it is, for logs and the leak metric (`snapshot`). */
  kind: string;
  /** Its tags or properties: our image metadata when a bake made it. */
  metadata: Record<string, string>;
  /** Images that still use it (an AMI's block device mappings): while any does, it is not a leftover. */
  usedBy: string[];
  created: number;
}

/** Normalised server status: drivers map their cloud's own words onto these. */
export type ServerStatus = 'building' | 'active' | 'error' | 'deleting' | 'other';

export interface CloudServer {
  id: string;
  name: string;
  status: ServerStatus;
  /** The cloud's own status word (Nova: BUILD, ACTIVE, ERROR, ...), for logs. */
  rawStatus: string;
  /**
   * The address SSH and the target use, chosen from `addresses` by the provider's address policy
   * (providers/address.ts: public before private, IPv4 before IPv6 unless ipv6-preferred). Null: none.
   */
  ip: string | null;
  /** Every address the cloud reports for the server (absent: the driver reports only `ip`). */
  addresses?: ServerAddress[];
  az: string | null;
  metadata: Record<string, string>;
  /** The cloud's reason for an ERROR status, if it gave one. */
  fault: string | null;
  /** The fault's code when the cloud gives one (Nova: 413 for a quota found by the conductor, 500 ...). */
  faultCode?: number | null;
  /** Milliseconds since the epoch. */
  created: number;
}

export interface CloudImage {
  id: string;
  name: string;
  status: 'building' | 'active' | 'error' | 'deleting' | 'other';
  metadata: Record<string, string>;
  created: number;
}

export interface Flavor {
  id: string;
  name: string;
  ramMb: number;
  vcpus: number;
}

/** Absolute limits and usage. A null maximum means unlimited. */
export interface Quota {
  maxInstances: number | null;
  maxCores: number | null;
  maxRamMb: number | null;
  usedInstances: number;
  usedCores: number;
  usedRamMb: number;
}

export interface CreateServerRequest {
  name: string;
  /** Cloud image id (resolve a name first with findImage). */
  imageId: string;
  flavorId: string;
  metadata: Record<string, string>;
  az?: string;
  keyName?: string;
  /** `auto` (the cloud picks), `none` (no network), or network ids or names. Default: the provider's config. */
  networks?: NetworkChoice;
  configDrive?: boolean;
  /**
   * Idempotency token, the same for every retry of one create (ManagedProvider sets it). A cloud
   * that supports one (EC2's ClientToken) makes at most one server per token, so a retried create
   * whose first answer was lost cannot make a second server. Clouds without one ignore it.
   */
  clientToken?: string;
}

/** One of the cloud's own API token buckets, as its driver knows them. */
export interface RateBucket {
  name: string;
  /** Tokens the bucket holds when full. */
  burst: number;
  refillPerSecond: number;
}

/**
 * The buckets a cloud meters us by (EC2 publishes several: reads, mutations, RunInstances, and
 * a resource bucket per instance). A driver that declares them is paced by them instead of the
 * provider's single `rate` bucket.
 */
export interface DriverRateLimits {
  buckets: readonly RateBucket[];
  /** Tokens one call of a driver method (`createServer`, `listServers`, ...) takes from each bucket, by name. */
  cost(op: string): Readonly<Record<string, number>>;
}

/**
 * A cloud driver. Methods are single API operations (with pagination where the API has it);
 * they throw the typed errors of src/errors.ts (NotFoundError, QuotaExceededError, CapacityError,
 * RateLimitedError, ConflictError, CloudServerError, CloudNetworkError, BadRequestError,
 * AuthError). Rate limiting and retries are added around a driver by ManagedProvider.
 */
export interface ProviderDriver {
  readonly name: string;
  /** The cloud's API buckets; absent: one bucket from the provider's `rate` and `rate-burst`. */
  readonly rateLimits?: DriverRateLimits;
  createServer(req: CreateServerRequest): Promise<CloudServer>;
  /** Every server in the project/account, all pages. */
  listServers(): Promise<CloudServer[]>;
  getServer(id: string): Promise<CloudServer>;
  /** NotFoundError if it is already gone. */
  deleteServer(id: string): Promise<void>;
  listFlavors(): Promise<Flavor[]>;
  getQuota(): Promise<Quota>;
  listImages(): Promise<CloudImage[]>;
  /**
   * Snapshots a server into a new image carrying `metadata`; returns its id at once (the image
   * becomes active later: watch listImages). ConflictError if the server cannot be snapshotted now.
   */
  createImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string>;
  /** NotFoundError if it is already gone. */
  deleteImage(id: string): Promise<void>;
  /**
   * Optional, for clouds whose images leave storage of their own behind (EC2's snapshots): every
   * such artifact carrying our owner tag, with the images using it. Leak cleanup deletes one of
   * ours that no image uses and no image row owns, seen on two passes (image-reconcile.ts).
   * Drivers without it (OpenStack) have nothing an image can leave behind.
   */
  listImageArtifacts?(): Promise<ImageArtifact[]>;
  /** With listImageArtifacts: deletes one. NotFoundError if it is already gone. */
  deleteImageArtifact?(id: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  /**
   * Optional, for `nodepool provider-check`: authenticates and reads the service catalog,
   * answering what it found (e.g. "token for project X", "compute https://...").
   */
  connect?(): Promise<{ auth: string; catalog: string }>;
}

/** The smallest flavor with RAM >= minRam whose name contains nameFilter (ties: fewer vcpus, then name). */
export function chooseFlavor(flavors: readonly Flavor[], minRamMb: number, nameFilter?: string): Flavor | undefined {
  return flavors
    .filter((f) => f.ramMb >= minRamMb && (!nameFilter || f.name.includes(nameFilter)))
    .sort((a, b) => a.ramMb - b.ramMb || a.vcpus - b.vcpus || a.name.localeCompare(b.name))[0];
}
