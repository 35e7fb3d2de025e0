// Nova (compute API v2.1) over the Keystone session: servers, flavors and limits, with the
// microversion pinned so that response shapes do not drift with the cloud's release.
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
  /** Network ids; empty or undefined lets Nova pick ("auto"). */
  networkIds?: string[];
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

const isV4 = (a: NovaAddress) => typeof a.addr === 'string' && (a.version === 4 || (a.version === undefined && /^\d+\.\d+\.\d+\.\d+$/.test(a.addr)));

/** The address SSH should use: a floating IPv4, else accessIPv4, else one on a "public" network, else the first IPv4. */
export function pickIp(addresses: Record<string, NovaAddress[]> | undefined, accessIPv4?: string): string | null {
  const nets = Object.entries(addresses ?? {});
  const all = nets.flatMap(([, list]) => list.filter(isV4));
  const floating = all.find((a) => a['OS-EXT-IPS:type'] === 'floating');
  if (floating?.addr) return floating.addr;
  if (accessIPv4) return accessIPv4;
  const pub = nets.filter(([name]) => /public/i.test(name)).flatMap(([, list]) => list.filter(isV4))[0];
  return pub?.addr ?? all[0]?.addr ?? null;
}

export function toCloudServer(s: NovaServer): CloudServer {
  const created = Date.parse(s.created ?? '');
  return {
    id: s.id,
    name: s.name ?? '',
    status: mapServerStatus(s.status, s['OS-EXT-STS:task_state']),
    rawStatus: s.status ?? 'UNKNOWN',
    ip: pickIp(s.addresses, s.accessIPv4),
    az: s['OS-EXT-AZ:availability_zone'] || null,
    metadata: { ...(s.metadata ?? {}) },
    fault: s.fault?.message ?? null,
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
      networks: req.networkIds && req.networkIds.length > 0 ? req.networkIds.map((uuid) => ({ uuid })) : 'auto',
    };
    if (req.availabilityZone) server.availability_zone = req.availabilityZone;
    if (req.keyName) server.key_name = req.keyName;
    if (req.configDrive !== undefined) server.config_drive = req.configDrive;
    const res = await this.call<{ server?: { id?: string } }>('POST', '/servers', { server });
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

  /** Follows `<key>_links` rel=next until the last page. */
  private async paginate<T>(path: string, key: string): Promise<T[]> {
    const out: T[] = [];
    const seen = new Set<string>();
    let query = this.opts.pageSize ? `?limit=${this.opts.pageSize}` : '';
    for (;;) {
      const res = await this.call<Record<string, unknown>>('GET', `${path}${query}`);
      out.push(...((res.body?.[key] as T[] | undefined) ?? []));
      const next = nextQuery(res.body?.[`${key}_links`] as Link[] | undefined);
      // A repeated marker would loop forever; stop instead.
      if (!next || seen.has(next)) return out;
      seen.add(next);
      query = next;
    }
  }
}
