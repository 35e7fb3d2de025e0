// The OpenStack emulator over raw HTTP and SSH: status codes, headers and bodies as Keystone v3,
// Nova v2.1 and Glance v2 send them, with time driven by a ManualClock.
import ssh2 from 'ssh2';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startOpenStackEmulator, type OpenStackEmulator, type OpenStackEmulatorOptions } from '../../providers/openstack/emulator/index.js';

const { Client, utils } = ssh2;
const START = Date.parse('2030-01-01T00:00:00Z');

interface Res {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

let emu: OpenStackEmulator | null = null;
let clock: ManualClock;

afterEach(async () => {
  await emu?.close();
  emu = null;
});

async function start(opts: OpenStackEmulatorOptions = {}): Promise<OpenStackEmulator> {
  clock = new ManualClock(START);
  emu = await startOpenStackEmulator({ clock, seed: 11, ssh: false, ...opts });
  return emu;
}

async function call(url: string, init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers['X-Auth-Token'] = init.token;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await r.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers as unknown as Headers, body, text };
}

function authBody(opts: { user?: string; password?: string; project?: Record<string, unknown> | null } = {}): unknown {
  const auth: Record<string, unknown> = {
    identity: {
      methods: ['password'],
      password: { user: { name: opts.user ?? 'admin', domain: { name: 'Default' }, password: opts.password ?? 'secret' } },
    },
  };
  if (opts.project !== null) auth.scope = { project: opts.project ?? { name: 'demo', domain: { name: 'Default' } } };
  return { auth };
}

async function token(e: OpenStackEmulator): Promise<string> {
  const r = await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: authBody() });
  expect(r.status).toBe(201);
  return r.headers.get('x-subject-token')!;
}

async function imageId(e: OpenStackEmulator, tok: string, name = 'ubuntu-jammy'): Promise<string> {
  const r = await call(`${e.imageUrl}/v2/images?name=${name}`, { token: tok });
  return r.body.images[0].id;
}

async function createServer(e: OpenStackEmulator, tok: string, server: Record<string, unknown> = {}, headers?: Record<string, string>): Promise<Res> {
  const img = await imageId(e, tok);
  return call(`${e.computeUrl}/servers`, {
    method: 'POST',
    token: tok,
    headers,
    body: { server: { name: 'node-1', imageRef: img, flavorRef: '2', ...server } },
  });
}

describe('Keystone v3', () => {
  it('issues a scoped token: 201, X-Subject-Token, catalog with compute and image endpoints, expiry by the clock', async () => {
    const e = await start({ tokenTtlMs: 7_200_000 });
    const r = await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: authBody() });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-subject-token')).toMatch(/^gAAAAA/);
    const t = r.body.token;
    expect(t.methods).toEqual(['password']);
    expect(t.issued_at).toBe('2030-01-01T00:00:00.000000Z');
    expect(t.expires_at).toBe('2030-01-01T02:00:00.000000Z');
    expect(t.user).toMatchObject({ name: 'admin', domain: { id: 'default', name: 'Default' } });
    expect(t.project).toMatchObject({ name: 'demo', domain: { id: 'default', name: 'Default' } });
    const compute = t.catalog.find((c: { type: string }) => c.type === 'compute');
    const image = t.catalog.find((c: { type: string }) => c.type === 'image');
    expect(compute.name).toBe('nova');
    expect(image.name).toBe('glance');
    expect(compute.endpoints.map((x: { interface: string }) => x.interface).sort()).toEqual(['admin', 'internal', 'public']);
    expect(compute.endpoints[0]).toMatchObject({ region: 'RegionOne', region_id: 'RegionOne', url: e.computeUrl });
    expect(image.endpoints[0].url).toBe(e.imageUrl);

    // Scoping by project id gives the same project.
    const byId = await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: authBody({ project: { id: t.project.id } }) });
    expect(byId.status).toBe(201);
    expect(byId.body.token.project.id).toBe(t.project.id);
  });

  it('answers 401 with Keystone error body for a wrong password or a foreign project', async () => {
    const e = await start();
    for (const body of [authBody({ password: 'nope' }), authBody({ user: 'ghost' }), authBody({ project: { name: 'other', domain: { name: 'Default' } } })]) {
      const r = await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body });
      expect(r.status).toBe(401);
      expect(r.headers.get('x-subject-token')).toBeNull();
      expect(r.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    const bad = await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: { nothing: true } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 400, title: 'Bad Request' });
  });

  it('serves the v3 version document; unscoped tokens carry no catalog', async () => {
    const e = await start();
    const v = await call(e.authUrl);
    expect(v.status).toBe(200);
    expect(v.body.version).toMatchObject({ status: 'stable', id: expect.stringMatching(/^v3\./) });
    const u = await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: authBody({ project: null }) });
    expect(u.status).toBe(201);
    expect(u.body.token.catalog).toBeUndefined();
    expect(u.body.token.project).toBeUndefined();
  });

  it('rejects missing, unknown and expired tokens on Nova and Glance with 401', async () => {
    const e = await start({ tokenTtlMs: 60_000 });
    const tok = await token(e);
    expect((await call(`${e.computeUrl}/servers`, { token: tok })).status).toBe(200);
    const missing = await call(`${e.computeUrl}/servers`);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Keystone uri=/);
    expect((await call(`${e.imageUrl}/v2/images`, { token: 'bogus' })).status).toBe(401);
    await clock.advance(60_000);
    expect((await call(`${e.computeUrl}/servers`, { token: tok })).status).toBe(401);
    expect((await call(`${e.imageUrl}/v2/images`, { token: tok })).status).toBe(401);
    const fresh = await token(e);
    emu!.revokeTokens();
    expect((await call(`${e.computeUrl}/flavors`, { token: fresh })).status).toBe(401);
  });
});

