// Nova (compute API v2.1) over the Keystone session: servers, flavors and limits, with the
// microversion pinned so that response shapes do not drift with the cloud's release.
import { BadRequestError, CloudError, ConflictError, IncompleteListError, NetworkConfigError } from '../../src/errors.js';
import { addressVersion, chooseAddress, type AddressPolicy, type ServerAddress } from '../address.js';
import type { CloudServer, Flavor, Quota, ServerStatus } from '../provider.js';
import type { KeystoneSession } from './keystone.js';

/**
 * 2.79 (Train) is widely deployed and gives us what we rely on: `networks: "auto"` (2.37+),
 * the flavor embedded in a server (2.47+) and a stable error and pagination shape.
 */
export const NOVA_MICROVERSION = '2.79';
export const NOVA_VERSION_HEADER = { 'openstack-api-version': `compute ${NOVA_MICROVERSION}` };

export interface NovaAddress {
  addr?: string;
  version?: number;
  'OS-EXT-IPS:type'?: string;
}

export interface NovaServer {
  id: string;
  name?: string;
  status?: string;
  created?: string;
  addresses?: Record<string, NovaAddress[]>;
  accessIPv4?: string;
  accessIPv6?: string;
  metadata?: Record<string, string>;
  fault?: { message?: string; code?: number };
  'OS-EXT-AZ:availability_zone'?: string;
  'OS-EXT-STS:task_state'?: string | null;
}

interface Link {
  rel?: string;
  href?: string;
}

export interface NovaCreateServer {
  name: string;
  imageRef: string;
  flavorRef: string;
  metadata: Record<string, string>;
  availabilityZone?: string;
  keyName?: string;
  /** Network ids, or `auto` (Nova picks; also for an empty list or undefined) or `none`. */
  networkIds?: string[] | 'auto' | 'none';
  configDrive?: boolean;
}

export function mapServerStatus(status: string | undefined, taskState?: string | null): ServerStatus {
  if (taskState === 'deleting') return 'deleting';
  switch (status) {
    case 'BUILD':
    case 'REBUILD':
      return 'building';
    case 'ACTIVE':
      return 'active';
    case 'ERROR':
      return 'error';
    case 'DELETED':
    case 'SOFT_DELETED':
      return 'deleting';
    default:
      return 'other';
  }
}

/** Every address Nova reports (fixed and floating per network, then accessIPv4/v6), normalised. */
export function novaAddresses(addresses: Record<string, NovaAddress[]> | undefined, accessIPv4?: string, accessIPv6?: string): ServerAddress[] {
  const out: ServerAddress[] = [];
  for (const [network, list] of Object.entries(addresses ?? {})) {
    for (const a of list ?? []) {
      if (typeof a.addr !== 'string') continue;
      const version = a.version === 4 || a.version === 6 ? a.version : addressVersion(a.addr);
      if (version === null) continue;
      out.push({ addr: a.addr, version, type: a['OS-EXT-IPS:type'] === 'floating' ? 'floating' : 'fixed', network });
    }
  }
  if (accessIPv4) out.push({ addr: accessIPv4, version: 4, type: 'access', network: null });
  if (accessIPv6) out.push({ addr: accessIPv6, version: 6, type: 'access', network: null });
  return out;
}

/** The address SSH should use under the provider's policy (see providers/address.ts). */
export function pickIp(addresses: Record<string, NovaAddress[]> | undefined, accessIPv4?: string, policy: AddressPolicy = {}): string | null {
  return chooseAddress(novaAddresses(addresses, accessIPv4), policy);
}

export function toCloudServer(s: NovaServer, policy: AddressPolicy = {}): CloudServer {
  const created = Date.parse(s.created ?? '');
  const addresses = novaAddresses(s.addresses, s.accessIPv4, s.accessIPv6);
  return {
    id: s.id,
    name: s.name ?? '',
    status: mapServerStatus(s.status, s['OS-EXT-STS:task_state']),
    rawStatus: s.status ?? 'UNKNOWN',
    ip: chooseAddress(addresses, policy),
    addresses,
    az: s['OS-EXT-AZ:availability_zone'] || null,
    metadata: { ...(s.metadata ?? {}) },
    fault: s.fault?.message ?? null,
    faultCode: s.fault?.code ?? null,
    created: Number.isNaN(created) ? 0 : created,
  };
}

/** The query of a `rel=next` link, re-applied to our own endpoint (proxies often rewrite link hosts). */
export function nextQuery(links: readonly Link[] | undefined): string | null {
  const next = links?.find((l) => l.rel === 'next')?.href;
  if (!next) return null;
  const q = new URL(next, 'http://link.invalid').search;
  return q.length > 1 ? q : null;
}

export class NovaClient {
  constructor(
    private readonly session: KeystoneSession,
    private readonly opts: { pageSize?: number } = {},
  ) {}

