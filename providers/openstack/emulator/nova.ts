// Nova compute v2.1: servers (create, list, detail, show, delete, createImage), flavors and
// limits, with the status codes and error bodies Nova sends.
import { isObject, isoSeconds, type Reply, type Req } from './http.js';
import type { Cloud, EmulatorFlavor, ServerRec } from './cloud.js';
import type { TokenInfo } from './keystone.js';
import { atLeast, MAX_VERSION, MIN_VERSION, type Microversion } from './microversion.js';
import { randomHex, type Rng } from '../../../src/prng.js';
import type { Route } from './router.js';

export interface NovaCtx {
  req: Req;
  params: string[];
  token: TokenInfo;
  projectId: string;
  version: Microversion;
}

export type NovaHandler = (ctx: NovaCtx) => Reply;

/** Nova's fault names by status code (nova/api/openstack/wsgi.py); others are computeFault. */
const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export function novaFault(code: number, message: string, headers?: Record<string, string>): Reply {
  return { status: code, headers, body: { [FAULT_NAMES[code] ?? 'computeFault']: { code, message } } };
}

/** Nova's max_limit: a list never returns more than this per page. */
const MAX_LIMIT = 1000;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export interface NovaUrls {
  /** e.g. http://127.0.0.1:PORT/compute/v2.1 */
  compute: string;
  /** e.g. http://127.0.0.1:PORT/image (Glance endpoint, unversioned) */
  image: string;
}

export class Nova {
  readonly routes: Route<NovaHandler>[] = [
    { method: 'GET', template: '/', handler: () => this.versionDoc() },
    { method: 'GET', template: '/servers', handler: (c) => this.list(c, false) },
    { method: 'GET', template: '/servers/detail', handler: (c) => this.list(c, true) },
    { method: 'POST', template: '/servers', handler: (c) => this.create(c) },
    { method: 'GET', template: '/servers/{id}', handler: (c) => this.show(c) },
    { method: 'DELETE', template: '/servers/{id}', handler: (c) => this.remove(c) },
    { method: 'POST', template: '/servers/{id}/action', handler: (c) => this.action(c) },
    { method: 'GET', template: '/servers/{id}/metadata', handler: (c) => this.metadata(c) },
    { method: 'GET', template: '/flavors', handler: (c) => this.flavorList(c, false) },
    { method: 'GET', template: '/flavors/detail', handler: (c) => this.flavorList(c, true) },
    { method: 'GET', template: '/flavors/{id}', handler: (c) => this.flavorShow(c) },
    { method: 'GET', template: '/limits', handler: (c) => this.limits(c) },
    { method: 'GET', template: '/os-availability-zone', handler: () => this.zones() },
  ];

  constructor(
    private readonly cloud: Cloud,
    private readonly urls: () => NovaUrls,
    private readonly rng: Rng,
    private readonly zoneNames: readonly string[],
  ) {}

  // ---- version document -------------------------------------------------------------------