describe('Nova servers', () => {
  it('creates a server: 202 with id, links, adminPass, Location; BUILD -> ACTIVE by the clock', async () => {
    const e = await start({ bootTimeMs: 5000 });
    const tok = await token(e);
    const r = await createServer(e, tok, { metadata: { 'nodepool-node-id': '42' }, key_name: 'ci', config_drive: true });
    expect(r.status).toBe(202);
    const s = r.body.server;
    expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(s).toMatchObject({ 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }] });
    expect(typeof s.adminPass).toBe('string');
    expect(s.links).toEqual([
      { rel: 'self', href: `${e.computeUrl}/servers/${s.id}` },
      { rel: 'bookmark', href: `${e.url}/compute/servers/${s.id}` },
    ]);
    expect(r.headers.get('location')).toBe(`${e.computeUrl}/servers/${s.id}`);

    const building = (await call(`${e.computeUrl}/servers/${s.id}`, { token: tok })).body.server;
    expect(building).toMatchObject({
      status: 'BUILD',
      'OS-EXT-STS:task_state': 'spawning',
      'OS-EXT-STS:vm_state': 'building',
      addresses: {},
      metadata: { 'nodepool-node-id': '42' },
      key_name: 'ci',
      config_drive: 'True',
      created: '2030-01-01T00:00:00Z',
      flavor: { id: '2' },
    });
    expect(building.fault).toBeUndefined();

    await clock.advance(4999);
    expect((await call(`${e.computeUrl}/servers/${s.id}`, { token: tok })).body.server.status).toBe('BUILD');
    await clock.advance(1);
    const active = (await call(`${e.computeUrl}/servers/${s.id}`, { token: tok })).body.server;
    expect(active).toMatchObject({
      status: 'ACTIVE',
      'OS-EXT-STS:task_state': null,
      'OS-EXT-AZ:availability_zone': 'nova',
      updated: '2030-01-01T00:00:05Z',
    });
    const addr = active.addresses.public[0];
    expect(addr).toMatchObject({ version: 4, 'OS-EXT-IPS:type': 'fixed' });
    expect(addr.addr).toMatch(/^127\.(\d+)\.(\d+)\.(\d+)$/);
    expect(addr.addr).not.toBe('127.0.0.1');
    expect(e.servers()).toEqual([expect.objectContaining({ id: s.id, name: 'node-1', status: 'ACTIVE', ip: addr.addr, created: START })]);
  });

  it('gives each server its own address', async () => {
    const e = await start({ quota: { instances: -1, cores: -1, ramMb: -1 } });
    const tok = await token(e);
    for (let i = 0; i < 5; i++) expect((await createServer(e, tok, { name: `n${i}` })).status).toBe(202);
    const ips = e.servers().map((s) => s.ip);
    expect(new Set(ips).size).toBe(5);
  });

  it('ends in ERROR with a fault at errorRate 1', async () => {
    const e = await start({ errorRate: 1, bootTimeMs: 100 });
    const tok = await token(e);
    const id = (await createServer(e, tok)).body.server.id;
    await clock.advance(100);
    const s = (await call(`${e.computeUrl}/servers/${id}`, { token: tok })).body.server;
    expect(s.status).toBe('ERROR');
    expect(s['OS-EXT-STS:vm_state']).toBe('error');
    expect(s.fault).toEqual({ code: 500, created: '2030-01-01T00:00:00Z', message: 'No valid host was found. There are not enough hosts available.' });
    expect(s.addresses).toEqual({});
    e.setErrorRate(0);
    const ok = (await createServer(e, tok, { name: 'n2' })).body.server.id;
    await clock.advance(100);
    expect((await call(`${e.computeUrl}/servers/${ok}`, { token: tok })).body.server.status).toBe('ACTIVE');
  });

  it('lists with limit/marker pagination, servers_links next, and name/status filters', async () => {
    const e = await start({ bootTimeMs: 1000 });
    const tok = await token(e);
    const ids: string[] = [];
    for (const name of ['web-1', 'web-2', 'db-1']) {
      ids.push((await createServer(e, tok, { name })).body.server.id);
      await clock.advance(400); // distinct created times; web-1 becomes ACTIVE first
    }
    // Newest first, as Nova sorts by created_at desc.
    const page1 = await call(`${e.computeUrl}/servers/detail?limit=2`, { token: tok });
    expect(page1.status).toBe(200);
    expect(page1.body.servers.map((s: { name: string }) => s.name)).toEqual(['db-1', 'web-2']);
    const next = page1.body.servers_links[0];
    expect(next.rel).toBe('next');
    expect(next.href).toBe(`${e.computeUrl}/servers/detail?limit=2&marker=${ids[1]}`);
    const page2 = await call(next.href, { token: tok });
    expect(page2.body.servers.map((s: { name: string }) => s.name)).toEqual(['web-1']);
    expect(page2.body.servers_links).toBeUndefined();

    const summary = await call(`${e.computeUrl}/servers`, { token: tok });
    expect(summary.body.servers[0]).toEqual({ id: ids[2], name: 'db-1', links: expect.any(Array) });

    const web = await call(`${e.computeUrl}/servers/detail?name=^web-`, { token: tok });
    expect(web.body.servers.map((s: { name: string }) => s.name)).toEqual(['web-2', 'web-1']);
    const active = await call(`${e.computeUrl}/servers/detail?status=ACTIVE`, { token: tok });
    expect(active.body.servers.map((s: { name: string }) => s.name)).toEqual(['web-1']);

    const badMarker = await call(`${e.computeUrl}/servers/detail?marker=nope`, { token: tok });
    expect(badMarker.status).toBe(400);
    expect(badMarker.body).toEqual({ badRequest: { code: 400, message: 'marker [nope] not found' } });
  });

  it('answers 404 itemNotFound for a missing server; DELETE 204 then gone', async () => {
    const e = await start();
    const tok = await token(e);
    const missing = await call(`${e.computeUrl}/servers/00000000-0000-4000-8000-000000000000`, { token: tok });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ itemNotFound: { code: 404, message: 'Instance 00000000-0000-4000-8000-000000000000 could not be found.' } });
    const id = (await createServer(e, tok)).body.server.id;
    const del = await call(`${e.computeUrl}/servers/${id}`, { method: 'DELETE', token: tok });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call(`${e.computeUrl}/servers/${id}`, { token: tok })).status).toBe(404);
    expect((await call(`${e.computeUrl}/servers/${id}`, { method: 'DELETE', token: tok })).status).toBe(404);
    expect(e.servers()).toEqual([]);
  });

  it('keeps a deleted server in task_state deleting for deleteTimeMs; changes-since shows it DELETED', async () => {
    const e = await start({ deleteTimeMs: 2000, bootTimeMs: 0 });
    const tok = await token(e);
    const id = (await createServer(e, tok)).body.server.id;
    await clock.advance(10);
    expect((await call(`${e.computeUrl}/servers/${id}`, { method: 'DELETE', token: tok })).status).toBe(204);
    const deleting = (await call(`${e.computeUrl}/servers/${id}`, { token: tok })).body.server;
    expect(deleting).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:task_state': 'deleting' });
    expect(e.servers()[0].deleting).toBe(true);
    await clock.advance(2000);
    expect((await call(`${e.computeUrl}/servers/${id}`, { token: tok })).status).toBe(404);
    expect((await call(`${e.computeUrl}/servers/detail`, { token: tok })).body.servers).toEqual([]);
    const since = await call(`${e.computeUrl}/servers/detail?changes-since=2030-01-01T00:00:00Z`, { token: tok });
    expect(since.body.servers).toEqual([expect.objectContaining({ id, status: 'DELETED' })]);
  });

  it('validates create bodies with 400 badRequest', async () => {
    const e = await start();
    const tok = await token(e);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: undefined }, /'name' is a required property/],
      [{ flavorRef: 'no-such-flavor' }, /^Flavor no-such-flavor could not be found\.$/],
      [{ imageRef: '5b2c8a4e-0d1f-4c3a-9e7b-000000000000' }, /^Image 5b2c8a4e-0d1f-4c3a-9e7b-000000000000 could not be found\.$/],
      [{ metadata: { a: 1 } }, /Invalid input for field\/attribute metadata/],
      [{ availability_zone: 'mars' }, /availability zone is not available/],
    ];
    for (const [patch, message] of cases) {
      const r = await createServer(e, tok, patch);
      expect(r.status).toBe(400);
      expect(Object.keys(r.body)).toEqual(['badRequest']);
      expect(r.body.badRequest.code).toBe(400);
      expect(r.body.badRequest.message).toMatch(message);
    }
    const malformed = await fetch(`${e.computeUrl}/servers`, { method: 'POST', headers: { 'X-Auth-Token': tok, 'Content-Type': 'application/json' }, body: '{' });
    expect(malformed.status).toBe(400);
    // From 2.37 on, networks is required.
    const noNet = await createServer(e, tok, {}, { 'OpenStack-API-Version': 'compute 2.37' });
    expect(noNet.status).toBe(400);
    expect(noNet.body.badRequest.message).toMatch(/'networks' is a required property/);
    expect((await createServer(e, tok, { networks: 'auto' }, { 'OpenStack-API-Version': 'compute 2.37' })).status).toBe(202);
    expect(e.servers()).toHaveLength(1);
  });

  it('answers 403 with Nova\'s quota text for instances, cores and ram; limits show usage', async () => {
    const e = await start({ quota: { instances: 2, cores: 20, ramMb: 51200 } });
    const tok = await token(e);
    expect((await createServer(e, tok, { name: 'a' })).status).toBe(202);
    expect((await createServer(e, tok, { name: 'b' })).status).toBe(202);
    const over = await createServer(e, tok, { name: 'c' });
    expect(over.status).toBe(403);
    expect(over.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 2 of 2 instances' } });

    e.setQuota({ instances: 10, cores: 3 });
    const cores = await createServer(e, tok, { name: 'c', flavorRef: '3' }); // 2 vcpus, 2 used of 3
    expect(cores.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded for cores: Requested 2, but already used 2 of 3 cores' } });
    e.setQuota({ cores: -1, ramMb: 4096 });
    const ram = await createServer(e, tok, { name: 'c', flavorRef: '1' });
    expect(ram.body.forbidden.message).toBe('Quota exceeded for ram: Requested 512, but already used 4096 of 4096 ram');

    const limits = await call(`${e.computeUrl}/limits`, { token: tok });
    expect(limits.status).toBe(200);
    expect(limits.body.limits.rate).toEqual([]);
    expect(limits.body.limits.absolute).toMatchObject({
      maxTotalInstances: 10,
      maxTotalCores: -1,
      maxTotalRAMSize: 4096,
      totalInstancesUsed: 2,
      totalCoresUsed: 2,
      totalRAMUsed: 4096,
    });
  });

  it('answers 429 overLimit with Retry-After beyond rateLimitPerSecond, then recovers the next second', async () => {
    const e = await start({ rateLimitPerSecond: 3 });
    const tok = await token(e);
    await clock.advance(250);
    for (let i = 0; i < 3; i++) expect((await call(`${e.computeUrl}/flavors`, { token: tok })).status).toBe(200);
    const limited = await call(`${e.computeUrl}/servers`, { token: tok });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.body).toEqual({ overLimit: { code: 429, message: 'This request was rate-limited.', retryAfter: '1' } });
    expect((await call(`${e.imageUrl}/v2/images`, { token: tok })).status).toBe(429);
    // Keystone is not behind the limiter.
    expect((await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: authBody() })).status).toBe(201);
    await clock.advance(750);
    expect((await call(`${e.computeUrl}/servers`, { token: tok })).status).toBe(200);
  });
});

