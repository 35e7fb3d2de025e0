// An OpenStack cloud emulator for tests, the demo and benchmarks: Keystone v3, Nova v2.1 and
// Glance v2 over real HTTP on 127.0.0.1, plus an SSH daemon per ACTIVE server on its own
// loopback address. State changes follow the injected clock and are evaluated lazily, so a
// ManualClock drives BUILD -> ACTIVE without timers.
import { randomInt, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../../src/clock.js';
import { silentLogger, type Logger } from '../../../src/log.js';
import { Cloud, DEFAULT_FLAVORS, DEFAULT_IMAGES, type BrokenPagination, type EmulatorFlavor, type EmulatorImageSeed, type QuotaLimits } from './cloud.js';
import { Glance, glanceError, type GlanceCtx } from './glance.js';
import { HttpError, parseJson, readBody, send, unauthorized, type Reply, type Req } from './http.js';
import { Keystone, type EmulatorUser, type TokenInfo } from './keystone.js';
import { negotiate, versionHeaders, type Microversion } from './microversion.js';
import { Neutron, neutronError, type NeutronCtx } from './neutron.js';
import { Nova, novaFault, type NovaCtx } from './nova.js';
import { randomHex, seededRng } from '../../../src/prng.js';
import { matchRoute, type Match, type Route } from './router.js';
import type { SshFarm } from './ssh.js';
import { closeOnce, listenLoopback, sandboxing, startSsh } from '../../emulator-common/index.js';

export type { BrokenPagination, EmulatorFlavor, EmulatorImageSeed, QuotaLimits } from './cloud.js';
export type { EmulatorUser } from './keystone.js';
export { execOutput } from './ssh.js';

export interface OpenStackEmulatorOptions {
  clock?: Clock;
  /** Seeds ids, the 127.A.x.x address block and ERROR outcomes. Random when absent. */
  seed?: number;
  /** BUILD -> ACTIVE (or ERROR) after this long by the clock. Default 1000. */
  bootTimeMs?: number;
  /** Share of new servers that end in ERROR with a fault (0..1). Default 0. */
  errorRate?: number;
  /** Nova quota; omitted keys take Nova's defaults (10 instances, 20 cores, 51200 MB); -1 or null = unlimited. */
  quota?: QuotaLimits;
  /** Requests per clock second accepted by Nova and Glance before 429; null/absent = no limit. */
  rateLimitPerSecond?: number | null;
  /** Fraction of compute and image requests answered 503 before they take effect (seeded). */
  apiErrorRate?: number;
  /** Fraction of accepted server creates whose answer is a 500 although the server was created. */
  createLostAnswerRate?: number;
  /** Default: one user admin/secret in project "demo", domain "Default". */
  users?: EmulatorUser[];
  /** Default RegionOne. */
  region?: string;
  flavors?: EmulatorFlavor[];
  /** Glance images at start. Default: ubuntu-jammy and cirros, public and active. */
  images?: EmulatorImageSeed[];
  /** Shared port of all emulated SSH daemons; 0 (default) picks a free port once. */
  sshPort?: number;
  /** OpenSSH public key lines accepted for login; empty (default) accepts any key. */
  sshAuthorizedKeys?: string[];
  /** false: no SSH daemons at all (pure API tests). Default true. */
  ssh?: boolean;
  /**
   * A directory for the servers' sandboxes (sandbox.ts): SSH commands then run for real under
   * bubblewrap in each server's own tree, and snapshots carry the tree. Without it (or without
   * bubblewrap) a command runs nothing and only `echo` answers.
   */
  sandboxDir?: string;
  /** A deleted server stays (task_state "deleting") this long, then is gone. Default 0. */
  deleteTimeMs?: number;
  /** A snapshot goes queued -> saving (half-way) -> active after this long. Default 1000. */
  imageTimeMs?: number;
  /** Keystone token lifetime by the clock. Default one hour. */
  tokenTtlMs?: number;
  /** Nova availability zones; the first is the default. Default ["nova"]. */
  availabilityZones?: string[];
  /**
   * Neutron networks visible to the project. Default [{ name: "public" }]. As in Nova, `auto` boots
   * on the only one, answers 409 with several and 400 with none. `ipVersion: 6`: an IPv6-only subnet.
   */
  networks?: { id?: string; name: string; ipVersion?: 4 | 6 }[];
  /** Where quota is enforced: 'api' (default; 403 on create) or 'conductor' (202, then ERROR with fault 413). */
  quotaRecheck?: 'api' | 'conductor';
  /** HTTP port; 0 (default) picks a free one. */
  port?: number;
  log?: Logger;
}

export interface EmulatedServer {
  id: string;
  name: string;
  /** Nova status: BUILD, ACTIVE or ERROR (a deleted server is not listed). */
  status: string;
  /** Its loopback address (127.A.B.C), where SSH answers once ACTIVE; fd00:... on an IPv6-only network; null without a network. */
  ip: string | null;
  metadata: Record<string, string>;
  /** Milliseconds since the epoch, by the emulator's clock. */
  created: number;
  flavorId: string;
  imageId: string;
  az: string;
  /** Set while a DELETE is in progress (deleteTimeMs > 0). */
  deleting: boolean;
  fault: string | null;
}

export interface EmulatedImage {
  id: string;
  name: string;
  status: string;
  visibility: string;
  properties: Record<string, string>;
  created: number;
}

export interface OpenStackEmulator {
  /** The Keystone v3 URL, e.g. http://127.0.0.1:PORT/identity/v3 */
  readonly authUrl: string;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly computeUrl: string;
  readonly imageUrl: string;
  readonly networkUrl: string;
  readonly region: string;
  /** 0 when SSH is disabled. */
  readonly sshPort: number;
  /** The emulated VMs' host key, "ssh-ed25519 AAAA..." (null when SSH is disabled). */
  readonly sshHostPublicKey: string | null;
  /** Calls by "METHOD /path-template", e.g. "POST /compute/v2.1/servers". */
  calls(): Record<string, number>;
  totalCalls(): number;
  resetCalls(): void;
  servers(): EmulatedServer[];
  /** The most servers that existed at once since the start (deleting ones included). */
  peakServers(): number;
  images(): EmulatedImage[];
  setErrorRate(rate: number): void;
  /** New snapshots stay queued ('stuck'), end `killed` half-way ('killed'), or go active (null). */
  setSnapshotFault(fault: 'stuck' | 'killed' | null): void;
  setQuota(quota: QuotaLimits): void;
  setQuotaRecheck(where: 'api' | 'conductor'): void;
  /** Injects a pagination fault into server, flavor and image lists (null: none). */
  breakPagination(mode: BrokenPagination): void;
  setBootTimeMs(ms: number): void;
  setDeleteTimeMs(ms: number): void;
  setRateLimit(perSecond: number | null): void;
  /** Invalidates every token (clients must re-authenticate and will first see 401). */
  revokeTokens(): void;
  /** Applies transitions due by the clock and waits until the SSH daemons of ACTIVE servers listen. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

type Service = 'identity' | 'compute' | 'image' | 'network';

const PREFIXES: { service: Service; prefix: string }[] = [
  { service: 'identity', prefix: '/identity/v3' },
  { service: 'compute', prefix: '/compute/v2.1' },
  { service: 'image', prefix: '/image' },
  { service: 'network', prefix: '/networking' },
];

/** What every service handler receives; each reads the fields it needs. */
type AnyCtx = NovaCtx & GlanceCtx & NeutronCtx;

interface ServiceDef {
  routes: readonly Route<(ctx: AnyCtx) => Reply>[];
  fault(req: Req, code: number, message: string): Reply;
  overLimit(req: Req, retryAfter: string): Reply;
}

/** Version documents answer without a token. */
const PUBLIC_TEMPLATES = new Set(['/', '/versions']);

const KEYSTONE_ROUTES: Route<null>[] = [
  { method: 'GET', template: '/', handler: null },
  { method: 'POST', template: '/auth/tokens', handler: null },
  { method: 'GET', template: '/auth/tokens', handler: null },
];

function templateOf(m: Match<unknown>): string {
  const t = m.kind === 'found' ? m.route.template : m.kind === 'method-not-allowed' ? m.template : '';
  return t === '/' ? '' : t;
}

export async function startOpenStackEmulator(opts: OpenStackEmulatorOptions = {}): Promise<OpenStackEmulator> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const seed = opts.seed ?? randomInt(0, 2 ** 31);
  const rng = seededRng(seed);
  const ipA = 2 + Math.floor(seededRng(seed ^ 0x5eed5eed)() * 253);
  const region = opts.region ?? 'RegionOne';
  let rateLimit = opts.rateLimitPerSecond ?? null;
  const faultRng = seededRng(seed ^ 0xfa17);
  const apiErrorRate = opts.apiErrorRate ?? 0;
  const createLostAnswerRate = opts.createLostAnswerRate ?? 0;

  let base = '';
  const urls = () => ({
    identity: `${base}/identity/v3`,
    compute: `${base}/compute/v2.1`,
    image: `${base}/image`,
    network: `${base}/networking`,
  });
  const identityRoot = () => `${base}/identity`;

  const users = opts.users ?? [{ username: 'admin', password: 'secret', project: 'demo', domain: 'Default' }];
  const keystone = new Keystone(users, rng, clock, region, opts.tokenTtlMs ?? 3_600_000, urls);
  const zones = opts.availabilityZones ?? ['nova'];
  let farm: SshFarm | null = null;
  const sandboxed = sandboxing(opts.sandboxDir);
  const { sandboxes } = sandboxed;
  /** The server answering SSH on each address, for the sandboxed exec. */
  const serverAt = new Map<string, string>();
  const cloud: Cloud = new Cloud(
    rng,
    clock,
    {
      flavors: opts.flavors ?? DEFAULT_FLAVORS,
      images: opts.images ?? DEFAULT_IMAGES,
      networks: opts.networks ?? [{ name: 'public' }],
      quota: opts.quota ?? {},
      bootTimeMs: opts.bootTimeMs ?? 1000,
      errorRate: opts.errorRate ?? 0,
      deleteTimeMs: opts.deleteTimeMs ?? 0,
      imageTimeMs: opts.imageTimeMs ?? 1000,
      ipA,
      // Start images come from an operator's project (a user's delete answers 403), unless
      // seeded `owned`: then the first user's project uploaded them and may delete them.
      operatorProject: randomHex(seededRng(seed ^ 0x1a6e), 32),
      userProject: keystone.firstProjectId(),
    },
    {
      // The SSH farm binds loopback IPv4 only: a server without a network or on IPv6 has no daemon.
      onActive: (s) => {
        sandboxes?.boot(s.id, s.imageId);
        if (s.ip === null || s.ip.includes(':')) return;
        serverAt.set(s.ip, s.id);
        farm?.open(s.ip);
      },
      onDeleted: (s) => {
        sandboxes?.dropServer(s.id);
        if (s.ip === null || s.ip.includes(':')) return;
        serverAt.delete(s.ip);
        void farm?.shut(s.ip);
      },
      onSnapshot: (s, img) => sandboxes?.snapshot(s.id, img.id),
      onImageDeleted: (img) => sandboxes?.dropImage(img.id),
    },
  );
  if (opts.quotaRecheck) cloud.quotaRecheck = opts.quotaRecheck;
  const nova = new Nova(cloud, urls, rng, zones);
  const glance = new Glance(cloud, () => urls().image);
  const neutron = new Neutron(cloud.networks, () => urls().network, clock.now(), zones);

  const counts = new Map<string, number>();
  const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  let window = { second: -1, n: 0 };

  /** Seconds until the budget refills, when the current clock second is over it. */
  const overBudget = (): string | null => {
    if (rateLimit === null) return null;
    const now = clock.now();
    const second = Math.floor(now / 1000);
    if (window.second !== second) window = { second, n: 0 };
    window.n += 1;
    if (window.n <= rateLimit) return null;
    return String(Math.max(1, Math.ceil(((second + 1) * 1000 - now) / 1000)));
  };

  const authenticate = (req: Req): TokenInfo | null => {
    const raw = req.headers['x-auth-token'];
    return keystone.validate(Array.isArray(raw) ? raw[0] : raw);
  };

  // How each service words its own errors; Keystone handles its requests whole.
  const services: Record<Exclude<Service, 'identity'>, ServiceDef> = {
    compute: {
      routes: nova.routes,
      fault: (_req, code, message) => novaFault(code, message),
      overLimit: (_req, retryAfter) => ({
        status: 429,
        body: { overLimit: { code: 429, message: 'This request was rate-limited.', retryAfter } },
      }),
    },
    image: {
      routes: glance.routes,
      fault: (req, code, message) => glanceError(req, code, message),
      overLimit: (req) => glanceError(req, 429, 'This request was rate-limited.'),
    },
    network: {
      routes: neutron.routes,
      fault: (_req, code, message) => neutronError(code, code === 404 ? 'HTTPNotFound' : code === 403 ? 'HTTPForbidden' : 'HTTPError', message),
      overLimit: () => neutronError(429, 'OverQuota', 'This request was rate-limited.'),
    },
  };

  const dispatch = (req: Req, service: Service | null, prefix: string): Reply => {
    if (service === null) {
      count(`${req.method} ${req.url.pathname}`);
      return { status: 404, body: { error: { code: 404, title: 'Not Found', message: 'The resource could not be found.' } } };
    }
    if (service === 'identity') {
      const m = matchRoute(KEYSTONE_ROUTES, req.method, req.path);
      count(m.kind === 'not-found' ? `${req.method} ${req.url.pathname}` : `${req.method} ${prefix}${templateOf(m)}`);
      return keystone.handle(req);
    }
    const def = services[service];
    const match = matchRoute(def.routes, req.method, req.path);
    count(match.kind === 'not-found' ? `${req.method} ${req.url.pathname}` : `${req.method} ${prefix}${templateOf(match)}`);

    // Injected faults, from their own seeded stream so that other outcomes stay as they were.
    if (apiErrorRate > 0 && faultRng() < apiErrorRate) {
      return def.fault(req, 503, 'The server is currently unavailable. Please try again at a later time.');
    }
    const retryAfter = overBudget();
    if (retryAfter !== null) {
      const r = def.overLimit(req, retryAfter);
      return { ...r, headers: { ...(r.headers ?? {}), 'Retry-After': retryAfter } };
    }

    // Nova negotiates the microversion before anything else and names it in every answer.
    let version: Microversion | null = null;
    if (service === 'compute') {
      const nv = negotiate(req.headers);
      if (!nv.ok) return novaFault(nv.status, nv.message);
      version = nv.version;
    }
    const withVersion = (r: Reply): Reply => (version ? { ...r, headers: { ...versionHeaders(version), ...(r.headers ?? {}) } } : r);

    if (match.kind === 'not-found') return withVersion(def.fault(req, 404, 'The resource could not be found.'));
    if (match.kind === 'method-not-allowed') {
      const r = def.fault(req, 405, 'The method is not allowed for this resource.');
      return withVersion({ ...r, headers: { ...(r.headers ?? {}), Allow: match.allowed.join(', ') } });
    }
    const token = PUBLIC_TEMPLATES.has(match.route.template) ? null : authenticate(req);
    if (!PUBLIC_TEMPLATES.has(match.route.template)) {
      if (!token) return unauthorized(identityRoot());
      if (!token.projectId) return withVersion(def.fault(req, 403, 'This action needs a project-scoped token.'));
    }
    const ctx = { req, params: match.params, token: token as TokenInfo, projectId: token?.projectId ?? '', version: version! };
    const reply = withVersion(match.route.handler(ctx));
    if (service === 'compute' && req.method === 'POST' && match.route.template === '/servers' && reply.status === 202 && faultRng() < createLostAnswerRate) {
      // The server exists, but the client never learns its id: the case that leaks servers.
      return withVersion(def.fault(req, 500, 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.'));
    }
    return reply;
  };

  const onRequest = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = `req-${randomUUID()}`;
    let reply: Reply;
    try {
      const url = new URL(raw.url ?? '/', base);
      const hit = PREFIXES.find((p) => url.pathname === p.prefix || url.pathname.startsWith(`${p.prefix}/`));
      const { body, badJson } = parseJson(await readBody(raw));
      const path = hit ? url.pathname.slice(hit.prefix.length) || '/' : url.pathname;
      const req: Req = { method: raw.method ?? 'GET', url, path, headers: raw.headers, body, badJson };
      cloud.refresh();
      reply = dispatch(req, hit?.service ?? null, hit?.prefix ?? '');
      log.debug({ method: req.method, path: url.pathname, status: reply.status }, 'openstack emulator request');
    } catch (err) {
      reply =
        err instanceof HttpError
          ? err.reply
          : { status: 500, body: { computeFault: { code: 500, message: 'Unexpected API Error.' } } };
      if (!(err instanceof HttpError)) log.error({ error: err }, 'openstack emulator failed a request');
    }
    const headers: Record<string, string> = { 'X-Openstack-Request-Id': requestId, ...(reply.headers ?? {}) };
    send(res, { ...reply, headers });
  };

  const listening = await listenLoopback(opts.port, onRequest);
  base = listening.base;
  const ssh = await startSsh(opts, sandboxed, (ip) => serverAt.get(ip), () => cloud.refresh(), log);
  farm = ssh.farm;
  log.info({ url: base, sshPort: farm?.port ?? 0, seed, ipBlock: `127.${ipA}.0.0/16` }, 'openstack emulator listening');

  const close = closeOnce('openstack emulator', log, listening.http, ssh);

  return {
    authUrl: urls().identity,
    url: base,
    computeUrl: urls().compute,
    imageUrl: urls().image,
    networkUrl: urls().network,
    region,
    sshPort: farm?.port ?? 0,
    sshHostPublicKey: farm?.hostPublicKey ?? null,
    calls: () => Object.fromEntries(counts),
    totalCalls: () => [...counts.values()].reduce((a, b) => a + b, 0),
    resetCalls: () => counts.clear(),
    peakServers: () => cloud.peakServers,
    servers: () => {
      cloud.refresh();
      return [...cloud.servers.values()].map((s) => ({
        id: s.id,
        name: s.name,
        status: s.status,
        ip: s.ip,
        metadata: { ...s.metadata },
        created: s.created,
        flavorId: s.flavor.id,
        imageId: s.imageId,
        az: s.az,
        deleting: s.goneAt !== null,
        fault: s.fault?.message ?? null,
      }));
    },
    images: () => {
      cloud.refresh();
      return [...cloud.images.values()].map((i) => ({
        id: i.id,
        name: i.name,
        status: i.status,
        visibility: i.visibility,
        properties: { ...i.properties },
        created: i.created,
      }));
    },
    setErrorRate: (r) => {
      cloud.errorRate = Math.min(1, Math.max(0, r));
    },
    setSnapshotFault: (fault) => {
      cloud.snapshotFault = fault;
    },
    setQuota: (q) => {
      cloud.quota = { ...cloud.quota, ...Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) };
    },
    setQuotaRecheck: (where) => {
      cloud.quotaRecheck = where;
    },
    breakPagination: (mode) => {
      cloud.brokenPagination = mode;
    },
    setBootTimeMs: (ms) => {
      cloud.bootTimeMs = ms;
    },
    setDeleteTimeMs: (ms) => {
      cloud.deleteTimeMs = ms;
    },
    setRateLimit: (n) => {
      rateLimit = n;
    },
    revokeTokens: () => keystone.revokeAll(),
    sync: async () => {
      cloud.refresh();
      await farm?.ready();
    },
    close,
  };
}
