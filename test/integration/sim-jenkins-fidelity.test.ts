// The simulated master's Jenkins REST API driven with plain HTTP the way python-jenkins calls a
// real Jenkins 2.4xx (its URL formats: computer/doCreateItem?name=...&type=...%24DescriptorImpl&json=...,
// computer/NAME/api/json?depth=N, me/api/json?depth=0, GET / for the X-Jenkins header), asserting
// status codes, headers and JSON shapes. Sources per endpoint: the table in src/sim/jenkins-api.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { startLoad } from '../../src/sim/load.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';

const USER = 'nodepool';
const TOKEN = '11d6f7d8c9e0a1b2c3d4e5f6a7b8c9d0e1';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}` };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function call(sim: SimMaster, method: 'GET' | 'POST' | 'PUT', path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const res = await request(sim.jenkinsUrl + path, { method, headers: { ...AUTH, ...opts.headers }, body: opts.body });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function json<T = Record<string, unknown>>(sim: SimMaster, path: string): Promise<T> {
  const a = await call(sim, 'GET', path);
  expect(a.status, `${path}: ${a.text.slice(0, 200)}`).toBe(200);
  expect(a.headers['content-type']).toBe('application/json;charset=utf-8');
  return JSON.parse(a.text) as T;
}

/** python-jenkins maybe_add_crumb: GET crumbIssuer/api/json, then the field as a header. */
async function crumb(sim: SimMaster): Promise<Record<string, string>> {
  const c = await json<{ crumb: string; crumbRequestField: string }>(sim, 'crumbIssuer/api/json');
  return { [c.crumbRequestField]: c.crumb };
}

/** python-jenkins create_node's parameters (default CommandLauncher, numExecutors 2). */
function createNodeQuery(name: string, inner: Record<string, unknown> = {}, type = 'hudson.slaves.DumbSlave$DescriptorImpl'): string {
  const json = {
    nodeDescription: `desc ${name}`,
    numExecutors: 2,
    remoteFS: '/var/lib/jenkins',
    labelString: 'trusty big',
    mode: 'NORMAL',
    retentionStrategy: { 'stapler-class': 'hudson.slaves.RetentionStrategy$Always' },
    nodeProperties: { 'stapler-class-bag': 'true' },
    launcher: { 'stapler-class': 'hudson.slaves.CommandLauncher' },
    ...inner,
  };
  return new URLSearchParams({ name, type, json: JSON.stringify(json) }).toString();
}

describe('simulated Jenkins answers as Jenkins 2.4xx does', () => {
  let sim: SimMaster;

  beforeAll(async () => {
    sim = await startSimMaster({ gearman: [], user: USER, apiToken: TOKEN, jobs: [{ name: 'unit', labels: ['trusty'] }], log: silentLogger });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('GET / carries X-Jenkins, X-Hudson, X-Jenkins-Session and X-Instance-Identity (python-jenkins get_version)', async () => {
    const a = await call(sim, 'GET', '', { headers: { 'X-Jenkins': '0.0' } });
    expect(a.status).toBe(200);
    expect(a.headers['x-jenkins']).toMatch(/^2\.4\d\d\.\d+$/);
    expect(a.headers['x-hudson']).toBe('1.395');
    expect(a.headers['x-jenkins-session']).toMatch(/^[0-9a-f]{8}$/);
    expect(Buffer.from(String(a.headers['x-instance-identity']), 'base64').length).toBeGreaterThan(256);
    expect(a.headers['x-you-are-authenticated-as']).toBe(USER);
    expect(a.headers['content-type']).toBe('text/html;charset=utf-8');
    // Error answers carry the version headers too, with the same session.
    const missing = await call(sim, 'GET', 'no/such/page');
    expect(missing.status).toBe(404);
    expect(missing.headers['x-jenkins']).toBe(a.headers['x-jenkins']);
    expect(missing.headers['x-jenkins-session']).toBe(a.headers['x-jenkins-session']);
  });

  it('GET /api/json is hudson.model.Hudson; GET /me/api/json is the caller (get_info, get_whoami)', async () => {
    const root = await json(sim, 'api/json');
    expect(root).toMatchObject({
      _class: 'hudson.model.Hudson',
      mode: 'EXCLUSIVE',
      nodeDescription: "the Jenkins controller's built-in node",
      numExecutors: 0,
      useCrumbs: true,
      useSecurity: true,
      url: sim.jenkinsUrl,
      primaryView: { _class: 'hudson.model.AllView', name: 'all' },
    });
    expect(root.jobs).toEqual([{ _class: 'hudson.model.FreeStyleProject', name: 'unit', url: `${sim.jenkinsUrl}job/unit/`, color: 'notbuilt' }]);
    const me = await json(sim, 'me/api/json?depth=0');
    expect(me).toMatchObject({ _class: 'hudson.model.User', id: USER, fullName: USER, absoluteUrl: `${sim.jenkinsUrl}user/${USER}`, description: null });
    expect((me.property as { _class: string }[]).map((p) => p._class)).toContain('jenkins.security.ApiTokenProperty');
  });

  it('GET /crumbIssuer/api/json is a DefaultCrumbIssuer with the Jenkins-Crumb field', async () => {
    const c = await json(sim, 'crumbIssuer/api/json');
    expect(Object.keys(c).sort()).toEqual(['_class', 'crumb', 'crumbRequestField']);
    expect(c).toMatchObject({ _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumbRequestField: 'Jenkins-Crumb' });
  });

  it('create_node as python-jenkins sends it: query parameters, type hudson.slaves.DumbSlave$DescriptorImpl', async () => {
    const q = createNodeQuery('py-1');
    expect(q).toContain('type=hudson.slaves.DumbSlave%24DescriptorImpl');
    const a = await call(sim, 'POST', `computer/doCreateItem?${q}`, { headers: await crumb(sim), body: '' });
    expect(a.status).toBe(302);
    expect(a.headers.location).toBe(`${sim.jenkinsUrl}computer/`);
    // node_exists / get_node_info: computer/NAME/api/json?depth=0
    const n = await json(sim, 'computer/py-1/api/json?depth=0');
    expect(n).toMatchObject({
      _class: 'hudson.slaves.SlaveComputer',
      displayName: 'py-1',
      description: 'desc py-1',
      numExecutors: 2,
      executors: [{}, {}],
      idle: true,
      offline: false,
      temporarilyOffline: false,
      offlineCause: null,
      offlineCauseReason: '',
      oneOffExecutors: [],
      jnlpAgent: false,
    });
    expect(n.assignedLabels).toEqual([{ name: 'trusty' }, { name: 'big' }, { name: 'py-1' }]);
  });

  it('create_node as the UI posts it: type hudson.slaves.DumbSlave and the json field in the form body', async () => {
    const body = createNodeQuery('ui-1', { launcher: { 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher', host: '203.0.113.9', port: '2222', credentialsId: 'ssh' } }, 'hudson.slaves.DumbSlave');
    const a = await call(sim, 'POST', 'computer/doCreateItem', { headers: { ...FORM, ...(await crumb(sim)) }, body });
    expect(a.status).toBe(302);
    expect(sim.nodes().find((n) => n.name === 'ui-1')).toMatchObject({ host: '203.0.113.9', port: 2222, labels: ['trusty', 'big'], via: 'rest' });
    // The crumb may also come as a form field.
    const c = await crumb(sim);
    const asField = await call(sim, 'POST', 'computer/doCreateItem', { headers: FORM, body: `${createNodeQuery('ui-2')}&Jenkins-Crumb=${c['Jenkins-Crumb']}` });
    expect(asField.status).toBe(302);
  });

  it('doCreateItem refuses as ComputerSet.checkName does: taken, missing, unsafe names 400; unknown type 500; GET 405', async () => {
    const h = await crumb(sim);
    await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('dup')}`, { headers: h });
    const dup = await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('dup')}`, { headers: h });
    expect(dup.status).toBe(400);
    expect(dup.headers['content-type']).toBe('text/html;charset=utf-8');
    expect(dup.text).toContain('Agent called ‘dup’ already exists');
    const builtIn = await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('(built-in)')}`, { headers: h });
    expect(builtIn.text).toContain('already exists');
    const noName = await call(sim, 'POST', 'computer/doCreateItem?type=hudson.slaves.DumbSlave&json=%7B%7D', { headers: h });
    expect(noName.status).toBe(400);
    expect(noName.text).toContain("Query parameter 'name' is required");
    const unsafe = await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('a/b')}`, { headers: h });
    expect(unsafe.status).toBe(400);
    expect(unsafe.text).toContain('‘/’ is an unsafe character');
    // NodeDescriptor.all().find(type) is null: a NullPointerException, Jenkins' "Oops!" page.
    const badType = await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('t-1', {}, 'hudson.slaves.NoSuchSlave')}`, { headers: h });
    expect(badType.status).toBe(500);
    expect(badType.text).toContain('Oops!');
    expect(sim.nodes().some((n) => n.name === 't-1')).toBe(false);
    const get = await call(sim, 'GET', `computer/doCreateItem?${createNodeQuery('g-1')}`);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(get.text).toContain('This URL requires POST');
  });

  it('GET /computer/api/json?depth=N: ComputerSet with the built-in node first, executor counts, displayName Nodes', async () => {
    const set = await json<{ _class: string; busyExecutors: number; totalExecutors: number; displayName: string; computer: Record<string, unknown>[] }>(sim, 'computer/api/json?depth=1');
    expect(Object.keys(set).sort()).toEqual(['_class', 'busyExecutors', 'computer', 'displayName', 'totalExecutors']);
    expect(set).toMatchObject({ _class: 'hudson.model.ComputerSet', displayName: 'Nodes', busyExecutors: 0 });
    expect(set.computer[0]).toMatchObject({ _class: 'hudson.model.Hudson$MasterComputer', displayName: 'Built-In Node', numExecutors: 0, executors: [], assignedLabels: [{ name: 'built-in' }] });
    const agents = set.computer.slice(1);
    expect(agents.map((c) => c.displayName)).toEqual(sim.nodes().map((n) => n.name));
    expect(set.totalExecutors).toBe(agents.filter((c) => !c.offline).reduce((n, c) => n + (c.numExecutors as number), 0));
    // depth=1 shows each executor's fields (no _class: an Executor is the declared type).
    expect((agents[0].executors as unknown[])[0]).toEqual({ currentExecutable: null, idle: true, likelyStuck: false, number: 0, progress: -1 });
    const built = await json(sim, 'computer/(built-in)/api/json');
    expect(built.displayName).toBe('Built-In Node');
  });

  it('toggleOffline and changeOfflineCause: UserCause, offlineCauseReason without the "Disconnected by" prefix, 302 to the computer', async () => {
    const h = await crumb(sim);
    await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('off-1')}`, { headers: h });
    // python-jenkins disable_node: computer/NAME/toggleOffline?offlineMessage=...
    const t = await call(sim, 'POST', `computer/off-1/toggleOffline?offlineMessage=${encodeURIComponent('  going away  ')}`, { headers: h });
    expect(t.status).toBe(302);
    expect(t.headers.location).toBe(`${sim.jenkinsUrl}computer/off-1/`);
    expect(await json(sim, 'computer/off-1/api/json')).toMatchObject({
      offline: true,
      temporarilyOffline: true,
      offlineCauseReason: 'going away',
      offlineCause: { _class: 'hudson.slaves.OfflineCause$UserCause' },
      icon: 'symbol-computer-x',
    });
    const deep = await json<{ offlineCause: Record<string, unknown> }>(sim, 'computer/off-1/api/json?depth=1');
    expect(deep.offlineCause).toMatchObject({ _class: 'hudson.slaves.OfflineCause$UserCause', description: `Disconnected by ${USER} : going away` });
    expect(typeof deep.offlineCause.timestamp).toBe('number');
    const c = await call(sim, 'POST', 'computer/off-1/changeOfflineCause', { headers: { ...FORM, ...h }, body: 'offlineMessage=new+reason' });
    expect(c.status).toBe(302);
    expect(await json(sim, 'computer/off-1/api/json')).toMatchObject({ temporarilyOffline: true, offlineCauseReason: 'new reason' });
    // enable_node: a second toggle brings it back online, with no cause.
    await call(sim, 'POST', 'computer/off-1/toggleOffline?offlineMessage=', { headers: h });
    expect(await json(sim, 'computer/off-1/api/json')).toMatchObject({ offline: false, temporarilyOffline: false, offlineCause: null, offlineCauseReason: '' });
    // changeOfflineCause on an online agent takes it offline.
    await call(sim, 'POST', 'computer/off-1/changeOfflineCause?offlineMessage=x', { headers: h });
    expect(await json(sim, 'computer/off-1/api/json')).toMatchObject({ temporarilyOffline: true, offlineCauseReason: 'x' });
    for (const action of ['toggleOffline', 'changeOfflineCause', 'doDelete']) {
      const get = await call(sim, 'GET', `computer/off-1/${action}`);
      expect(get.status, action).toBe(405);
      expect(get.headers.allow).toBe('POST');
    }
  });

  it('config.xml: GET is the agent as XStream writes a DumbSlave, POST replaces it (and renames), other methods 400', async () => {
    const h = await crumb(sim);
    const body = createNodeQuery('cfg-1', { launcher: { 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher', host: '198.51.100.8', port: '22', credentialsId: 'ssh-cred' } });
    await call(sim, 'POST', 'computer/doCreateItem', { headers: { ...FORM, ...h }, body });
    const got = await call(sim, 'GET', 'computer/cfg-1/config.xml');
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('application/xml');
    expect(got.text).toMatch(/^<\?xml version="1\.1" encoding="UTF-8"\?>\n<slave>/);
    expect(got.text).toContain('<name>cfg-1</name>');
    expect(got.text).toContain('<label>trusty big</label>');
    expect(got.text).toContain('<numExecutors>2</numExecutors>');
    expect(got.text).toContain('<launcher class="hudson.plugins.sshslaves.SSHLauncher"');
    expect(got.text).toContain('<host>198.51.100.8</host>');
    // python-jenkins reconfig_node: POST computer/NAME/config.xml with the XML as the body.
    const xml = got.text.replace('<label>trusty big</label>', '<label>xenial</label>').replace('<description>desc cfg-1</description>', '<description>a &amp; b</description>');
    const post = await call(sim, 'POST', 'computer/cfg-1/config.xml', { headers: { 'content-type': 'text/xml; charset=utf-8', ...h }, body: xml });
    expect(post.status).toBe(200);
    expect(post.text).toBe('');
    expect(await json(sim, 'computer/cfg-1/api/json')).toMatchObject({ description: 'a & b', assignedLabels: [{ name: 'xenial' }, { name: 'cfg-1' }] });
    const renamed = await call(sim, 'POST', 'computer/cfg-1/config.xml', { headers: h, body: xml.replace('<name>cfg-1</name>', '<name>cfg-2</name>') });
    expect(renamed.status).toBe(200);
    expect((await call(sim, 'GET', 'computer/cfg-1/api/json')).status).toBe(404);
    expect((await json(sim, 'computer/cfg-2/api/json')).displayName).toBe('cfg-2');
    const wrongType = await call(sim, 'POST', 'computer/cfg-2/config.xml', { headers: h, body: '<hudson.plugins.other.Agent><name>cfg-2</name></hudson.plugins.other.Agent>' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.text).toContain('Node types do not match');
    const put = await call(sim, 'PUT', 'computer/cfg-2/config.xml', { headers: h, body: xml });
    expect(put.status).toBe(400);
    expect((await call(sim, 'GET', 'computer/nope/config.xml')).status).toBe(404);
  });

  it('doDelete redirects to /computer/; the built-in node cannot be deleted', async () => {
    const h = await crumb(sim);
    await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('del-1')}`, { headers: h });
    const d = await call(sim, 'POST', 'computer/del-1/doDelete', { headers: h });
    expect(d.status).toBe(302);
    expect(d.headers.location).toBe(`${sim.jenkinsUrl}computer/`);
    expect(sim.nodes().some((n) => n.name === 'del-1')).toBe(false);
    expect((await call(sim, 'POST', 'computer/(built-in)/doDelete', { headers: h })).status).toBe(400);
  });

  it('errors: unknown computer 404 Jetty page, missing crumb 403, bad token 401 with WWW-Authenticate', async () => {
    const nf = await call(sim, 'GET', 'computer/no-such-node/api/json?depth=0');
    expect(nf.status).toBe(404);
    expect(nf.headers['content-type']).toBe('text/html;charset=utf-8');
    expect(nf.text).toContain('<h2>HTTP ERROR 404 Not Found</h2>');
    expect(nf.text).toContain('<tr><th>URI:</th><td>/computer/no-such-node/api/json</td></tr>');
    expect(nf.text).toContain('<tr><th>SERVLET:</th><td>Stapler</td></tr>');
    const h = await crumb(sim);
    expect((await call(sim, 'POST', 'computer/no-such-node/toggleOffline', { headers: h })).status).toBe(404);
    const noCrumb = await call(sim, 'POST', `computer/doCreateItem?${createNodeQuery('nc-1')}`);
    expect(noCrumb.status).toBe(403);
    expect(noCrumb.text).toContain('HTTP ERROR 403 No valid crumb was included in the request');
    expect(sim.nodes().some((n) => n.name === 'nc-1')).toBe(false);
    const bad = await call(sim, 'GET', 'me/api/json', { headers: { authorization: `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}` } });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Basic realm="Jenkins"');
    expect(bad.headers['x-jenkins']).toBeDefined();
    expect(bad.text).toContain(`Invalid password/token for user: ${USER}`);
  });
});