  private versionDoc(): Reply {
    const self = `${this.urls().compute}/`;
    return {
      status: 200,
      body: {
        version: {
          id: 'v2.1',
          status: 'CURRENT',
          version: MAX_VERSION,
          min_version: MIN_VERSION,
          updated: '2013-07-23T11:33:21Z',
          links: [
            { rel: 'self', href: self },
            { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
          ],
          'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
        },
      },
    };
  }

  // ---- servers ----------------------------------------------------------------------------

  /** The injected pagination fault for a page asked for with a marker, if one is set. */
  private brokenPage(marker: string | null): Reply | null {
    if (marker === null) return null;
    if (this.cloud.brokenPagination === 'page-404') return novaFault(404, 'The resource could not be found.');
    if (this.cloud.brokenPagination === 'page-503') return novaFault(503, 'The server is currently unavailable. Please try again at a later time.');
    return null;
  }

  private ownServer(ctx: NovaCtx): ServerRec | Reply {
    const id = ctx.params[0];
    const s = this.cloud.servers.get(id);
    if (!s || s.projectId !== ctx.projectId) return novaFault(404, `Instance ${id} could not be found.`);
    return s;
  }

  private show(ctx: NovaCtx): Reply {
    const s = this.ownServer(ctx);
    if (!('id' in s)) return s;
    return { status: 200, body: { server: this.serverDetail(s, ctx.version) } };
  }

  private metadata(ctx: NovaCtx): Reply {
    const s = this.ownServer(ctx);
    if (!('id' in s)) return s;
    return { status: 200, body: { metadata: { ...s.metadata } } };
  }

  private remove(ctx: NovaCtx): Reply {
    const s = this.ownServer(ctx);
    if (!('id' in s)) return s;
    this.cloud.deleteServer(s);
    return { status: 204 };
  }

  private list(ctx: NovaCtx, detail: boolean): Reply {
    const q = ctx.req.url.searchParams;
    const page = pageParams(q);
    if ('status' in page) return page;

    let changesSince: number | null = null;
    const cs = q.get('changes-since');
    if (cs !== null) {
      changesSince = Date.parse(cs);
      if (Number.isNaN(changesSince)) return novaFault(400, `Invalid input for query parameters changes-since. Value: ${cs}. '${cs}' is not a 'date-time'`);
    }

    const own = (s: ServerRec) => s.projectId === ctx.projectId;
    let all = [...this.cloud.servers.values()].filter(own);
    // Deleted servers appear only to changes-since queries, as in Nova.
    if (changesSince !== null) all = all.concat([...this.cloud.deleted.values()].filter(own));
    all.sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));

    let start = 0;
    if (page.marker !== null) {
      const i = all.findIndex((s) => s.id === page.marker);
      if (i < 0) return novaFault(400, `marker [${page.marker}] not found`);
      start = i + 1;
    }

    const name = q.get('name');
    const nameRe = name === null ? null : safeRegExp(name);
    const status = q.get('status')?.toUpperCase() ?? null;
    const matches = (s: ServerRec) =>
      (nameRe === null || nameRe.test(s.name)) &&
      (status === null || s.status === status) &&
      (changesSince === null || s.updated >= changesSince);

    const items: ServerRec[] = [];
    // The marker's server once more at the top of the page, then a page's worth after it.
    if (this.cloud.brokenPagination === 'repeat-item' && start > 0 && matches(all[start - 1])) items.push(all[start - 1]);
    const limit = page.limit + items.length;
    for (let i = start; i < all.length && items.length < limit; i++) if (matches(all[i])) items.push(all[i]);