describe('Nova microversions, flavors and snapshots', () => {
  it('echoes the negotiated version with Vary; 406 beyond the range, 400 for a malformed one', async () => {
    const e = await start();
    const tok = await token(e);
    const base = await call(`${e.computeUrl}/flavors`, { token: tok });
    expect(base.headers.get('openstack-api-version')).toBe('compute 2.1');
    expect(base.headers.get('x-openstack-nova-api-version')).toBe('2.1');
    expect(base.headers.get('vary')).toBe('OpenStack-API-Version, X-OpenStack-Nova-API-Version');
    const modern = await call(`${e.computeUrl}/flavors`, { token: tok, headers: { 'OpenStack-API-Version': 'compute 2.79' } });
    expect(modern.headers.get('openstack-api-version')).toBe('compute 2.79');
    const legacy = await call(`${e.computeUrl}/flavors`, { token: tok, headers: { 'X-OpenStack-Nova-API-Version': '2.20' } });
    expect(legacy.headers.get('x-openstack-nova-api-version')).toBe('2.20');
    const latest = await call(`${e.computeUrl}/flavors`, { token: tok, headers: { 'OpenStack-API-Version': 'compute latest' } });
    expect(latest.headers.get('openstack-api-version')).toBe('compute 2.96');

    const tooNew = await call(`${e.computeUrl}/servers`, { token: tok, headers: { 'OpenStack-API-Version': 'compute 3.0' } });
    expect(tooNew.status).toBe(406);
    expect(tooNew.body).toEqual({ computeFault: { code: 406, message: 'Version 3.0 is not supported by the API. Minimum is 2.1 and maximum is 2.96.' } });
    const malformed = await call(`${e.computeUrl}/servers`, { token: tok, headers: { 'OpenStack-API-Version': 'compute two' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.badRequest.message).toMatch(/invalid format/);
  });

  it('lists flavors in detail and by id; embeds the flavor in servers from 2.47', async () => {
    const e = await start();
    const tok = await token(e);
    const detail = await call(`${e.computeUrl}/flavors/detail`, { token: tok });
    expect(detail.body.flavors.map((f: { name: string }) => f.name)).toEqual(['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge']);
    expect(detail.body.flavors[1]).toMatchObject({ id: '2', ram: 2048, vcpus: 1, disk: 20, 'OS-FLV-DISABLED:disabled': false, 'os-flavor-access:is_public': true });
    expect((await call(`${e.computeUrl}/flavors/3`, { token: tok })).body.flavor).toMatchObject({ name: 'm1.medium', ram: 4096 });
    const missing = await call(`${e.computeUrl}/flavors/99`, { token: tok });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ itemNotFound: { code: 404, message: 'Flavor 99 could not be found.' } });

    const id = (await createServer(e, tok)).body.server.id;
    const v247 = await call(`${e.computeUrl}/servers/${id}`, { token: tok, headers: { 'OpenStack-API-Version': 'compute 2.47' } });
    expect(v247.body.server.flavor).toEqual({ vcpus: 1, ram: 2048, disk: 20, ephemeral: 0, swap: 0, original_name: 'm1.small', extra_specs: {} });
  });

  it('createImage: Location before 2.45, image_id from 2.45; the image goes queued -> saving -> active', async () => {
    const e = await start({ bootTimeMs: 1, imageTimeMs: 1000 });
    const tok = await token(e);
    const id = (await createServer(e, tok)).body.server.id;
    const early = await call(`${e.computeUrl}/servers/${id}/action`, { method: 'POST', token: tok, body: { createImage: { name: 'snap' } } });
    expect(early.status).toBe(409);
    expect(early.body.conflictingRequest.message).toMatch(/Cannot 'createImage' instance .* while it is in vm_state building/);
    await clock.advance(1);

    const old = await call(`${e.computeUrl}/servers/${id}/action`, { method: 'POST', token: tok, body: { createImage: { name: 'snap-old' } } });
    expect(old.status).toBe(202);
    expect(old.text).toBe('');
    expect(old.headers.get('location')).toMatch(new RegExp(`^${e.imageUrl}/images/[0-9a-f-]{36}$`));

    const r = await call(`${e.computeUrl}/servers/${id}/action`, {
      method: 'POST',
      token: tok,
      headers: { 'OpenStack-API-Version': 'compute 2.45' },
      body: { createImage: { name: 'snap', metadata: { 'nodepool-image-id': '7' } } },
    });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBeNull();
    const imgId = r.body.image_id;
    const show = () => call(`${e.imageUrl}/v2/images/${imgId}`, { token: tok });
    expect((await show()).body).toMatchObject({ id: imgId, name: 'snap', status: 'queued', 'nodepool-image-id': '7', image_type: 'snapshot', instance_uuid: id });
    await clock.advance(500);
    expect((await show()).body.status).toBe('saving');
    await clock.advance(500);
    expect((await show()).body.status).toBe('active');
  });
});