  private call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) {
    return this.session.request<T>('compute', path, { method, body, headers: NOVA_VERSION_HEADER });
  }

  /** Returns the new server's id; Nova answers 202 with only a stub, the rest comes from list/show. */
  async createServer(req: NovaCreateServer): Promise<string> {
    const server: Record<string, unknown> = {
      name: req.name,
      imageRef: req.imageRef,
      flavorRef: req.flavorRef,
      metadata: req.metadata,
      networks: Array.isArray(req.networkIds) && req.networkIds.length > 0 ? req.networkIds.map((uuid) => ({ uuid })) : req.networkIds === 'none' ? 'none' : 'auto',
    };
    if (req.availabilityZone) server.availability_zone = req.availabilityZone;
    if (req.keyName) server.key_name = req.keyName;
    if (req.configDrive !== undefined) server.config_drive = req.configDrive;
    const res = await this.call<{ server?: { id?: string } }>('POST', '/servers', { server }).catch((err: unknown) => {
      throw networkConfigError(err, server.networks) ?? err;
    });
    const id = res.body?.server?.id;
    if (!id) throw new Error(`POST /servers: ${res.status} without a server id`);
    return id;
  }

  async listServers(): Promise<NovaServer[]> {
    return this.paginate<NovaServer>('/servers/detail', 'servers');
  }

  async getServer(id: string): Promise<NovaServer> {
    const res = await this.call<{ server: NovaServer }>('GET', `/servers/${encodeURIComponent(id)}`);
    return res.body.server;
  }

  async deleteServer(id: string): Promise<void> {
    await this.call('DELETE', `/servers/${encodeURIComponent(id)}`);
  }

  /** Snapshots a server (Nova `createImage` action, 202 with `image_id` at >= 2.45); returns the new image's id. */
  async createImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
    const res = await this.call<{ image_id?: string }>('POST', `/servers/${encodeURIComponent(serverId)}/action`, { createImage: { name, metadata } });
    const id = res.body?.image_id;
    if (!id) throw new Error(`POST /servers/${serverId}/action createImage: ${res.status} without an image_id`);
    return id;
  }

  async listFlavors(): Promise<Flavor[]> {
    const raw = await this.paginate<{ id: string; name?: string; ram?: number; vcpus?: number }>('/flavors/detail', 'flavors');
    return raw.map((f) => ({ id: String(f.id), name: f.name ?? String(f.id), ramMb: f.ram ?? 0, vcpus: f.vcpus ?? 0 }));
  }

  async limits(): Promise<Quota> {
    const res = await this.call<{ limits?: { absolute?: Record<string, number> } }>('GET', '/limits');
    const a = res.body?.limits?.absolute ?? {};
    // Nova reports "unlimited" as -1.
    const max = (v: number | undefined) => (v === undefined || v < 0 ? null : v);
    return {
      maxInstances: max(a.maxTotalInstances),
      maxCores: max(a.maxTotalCores),
      maxRamMb: max(a.maxTotalRAMSize),
      usedInstances: a.totalInstancesUsed ?? 0,
      usedCores: a.totalCoresUsed ?? 0,
      usedRamMb: a.totalRAMUsed ?? 0,
    };
  }

  /**
   * Follows `<key>_links` rel=next until the last page. A chain that repeats a marker, or a page
   * after the first that fails, is an IncompleteListError: never a partial list passed off as whole.
   */
  private async paginate<T>(path: string, key: string): Promise<T[]> {
    const out: T[] = [];
    const seen = new Set<string>();
    let query = this.opts.pageSize ? `?limit=${this.opts.pageSize}` : '';
    for (let page = 1; ; page++) {
      const res = await this.call<Record<string, unknown>>('GET', `${path}${query}`).catch((err: unknown) => {
        throw page === 1 ? err : incompleteList(`GET ${path}`, page, out.length, err);
      });
      out.push(...((res.body?.[key] as T[] | undefined) ?? []));
      const next = nextQuery(res.body?.[`${key}_links`] as Link[] | undefined);
      if (!next) return uniqueById(out);
      if (seen.has(next)) {
        throw new IncompleteListError(`GET ${path}: page ${page} links back to an earlier page (${next}); the list is incomplete after ${out.length} items`);
      }
      seen.add(next);
      query = next;
    }
  }
}

/**
 * Real Nova can list one server on two pages of a marker chain (seen against Zed, limit=2, with
 * servers created just before the list; most likely a server moving from the API database's
 * build requests into its cell between two page requests). One entry per id, the later one.
 */
export function uniqueById<T>(items: readonly T[]): T[] {
  const byId = new Map<unknown, T>();
  const rest: T[] = [];
  for (const item of items) {
    const id = (item as { id?: unknown }).id;
    if (id === undefined) rest.push(item);
    else {
      byId.delete(id);
      byId.set(id, item);
    }
  }
  return [...byId.values(), ...rest];
}

export function incompleteList(what: string, page: number, got: number, err: unknown): IncompleteListError {
  const status = err instanceof CloudError ? err.status : undefined;
  return new IncompleteListError(`${what}: page ${page} failed after ${got} items: ${(err as Error).message}`, status, { cause: err });
}

const AUTO_ALLOC = /Unable to automatically allocate a network/i;
const MULTIPLE_NETS = /Multiple possible networks found/i;

/** Nova's answers that only a `networks` config change can fix, as a NetworkConfigError. */
export function networkConfigError(err: unknown, sent: unknown): NetworkConfigError | null {
  if (!(err instanceof BadRequestError || err instanceof ConflictError)) return null;
  const msg = err.message;
  const what = typeof sent === 'string' ? `"networks": "${sent}"` : 'the configured networks';
  if (AUTO_ALLOC.test(msg)) {
    return new NetworkConfigError(`${what}: Nova cannot auto-allocate a network for this project; configure networks: [{name: ...}] or networks: none (${msg})`, err.status, { cause: err });
  }
  if (MULTIPLE_NETS.test(msg)) {
    return new NetworkConfigError(`${what}: the project sees several networks, so Nova cannot pick one; configure networks: [{name: ...}] (${msg})`, err.status, { cause: err });
  }
  return null;
}