describe('simulated Jenkins executors while a build runs', () => {
  let gearmand: Gearmand;
  let sim: SimMaster;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    gearmand = await startGearmand();
    sim = await startSimMaster({
      gearman: [{ host: gearmand.host, port: gearmand.port }],
      user: USER,
      apiToken: TOKEN,
      clock,
      buildDurationMs: 60_000,
      jobs: [{ name: 'unit', labels: ['trusty'] }],
      log: silentLogger,
    });
  });
  afterAll(async () => {
    await sim?.close();
    await gearmand?.stop();
  });

  it('shows the running build as currentExecutable: {} at depth 0, {_class} at depth 1, the build at depth 2', async () => {
    const h = await crumb(sim);
    const q = createNodeQuery('run-1', { numExecutors: 1, launcher: { 'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher', host: 'h', port: '22', credentialsId: 'c' } });
    expect((await call(sim, 'POST', `computer/doCreateItem?${q}`, { headers: h })).status).toBe(302);
    await waitFor(() => sim.nodes().find((n) => n.registered), { what: 'node registered' });
    const load = startLoad({ gearman: [{ host: gearmand.host, port: gearmand.port }], jobs: [{ name: 'unit', label: 'trusty' }], count: 1 });
    try {
      await waitFor(() => sim.builds().length === 1, { what: 'build started' });
      expect(await json(sim, 'computer/run-1/api/json')).toMatchObject({ idle: false, offline: false, executors: [{}] });
      const d1 = await json<{ executors: Record<string, unknown>[] }>(sim, 'computer/run-1/api/json?depth=1');
      expect(d1.executors[0]).toMatchObject({ currentExecutable: { _class: 'hudson.model.FreeStyleBuild' }, idle: false, number: 0, likelyStuck: false });
      expect(Object.keys(d1.executors[0].currentExecutable as object)).toEqual(['_class']);
      // python-jenkins get_running_builds: depth=2, executable with number and url.
      const d2 = await json<{ executors: { currentExecutable: Record<string, unknown>; number: number }[] }>(sim, 'computer/run-1/api/json?depth=2');
      expect(d2.executors[0].currentExecutable).toMatchObject({ _class: 'hudson.model.FreeStyleBuild', number: 1, url: `${sim.jenkinsUrl}job/unit/1/`, building: true, result: null, fullDisplayName: 'unit #1', builtOn: 'run-1' });
      const set = await json<{ busyExecutors: number; totalExecutors: number }>(sim, 'computer/api/json');
      expect(set).toMatchObject({ busyExecutors: 1, totalExecutors: 1 });
      await clock.advance(60_000);
      await load.done;
      const after = await json<{ idle: boolean; executors: Record<string, unknown>[] }>(sim, 'computer/run-1/api/json?depth=1');
      expect(after.idle).toBe(true);
      expect(after.executors[0]).toMatchObject({ currentExecutable: null, idle: true, progress: -1 });
    } finally {
      await load.stop();
    }
  });
});