    const body: Record<string, unknown> = {
      servers: items.map((s) => (detail ? this.serverDetail(s, ctx.version) : this.serverSummary(s))),
    };
    const broken = this.brokenPage(page.marker);
    if (broken) return broken;
    if (this.cloud.brokenPagination === 'repeat-marker' && page.marker !== null) {
      body.servers_links = [{ rel: 'next', href: nextLink(`${this.urls().compute}/servers${detail ? '/detail' : ''}`, q, page.marker) }];
    } else if (items.length > 0 && items.length === limit) {
      body.servers_links = [{ rel: 'next', href: nextLink(`${this.urls().compute}/servers${detail ? '/detail' : ''}`, q, items[items.length - 1].id) }];
    }
    return { status: 200, body };
  }

  private create(ctx: NovaCtx): Reply {
    const { req, version } = ctx;
    if (req.badJson) return novaFault(400, 'Malformed request body');
    const body = req.body;
    if (!isObject(body) || !isObject(body.server)) {
      return novaFault(400, `Invalid input for field/attribute server. Value: ${show(body)}. 'server' is a required property`);
    }
    const sv = body.server;
    const bad = (field: string, message: string) =>
      novaFault(400, `Invalid input for field/attribute ${field}. Value: ${show(sv[field])}. ${message}`);

    for (const key of ['name', 'flavorRef'] as const) {
      if (!(key in sv)) return novaFault(400, `Invalid input for field/attribute server. Value: ${show(sv)}. '${key}' is a required property`);
    }
    if (atLeast(version, '2.37') && !('networks' in sv)) {
      return novaFault(400, `Invalid input for field/attribute server. Value: ${show(sv)}. 'networks' is a required property`);
    }
    const name = sv.name;
    if (typeof name !== 'string') return bad('name', `${show(name)} is not of type 'string'`);
    if (name.length < 1 || name.length > 255 || name.trim() !== name || name.trim() === '') {
      return bad('name', `${show(name)} does not match the name pattern`);
    }
    const flavorRef = sv.flavorRef;
    if (typeof flavorRef !== 'string' && typeof flavorRef !== 'number') return bad('flavorRef', `${show(flavorRef)} is not valid under any of the given schemas`);
    const flavorId = String(flavorRef).split('/').pop() ?? '';
    const flavor = this.cloud.flavors.find((f) => f.id === flavorId);
    if (!flavor) return novaFault(400, `Flavor ${flavorId} could not be found.`);

    const imageRef = sv.imageRef;
    if (imageRef === undefined || imageRef === '') return novaFault(400, 'Can not find requested image');
    if (typeof imageRef !== 'string') return bad('imageRef', `${show(imageRef)} is not of type 'string'`);
    const imageId = imageRef.split('/').pop() ?? '';
    if (!UUID_RE.test(imageId)) return novaFault(400, `Invalid image identifier or unable to access requested image.`);
    const image = this.cloud.images.get(imageId);
    if (!image) return novaFault(400, `Image ${imageId} could not be found.`);
    if (image.status !== 'active') return novaFault(400, `Image ${imageId} is not active.`);
    if (flavor.ramMb < image.minRamMb) return novaFault(400, "Flavor's memory is too small for requested image.");

    const metadata: Record<string, string> = {};
    if (sv.metadata !== undefined) {
      if (!isObject(sv.metadata)) return bad('metadata', `${show(sv.metadata)} is not of type 'object'`);
      for (const [k, v] of Object.entries(sv.metadata)) {
        if (k.length < 1 || k.length > 255) return bad('metadata', `'${k}' does not match any of the regexes`);
        if (typeof v !== 'string' || v.length > 255) return bad('metadata', `${show(v)} is not of type 'string'`);
        metadata[k] = v;
      }
      if (Object.keys(metadata).length > 128) return novaFault(403, 'Quota exceeded for metadata_items: Requested 129, but already used 0 of 128 metadata_items');
    }

    let az = this.zoneNames[0];
    if (sv.availability_zone !== undefined) {
      if (typeof sv.availability_zone !== 'string') return bad('availability_zone', `${show(sv.availability_zone)} is not of type 'string'`);
      if (!this.zoneNames.includes(sv.availability_zone)) return novaFault(400, 'The requested availability zone is not available');
      az = sv.availability_zone;
    }

    let keyName: string | null = null;
    if (sv.key_name !== undefined && sv.key_name !== null) {
      if (typeof sv.key_name !== 'string') return bad('key_name', `${show(sv.key_name)} is not of type 'string'`);
      keyName = sv.key_name;
    }

    // As Nova (>= 2.37 "auto", or no networks before 2.37 / an empty list): with exactly one
    // network visible the server boots on it; with several Nova cannot choose (409); with none,
    // "auto" asks Neutron to auto-allocate one, which this cloud cannot (400), while the old
    // forms boot without a network. "none" boots without a port.
    const visible = this.cloud.networks;
    let networkName: string | null = null;
    const n = sv.networks;
    const okString = atLeast(version, '2.37') && (n === 'auto' || n === 'none');
    if (n !== undefined && !okString && !Array.isArray(n)) return bad('networks', `${show(n)} is not valid under any of the given schemas`);
    const names: string[] = [];
    if (Array.isArray(n)) {
      for (const item of n) {
        if (!isObject(item)) return bad('networks', `${show(item)} is not of type 'object'`);
        if (item.uuid === undefined) continue;
        if (typeof item.uuid !== 'string' || !UUID_RE.test(item.uuid)) {
          return novaFault(400, `Bad networks format: network uuid is not in proper format (${String(item.uuid)})`);
        }
        const net = this.cloud.networks.find((x) => x.id === item.uuid);
        if (!net) return novaFault(400, `Network ${item.uuid} could not be found.`);
        names.push(net.name);
      }
    }
    if (names.length > 0) networkName = names[0];
    else if (n !== 'none') {
      if (visible.length > 1) return novaFault(409, 'Multiple possible networks found, use a Network ID to be more specific.');
      if (visible.length === 1) networkName = visible[0].name;
      else if (n === 'auto') return novaFault(400, `Unable to automatically allocate a network for project ${ctx.projectId}`);
    }

    let configDrive = false;
    if (sv.config_drive !== undefined) {
      if (typeof sv.config_drive === 'boolean') configDrive = sv.config_drive;
      else if (typeof sv.config_drive === 'string' && ['true', 'false', 'True', 'False', ''].includes(sv.config_drive)) configDrive = /^true$/i.test(sv.config_drive);
      else return bad('config_drive', `${show(sv.config_drive)} is not valid under any of the given schemas`);
    }

    const problem = this.cloud.quotaProblem(ctx.projectId, flavor);
    if (problem && this.cloud.quotaRecheck === 'api') return novaFault(403, problem);

    const s = this.cloud.createServer({
      name,
      imageId,
      flavor,
      metadata,
      az,
      keyName,
      configDrive,
      networkName,
      recheckQuota: this.cloud.quotaRecheck === 'conductor',
      userId: ctx.token.principal.userId,
      projectId: ctx.projectId,
    });
    const adminPass = randomHex(this.rng, 12);
    const links = this.links('servers', s.id);
    return {
      status: 202,
      headers: { Location: links[0].href },
      body: {
        server: {
          id: s.id,
          links,
          'OS-DCF:diskConfig': 'MANUAL',
          security_groups: [{ name: 'default' }],
          adminPass,
        },
      },
    };
  }

  private action(ctx: NovaCtx): Reply {
    const s = this.ownServer(ctx);
    if (!('id' in s)) return s;
    const body = ctx.req.body;
    if (ctx.req.badJson || !isObject(body)) return novaFault(400, 'Malformed request body');
    const [actionName] = Object.keys(body);
    if (actionName !== 'createImage') return novaFault(400, `There is no such action: ${actionName ?? ''}`);
    const ci = body.createImage;
    if (!isObject(ci) || typeof ci.name !== 'string' || ci.name.trim() === '') {
      return novaFault(400, `Invalid input for field/attribute createImage. Value: ${show(ci)}. 'name' is a required property`);
    }
    const metadata: Record<string, string> = {};
    if (ci.metadata !== undefined) {
      if (!isObject(ci.metadata)) return novaFault(400, `Invalid input for field/attribute metadata. Value: ${show(ci.metadata)}. ${show(ci.metadata)} is not of type 'object'`);
      for (const [k, v] of Object.entries(ci.metadata)) metadata[k] = String(v);
    }
    if (s.status !== 'ACTIVE' || s.goneAt !== null) {
      const state = s.goneAt !== null ? `task_state deleting` : `vm_state ${s.vmState}`;
      return novaFault(409, `Cannot 'createImage' instance ${s.id} while it is in ${state}`);
    }
    const img = this.cloud.snapshot(s, ci.name, metadata);
    if (atLeast(ctx.version, '2.45')) return { status: 202, body: { image_id: img.id } };
    return { status: 202, headers: { Location: `${this.urls().image}/images/${img.id}` } };
  }

  private serverSummary(s: ServerRec): unknown {
    return { id: s.id, links: this.links('servers', s.id), name: s.name };
  }

  private serverDetail(s: ServerRec, v: Microversion): Record<string, unknown> {
    const active = s.status === 'ACTIVE';
    const out: Record<string, unknown> = {
      id: s.id,
      name: s.name,
      status: s.status,
      tenant_id: s.projectId,
      user_id: s.userId,
      metadata: { ...s.metadata },
      hostId: s.status === 'BUILD' || s.status === 'ERROR' ? '' : s.hostId,
      image: { id: s.imageId, links: [{ rel: 'bookmark', href: `${this.bookmarkRoot()}/images/${s.imageId}` }] },
      flavor: this.serverFlavor(s.flavor, v),
      created: isoSeconds(s.created),
      updated: isoSeconds(s.updated),
      addresses:
        active && s.networkName !== null && s.ip !== null
          ? {
              [s.networkName]: [{ 'OS-EXT-IPS-MAC:mac_addr': s.mac, version: s.ip.includes(':') ? 6 : 4, addr: s.ip, 'OS-EXT-IPS:type': 'fixed' }],
            }
          : {},
      accessIPv4: '',
      accessIPv6: '',
      links: this.links('servers', s.id),
      'OS-DCF:diskConfig': 'MANUAL',
      progress: active ? 100 : 0,
      'OS-EXT-AZ:availability_zone': s.status === 'BUILD' ? '' : s.az,
      config_drive: s.configDrive ? 'True' : '',
      key_name: s.keyName,
      'OS-SRV-USG:launched_at': s.launchedAt === null ? null : new Date(s.launchedAt).toISOString().replace('Z', '000'),
      'OS-SRV-USG:terminated_at': null,
      'OS-EXT-STS:task_state': s.taskState,
      'OS-EXT-STS:vm_state': s.vmState,
      // Nova's power states: 1 RUNNING, 0 NOSTATE.
      'OS-EXT-STS:power_state': active ? 1 : 0,
      'os-extended-volumes:volumes_attached': [],
    };
    // Nova builds security_groups from the server's Neutron ports: a server without one has no key.
    if (s.networkName !== null) out.security_groups = [{ name: 'default' }];
    if (s.fault) out.fault = { code: s.fault.code, created: isoSeconds(s.fault.created), message: s.fault.message };
    if (atLeast(v, '2.9')) out.locked = false;
    if (atLeast(v, '2.19')) out.description = null;
    if (atLeast(v, '2.26')) out.tags = [];
    if (atLeast(v, '2.63')) out.trusted_image_certificates = null;
    if (atLeast(v, '2.73')) out.locked_reason = null;
    if (atLeast(v, '2.96')) out.pinned_availability_zone = null;
    return out;
  }

  private serverFlavor(f: EmulatorFlavor, v: Microversion): unknown {
    if (!atLeast(v, '2.47')) return { id: f.id, links: [{ rel: 'bookmark', href: `${this.bookmarkRoot()}/flavors/${f.id}` }] };
    return { vcpus: f.vcpus, ram: f.ramMb, disk: f.diskGb, ephemeral: 0, swap: 0, original_name: f.name, extra_specs: {} };
  }

  /** Bookmark links drop the version segment, as Nova's do. */
  private bookmarkRoot(): string {
    return this.urls().compute.replace(/\/v2(\.1)?$/, '');
  }

  private links(collection: string, id: string): { rel: string; href: string }[] {
    return [
      { rel: 'self', href: `${this.urls().compute}/${collection}/${id}` },
      { rel: 'bookmark', href: `${this.bookmarkRoot()}/${collection}/${id}` },
    ];
  }

  // ---- flavors, limits, zones -------------------------------------------------------------

  private flavorView(f: EmulatorFlavor, v: Microversion, detail: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = { id: f.id, name: f.name, links: this.links('flavors', f.id) };
    if (atLeast(v, '2.55')) out.description = null;
    if (!detail) return out;
    Object.assign(out, {
      ram: f.ramMb,
      vcpus: f.vcpus,
      disk: f.diskGb,
      swap: atLeast(v, '2.75') ? 0 : '',
      'OS-FLV-EXT-DATA:ephemeral': 0,
      'OS-FLV-DISABLED:disabled': false,
      'os-flavor-access:is_public': true,
      rxtx_factor: 1.0,
    });
    if (atLeast(v, '2.61')) out.extra_specs = {};
    return out;
  }

  private flavorList(ctx: NovaCtx, detail: boolean): Reply {
    const q = ctx.req.url.searchParams;
    const page = pageParams(q);
    if ('status' in page) return page;
    const all = [...this.cloud.flavors].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let start = 0;
    if (page.marker !== null) {
      const i = all.findIndex((f) => f.id === page.marker);
      if (i < 0) return novaFault(400, `marker [${page.marker}] not found`);
      start = i + 1;
    }
    const minRam = Number(q.get('minRam') ?? 0);
    const items = all
      .slice(start)
      .filter((f) => f.ramMb >= minRam)
      .slice(0, page.limit);
    const body: Record<string, unknown> = { flavors: items.map((f) => this.flavorView(f, ctx.version, detail)) };
    const broken = this.brokenPage(page.marker);
    if (broken) return broken;
    if (items.length > 0 && items.length === page.limit) {
      body.flavors_links = [{ rel: 'next', href: nextLink(`${this.urls().compute}/flavors${detail ? '/detail' : ''}`, q, items[items.length - 1].id) }];
    }
    return { status: 200, body };
  }

  private flavorShow(ctx: NovaCtx): Reply {
    const f = this.cloud.flavors.find((x) => x.id === ctx.params[0]);
    if (!f) return novaFault(404, `Flavor ${ctx.params[0]} could not be found.`);
    return { status: 200, body: { flavor: this.flavorView(f, ctx.version, true) } };
  }

  private limits(ctx: NovaCtx): Reply {
    const q = this.cloud.quota;
    const used = this.cloud.usage(ctx.projectId);
    const max = (n: number | null) => (n === null || n < 0 ? -1 : n);
    const v = ctx.version;
    const absolute: Record<string, number> = {
      maxServerMeta: 128,
      maxTotalInstances: max(q.instances),
      maxTotalCores: max(q.cores),
      maxTotalRAMSize: max(q.ramMb),
      maxTotalKeypairs: 100,
      maxServerGroups: 10,
      maxServerGroupMembers: 10,
      totalInstancesUsed: used.instances,
      totalCoresUsed: used.cores,
      totalRAMUsed: used.ramMb,
      totalServerGroupsUsed: 0,
    };
    if (!atLeast(v, '2.36')) {
      Object.assign(absolute, {
        maxSecurityGroups: 10,
        maxSecurityGroupRules: 20,
        maxTotalFloatingIps: 10,
        totalSecurityGroupsUsed: 0,
        totalFloatingIpsUsed: 0,
      });
    }
    if (!atLeast(v, '2.39')) absolute.maxImageMeta = 128;
    if (!atLeast(v, '2.57')) Object.assign(absolute, { maxPersonality: 5, maxPersonalitySize: 10240 });
    return { status: 200, body: { limits: { rate: [], absolute } } };
  }

  private zones(): Reply {
    return {
      status: 200,
      body: { availabilityZoneInfo: this.zoneNames.map((zoneName) => ({ zoneName, zoneState: { available: true }, hosts: null })) },
    };
  }
}

/** limit and marker as Nova validates them; a Reply when they are invalid. */
function pageParams(q: URLSearchParams): { limit: number; marker: string | null } | Reply {
  let limit = MAX_LIMIT;
  const raw = q.get('limit');
  if (raw !== null) {
    if (!/^-?\d+$/.test(raw)) return novaFault(400, `Invalid input for query parameters limit. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
    const n = Number(raw);
    if (n < 0) return novaFault(400, `Invalid input for query parameters limit. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
    limit = Math.min(n, MAX_LIMIT);
  }
  return { limit, marker: q.get('marker') };
}

function nextLink(base: string, q: URLSearchParams, marker: string): string {
  const params = new URLSearchParams(q);
  params.set('marker', marker);
  return `${base}?${params.toString()}`;
}

/** Nova's name filter is a regular expression (re.search); an invalid one matches literally. */
function safeRegExp(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? 'None';
}
