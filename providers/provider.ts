// The Provider interface: what every cloud driver implements. Drivers are thin; policy
// (timeouts, retries, quota, leaks) lives once in the launcher, deleter and cleanup.
// Every driver must pass test/contract/provider-contract.ts.

/** Normalised server status: drivers map their cloud's own words onto these. */
export type ServerStatus = 'building' | 'active' | 'error' | 'deleting' | 'other';

export interface CloudServer {
  id: string;
  name: string;
  status: ServerStatus;
  /** The cloud's own status word (Nova: BUILD, ACTIVE, ERROR, ...), for logs. */
  rawStatus: string;
  /** Address SSH and the target use: the first public (else private) IPv4. */
  ip: string | null;
  az: string | null;
  metadata: Record<string, string>;
  /** The cloud's reason for an ERROR status, if it gave one. */
  fault: string | null;
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
  /** Network ids or names as the cloud accepts them. */
  networks?: { id?: string; name?: string }[];
  configDrive?: boolean;
}

/**
 * A cloud driver. Methods are single API operations (with pagination where the API has it);
 * they throw the typed errors of src/errors.ts (NotFoundError, QuotaExceededError,
 * RateLimitedError, ConflictError, CloudServerError, CloudNetworkError, BadRequestError,
 * AuthError). Rate limiting and retries are added around a driver by ManagedProvider.
 */
export interface ProviderDriver {
  readonly name: string;
  createServer(req: CreateServerRequest): Promise<CloudServer>;
  /** Every server in the project/account, all pages. */
  listServers(): Promise<CloudServer[]>;
  getServer(id: string): Promise<CloudServer>;
  /** NotFoundError if it is already gone. */
  deleteServer(id: string): Promise<void>;
  listFlavors(): Promise<Flavor[]>;
  getQuota(): Promise<Quota>;
  listImages(): Promise<CloudImage[]>;
  /** NotFoundError if it is already gone. */
  deleteImage(id: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** The smallest flavor with RAM >= minRam whose name contains nameFilter (ties: fewer vcpus, then name). */
export function chooseFlavor(flavors: readonly Flavor[], minRamMb: number, nameFilter?: string): Flavor | undefined {
  return flavors
    .filter((f) => f.ramMb >= minRamMb && (!nameFilter || f.name.includes(nameFilter)))
    .sort((a, b) => a.ramMb - b.ramMb || a.vcpus - b.vcpus || a.name.localeCompare(b.name))[0];
}