describe('Glance v2', () => {
  const images = Array.from({ length: 5 }, (_, i) => ({ name: `img-${i}`, owned: i !== 0 }));

  it('pages with limit/marker and a relative next link; filters by name and status', async () => {
    const e = await start({ images });
    const tok = await token(e);
    const p1 = await call(`${e.imageUrl}/v2/images?limit=2`, { token: tok });
    expect(p1.status).toBe(200);
    expect(p1.body.images).toHaveLength(2);
    expect(p1.body.first).toBe('/v2/images?limit=2');
    expect(p1.body.schema).toBe('/v2/schemas/images');
    expect(p1.body.next).toBe(`/v2/images?limit=2&marker=${p1.body.images[1].id}`);
    const seen = [...p1.body.images];
    let next: string | undefined = p1.body.next;
    while (next) {
      const p = await call(`${e.imageUrl}${next}`, { token: tok });
      seen.push(...p.body.images);
      next = p.body.next;
    }
    expect(seen.map((i) => i.name).sort()).toEqual(images.map((i) => i.name));
    expect(seen[0]).toMatchObject({ status: 'active', visibility: 'public', container_format: 'bare', disk_format: 'qcow2', self: `/v2/images/${seen[0].id}` });

    const byName = await call(`${e.imageUrl}/v2/images?name=img-3`, { token: tok });
    expect(byName.body.images.map((i: { name: string }) => i.name)).toEqual(['img-3']);
    expect((await call(`${e.imageUrl}/v2/images?status=queued`, { token: tok })).body.images).toEqual([]);
  });

  it('shows, deletes (204), refuses an operator image (403) and answers 404 as webob renders it', async () => {
    const e = await start({ images });
    const tok = await token(e);
    const list = (await call(`${e.imageUrl}/v2/images`, { token: tok })).body.images as { id: string; name: string }[];
    const mine = list.find((i) => i.name === 'img-1')!;
    const operator = list.find((i) => i.name === 'img-0')!;
    expect((await call(`${e.imageUrl}/v2/images/${mine.id}`, { token: tok })).body.name).toBe('img-1');
    const del = await call(`${e.imageUrl}/v2/images/${mine.id}`, { method: 'DELETE', token: tok });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');

    const json = await call(`${e.imageUrl}/v2/images/${mine.id}`, { token: tok, headers: { Accept: 'application/json' } });
    expect(json.status).toBe(404);
    expect(json.body).toEqual({ code: '404 Not Found', title: 'Not Found', message: `No image found with ID ${mine.id}<br /><br />\n\n\n` });
    const html = await call(`${e.imageUrl}/v2/images/${mine.id}`, { method: 'DELETE', token: tok });
    expect(html.status).toBe(404);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toContain('<h1>404 Not Found</h1>');
    expect(html.text).toContain(`No image found with ID ${mine.id}`);

    const refused = await call(`${e.imageUrl}/v2/images/${operator.id}`, { method: 'DELETE', token: tok, headers: { Accept: 'application/json' } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('403 Forbidden');
  });
});

describe('Neutron v2.0 networks', () => {
  it('lists networks by name; a server on a named network shows its address under that name', async () => {
    const e = await start({ networks: [{ name: 'public' }, { name: 'ci-net', id: '6f1f5b2e-3a4c-4d5e-8f90-a1b2c3d4e5f6' }], bootTimeMs: 0 });
    const tok = await token(e);
    const catalog = (await call(`${e.authUrl}/auth/tokens`, { method: 'POST', body: authBody() })).body.token.catalog;
    expect(catalog.find((c: { type: string }) => c.type === 'network').endpoints[0].url).toBe(e.networkUrl);
    const r = await call(`${e.networkUrl}/v2.0/networks?name=ci-net`, { token: tok });
    expect(r.status).toBe(200);
    expect(r.body.networks).toEqual([expect.objectContaining({ id: '6f1f5b2e-3a4c-4d5e-8f90-a1b2c3d4e5f6', name: 'ci-net', status: 'ACTIVE' })]);
    const missing = await call(`${e.networkUrl}/v2.0/networks/5b2c8a4e-0d1f-4c3a-9e7b-000000000000`, { token: tok });
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError).toMatchObject({ type: 'NetworkNotFound' });
    expect((await call(`${e.networkUrl}/v2.0/networks`)).status).toBe(401);

    const v = { 'OpenStack-API-Version': 'compute 2.79' };
    const unknown = await createServer(e, tok, { networks: [{ uuid: '5b2c8a4e-0d1f-4c3a-9e7b-000000000000' }] }, v);
    expect(unknown.body).toEqual({ badRequest: { code: 400, message: 'Network 5b2c8a4e-0d1f-4c3a-9e7b-000000000000 could not be found.' } });
    const id = (await createServer(e, tok, { networks: [{ uuid: '6f1f5b2e-3a4c-4d5e-8f90-a1b2c3d4e5f6' }] }, v)).body.server.id;
    // Two networks visible: Nova cannot choose for "auto" (real Nova Zed answers exactly this).
    const auto = await createServer(e, tok, { name: 'n2', networks: 'auto' }, v);
    expect(auto.status).toBe(409);
    expect(auto.body).toEqual({ conflictingRequest: { code: 409, message: 'Multiple possible networks found, use a Network ID to be more specific.' } });
    await clock.advance(1);
    expect(Object.keys((await call(`${e.computeUrl}/servers/${id}`, { token: tok })).body.server.addresses)).toEqual(['ci-net']);
  });

  it('networks as Nova (>= 2.37) treats them: auto on the one network, 400 with none to allocate, none without a port', async () => {
    const v = { 'OpenStack-API-Version': 'compute 2.79' };
    const one = await start({ networks: [{ name: 'only' }], bootTimeMs: 0 });
    const tok1 = await token(one);
    const onAuto = (await createServer(one, tok1, { networks: 'auto' }, v)).body.server.id;
    const noNet = (await createServer(one, tok1, { name: 'n0', networks: 'none' }, v)).body.server.id;
    await clock.advance(1);
    const shown = (await call(`${one.computeUrl}/servers/${onAuto}`, { token: tok1 })).body.server;
    expect(Object.keys(shown.addresses)).toEqual(['only']);
    expect(shown.security_groups).toEqual([{ name: 'default' }]);
    const bare = (await call(`${one.computeUrl}/servers/${noNet}`, { token: tok1 })).body.server;
    expect(bare.status).toBe('ACTIVE');
    expect(bare.addresses).toEqual({});
    // Nova builds security_groups from ports: a server without one has no such key (NOTES.md).
    expect('security_groups' in bare).toBe(false);

    const zero = await start({ networks: [], bootTimeMs: 0 });
    const tok0 = await token(zero);
    const r = await createServer(zero, tok0, { networks: 'auto' }, v);
    expect(r.status).toBe(400);
    expect(r.body.badRequest.message).toMatch(/^Unable to automatically allocate a network for project [0-9a-f]+$/);
    expect((await createServer(zero, tok0, { networks: 'none' }, v)).status).toBe(202);

    const six = await start({ networks: [{ name: 'v6', ipVersion: 6 }], bootTimeMs: 0 });
    const tok6 = await token(six);
    const sid = (await createServer(six, tok6, { networks: 'auto' }, v)).body.server.id;
    await clock.advance(1);
    const [addr] = (await call(`${six.computeUrl}/servers/${sid}`, { token: tok6 })).body.server.addresses.v6;
    expect(addr).toMatchObject({ version: 6, 'OS-EXT-IPS:type': 'fixed' });
    expect(addr.addr).toMatch(/^fd00:/);
  });
});

describe('call counting and lifecycle', () => {
  it('counts calls by METHOD and path template; resets', async () => {
    const e = await start();
    const tok = await token(e);
    const id = (await createServer(e, tok)).body.server.id;
    await call(`${e.computeUrl}/servers/${id}`, { token: tok });
    await call(`${e.computeUrl}/servers/detail?limit=5`, { token: tok });
    await call(`${e.computeUrl}/servers/${id}`, { method: 'DELETE', token: tok });
    await call(`${e.url}/nowhere`);
    expect(e.calls()).toEqual({
      'POST /identity/v3/auth/tokens': 1,
      'GET /image/v2/images': 1,
      'POST /compute/v2.1/servers': 1,
      'GET /compute/v2.1/servers/{id}': 1,
      'GET /compute/v2.1/servers/detail': 1,
      'DELETE /compute/v2.1/servers/{id}': 1,
      'GET /nowhere': 1,
    });
    expect(e.totalCalls()).toBe(7);
    expect((await call(`${e.computeUrl}/no-such-thing`, { token: tok })).status).toBe(404);
    e.resetCalls();
    expect(e.calls()).toEqual({});
    expect(e.totalCalls()).toBe(0);
  });

  it('close() is idempotent and stops answering', async () => {
    const e = await start();
    const url = e.authUrl;
    await Promise.all([e.close(), e.close()]);
    await e.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});

describe('emulated SSH', () => {
  const keys = utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const stranger = utils.generateKeyPairSync('ecdsa', { bits: 256 });

  function exec(host: string, port: number, privateKey: string, command: string): Promise<{ out: string; code: number | null }> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      const timer = setTimeout(() => {
        c.end();
        reject(new Error('ssh timed out'));
      }, 10_000);
      c.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      c.on('ready', () => {
        c.exec(command, (err, stream) => {
          if (err) return reject(err);
          let out = '';
          let code: number | null = null;
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.on('exit', (c2: number) => (code = c2));
          stream.on('close', () => {
            clearTimeout(timer);
            c.end();
            resolve({ out, code });
          });
        });
      });
      c.connect({ host, port, username: 'jenkins', privateKey, readyTimeout: 10_000 });
    });
  }

  it('answers on the server address once ACTIVE: echo prints, other commands exit 0; closes on delete', async () => {
    const e = await start({ ssh: true, bootTimeMs: 1000, sshAuthorizedKeys: [keys.public] });
    expect(e.sshPort).toBeGreaterThan(0);
    expect(e.sshHostPublicKey).toMatch(/^ecdsa-sha2-nistp256 /);
    const tok = await token(e);
    const id = (await createServer(e, tok)).body.server.id;
    const ip = e.servers()[0].ip!;
    await e.sync();
    await expect(exec(ip, e.sshPort, keys.private, 'echo hi')).rejects.toThrow(/ECONNREFUSED/);

    await clock.advance(1000);
    await e.sync();
    expect(await exec(ip, e.sshPort, keys.private, 'echo hello "big world"')).toEqual({ out: 'hello big world\n', code: 0 });
    expect(await exec(ip, e.sshPort, keys.private, 'uname -a')).toEqual({ out: '', code: 0 });
    await expect(exec(ip, e.sshPort, stranger.private, 'echo hi')).rejects.toThrow(/authentication/i);

    expect((await call(`${e.computeUrl}/servers/${id}`, { method: 'DELETE', token: tok })).status).toBe(204);
    await e.sync();
    await expect(exec(ip, e.sshPort, keys.private, 'echo hi')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('accepts any key when no authorized keys are given', async () => {
    const e = await start({ ssh: true, bootTimeMs: 0 });
    const tok = await token(e);
    await createServer(e, tok);
    await e.sync();
    expect(await exec(e.servers()[0].ip!, e.sshPort, stranger.private, 'echo ok')).toEqual({ out: 'ok\n', code: 0 });
  });
});
