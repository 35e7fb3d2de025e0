// The simulated master with a real gearmand and a real ZeroMQ SUB socket: a node registered
// through the REST API runs exactly one build:JOB:LABEL job and publishes its events in order.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Subscriber } from 'zeromq';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { waitFor } from '../helpers/wait.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import { gearmanode, payloadText } from '../../src/sim/gearmanode.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';
import { silentLogger } from '../../src/log.js';
import net from 'node:net';
import { ManualClock } from '../../src/clock.js';

const USER = 'nodepool';
const TOKEN = 'secret-token';

/** A SUB socket collecting frames in the background. */
class Frames {
  readonly sock = new Subscriber({ linger: 0 });
  readonly got: string[] = [];
  private loop: Promise<void>;
  constructor(url: string) {
    this.sock.connect(url);
    this.sock.subscribe();
    this.loop = (async () => {
      try {
        for await (const [msg] of this.sock) this.got.push(msg.toString('utf8'));
      } catch {
        // closed
      }
    })();
  }
  /** Publishes probes until one arrives: the subscription has reached the publisher. */
  async sync(sim: SimMaster): Promise<void> {
    let n = 0;
    await waitFor(async () => {
      await sim.publish(`probe ${++n}`);
      return this.got.some((f) => f.startsWith('probe '));
    }, { what: 'subscription to reach the publisher', intervalMs: 50 });
  }
  events(): { topic: string; body: { name: string; url: string; build: Record<string, unknown> } }[] {
    return this.got
      .filter((f) => f.startsWith('on'))
      .map((f) => {
        const space = f.indexOf(' ');
        return { topic: f.slice(0, space), body: JSON.parse(f.slice(space + 1)) };
      });
  }
  async close(): Promise<void> {
    this.sock.close();
    await this.loop;
  }
}

describe('simulated master with real gearmand and ZeroMQ', () => {
  let gearmand: Gearmand;
  let sim: SimMaster | null = null;
  let frames: Frames | null = null;
  let load: Load | null = null;
  let target: JenkinsTarget | null = null;

  beforeAll(async () => {
    gearmand = await startGearmand();
  });
  afterAll(async () => {
    await gearmand?.stop();
  });
  afterEach(async () => {
    await load?.stop();
    await frames?.close();
    await target?.close();
    await sim?.close();
    load = null;
    frames = null;
    target = null;
    sim = null;
  });

  const start = async (durationMs = 200, clock?: ManualClock) => {
    sim = await startSimMaster({
      clock,
      gearman: [{ host: gearmand.host, port: gearmand.port }],
      user: USER,
      apiToken: TOKEN,
      buildDurationMs: durationMs,
      buildResult: (job) => (job === 'flaky' ? 'FAILURE' : 'SUCCESS'),
      jobs: [
        { name: 'unit', labels: ['trusty'] },
        { name: 'flaky', labels: ['trusty'] },
        { name: 'docs', labels: ['precise'] },
      ],
      log: silentLogger,
    });
    frames = new Frames(sim.zmqUrl);
    await frames.sync(sim);
    target = new JenkinsTarget({ name: 'sim', url: sim.jenkinsUrl, user: USER, apikey: TOKEN, credentialsId: 'c', log: silentLogger });
    return sim;
  };
  const server = () => [{ host: gearmand.host, port: gearmand.port }];

  it('runs one build:JOB:LABEL job on a REST-registered node and publishes started/completed/finalized', async () => {
    const s = await start();
    await target!.register({ name: 'np-1', host: '198.51.100.1', port: 22, description: 'sim node', labels: ['trusty'] });
    const n = await waitFor(() => s.nodes().find((x) => x.name === 'np-1' && x.registered), { what: 'node registered' });
    expect(n.functions.sort()).toEqual(['build:flaky', 'build:flaky:trusty', 'build:unit', 'build:unit:trusty']);

    // Two jobs for the label but one single-use node: exactly one may run.
    load = startLoad({ gearman: server(), jobs: [{ name: 'unit', label: 'trusty' }], count: 2, ratePerSecond: 1000, parameters: { ZUUL_UUID: 'abc' } });
    await waitFor(() => load!.completed() === 1, { what: 'first build to complete' });
    await waitFor(() => frames!.events().length >= 3, { what: 'three events' });

    const ev = frames!.events();
    expect(ev.map((e) => e.topic)).toEqual(['onStarted', 'onCompleted', 'onFinalized']);
    expect(ev.map((e) => e.body.build.phase)).toEqual(['STARTED', 'COMPLETED', 'FINISHED']);
    for (const e of ev) {
      expect(e.body.name).toBe('unit');
      expect(e.body.url).toBe('job/unit/');
      expect(e.body.build).toMatchObject({ number: 1, url: 'job/unit/1/', full_url: `${s.jenkinsUrl}job/unit/1/`, node_name: 'np-1' });
      expect(e.body.build.parameters).toMatchObject({ ZUUL_UUID: 'abc', OFFLINE_NODE_WHEN_COMPLETE: '1' });
    }
    expect('status' in ev[0].body.build).toBe(false);
    expect(ev[1].body.build.status).toBe('SUCCESS');
    expect(ev[2].body.build.status).toBe('SUCCESS');

    // The Gearman client hears the plugin's completion data.
    const done = load!.outcomes().find((o) => o.outcome === 'complete')!;
    expect(JSON.parse(done.response)).toMatchObject({ name: 'unit', number: 1, manager: 'sim-master', worker: 'np-1', result: 'SUCCESS' });

    // The node is used up: nothing registered, one build, and the second job stays queued.
    expect(s.nodes().find((x) => x.name === 'np-1')).toMatchObject({ registered: false, busy: false, buildsRun: 1, rejected: 0 });
    expect(s.builds()).toHaveLength(1);
    expect(s.builds()[0]).toMatchObject({ job: 'unit', number: 1, node: 'np-1', result: 'SUCCESS' });
    expect(load!.completed()).toBe(1);
    expect(load!.submitted()).toBe(2);
    // gearmand agrees: the other job waits, with no worker able to run it.
    expect(await functionStatus(gearmand, 'build:unit:trusty')).toEqual({ total: 1, running: 0, workers: 0 });

    // A second node picks up the waiting job; np-1 never runs another.
    await target!.register({ name: 'np-2', host: '198.51.100.2', port: 22, description: 'sim node', labels: ['trusty'] });
    await waitFor(() => load!.completed() === 2, { what: 'second build on the new node' });
    await load!.done;
    const builds = s.builds();
    expect(builds.map((b) => [b.node, b.number])).toEqual([
      ['np-1', 1],
      ['np-2', 2],
    ]);
    expect(s.nodes().find((x) => x.name === 'np-1')!.buildsRun).toBe(1);
    const info = await fetchJson(s, 'computer/np-1/api/json');
    expect(info).toMatchObject({ offline: true, temporarilyOffline: true, idle: true });
  });

  it('like Jenkins, an agent left online runs the next queued build; one taken offline at onStarted runs one', async () => {
    const clock = new ManualClock(Date.now());
    const s = await start(200, clock);
    // Builds from Jenkins' own queue: no OFFLINE_NODE_WHEN_COMPLETE, so nothing takes the agent offline for us.
    load = startLoad({ gearman: server(), jobs: [{ name: 'unit', label: 'trusty' }], count: 4, ratePerSecond: 1000, offlineWhenComplete: false });
    await waitFor(async () => (await functionStatus(gearmand, 'build:unit:trusty'))?.total === 4, { what: 'four jobs queued' });

    await target!.register({ name: 'np-on', host: '198.51.100.3', port: 22, description: '', labels: ['trusty'] });
    await waitFor(() => s.builds().length === 1, { what: 'first build' });
    expect(await fetchJson(s, 'computer/np-on/api/json')).toMatchObject({ offline: false, temporarilyOffline: false, idle: false });
    await clock.advance(200);
    await waitFor(() => s.builds().length === 2, { what: 'a second build on the agent left online' });
    expect(s.builds().map((b) => b.node)).toEqual(['np-on', 'np-on']);
    await target!.takeOffline({ hostname: 'np-on', manager: null }, 'done');
    await clock.advance(200);
    await waitFor(() => load!.completed() === 2, { what: 'second build done' });
    expect(s.nodes().find((n) => n.name === 'np-on')).toMatchObject({ buildsRun: 2, temporarilyOffline: true, registered: false });

    await target!.register({ name: 'np-off', host: '198.51.100.4', port: 22, description: '', labels: ['trusty'] });
    await waitFor(() => s.builds().length === 3, { what: 'third build' });
    await target!.takeOffline({ hostname: 'np-off', manager: null }, 'nodepool: single use');
    await target!.takeOffline({ hostname: 'np-off', manager: null }, 'nodepool: single use'); // idempotent: not toggled back
    await clock.advance(200);
    await waitFor(() => load!.completed() === 3, { what: 'third build done' });
    await waitFor(async () => (await functionStatus(gearmand, 'build:unit:trusty'))?.workers === 0, { what: 'no worker left' });
    expect(s.nodes().find((n) => n.name === 'np-off')).toMatchObject({ buildsRun: 1, temporarilyOffline: true, registered: false, rejected: 0 });
    expect(await fetchJson(s, 'computer/np-off/api/json')).toMatchObject({ offline: true, temporarilyOffline: true, idle: true, offlineCauseReason: 'nodepool: single use' });
    expect(s.requests()['POST /computer/NAME/toggleOffline']).toBe(2);
    expect(await functionStatus(gearmand, 'build:unit:trusty')).toEqual({ total: 1, running: 0, workers: 0 });
    // A fresh agent drains the job np-off left waiting (gearmand is shared with later tests).
    await target!.register({ name: 'np-drain', host: '198.51.100.5', port: 22, description: '', labels: ['trusty'] });
    await waitFor(() => s.builds().length === 4, { what: 'fourth build' });
    await target!.takeOffline({ hostname: 'np-drain', manager: null }, 'done');
    await clock.advance(200);
    await load!.done;
    expect(s.builds().map((b) => b.node)).toEqual(['np-on', 'np-on', 'np-off', 'np-drain']);
  });

  it('takes one of two jobs queued before the node registers and leaves the other queued', async () => {
    // gearmand answers each of the node's registration PRE_SLEEPs with a NOOP while jobs wait;
    // gearmanode alone would have a GRAB_JOB in flight for each and be assigned both jobs.
    const s = await start(50);
    load = startLoad({ gearman: server(), jobs: [{ name: 'unit', label: 'trusty' }], count: 2, ratePerSecond: 1000 });
    await waitFor(async () => (await functionStatus(gearmand, 'build:unit:trusty'))?.total === 2, { what: 'two jobs queued' });
    await target!.register({ name: 'np-q', host: '198.51.100.7', port: 22, description: '', labels: ['trusty'] });
    await waitFor(() => load!.completed() === 1, { what: 'one build' });
    await waitFor(async () => (await functionStatus(gearmand, 'build:unit:trusty'))?.workers === 0, { what: 'used node gone from gearmand' });
    expect(s.nodes()).toMatchObject([{ name: 'np-q', buildsRun: 1, rejected: 0, busy: false, registered: false }]);
    // The other job was neither run nor failed back to its client: it still waits in gearmand.
    expect(load.outcomes().map((o) => o.outcome)).toEqual(['complete']);
    expect(await functionStatus(gearmand, 'build:unit:trusty')).toEqual({ total: 1, running: 0, workers: 0 });
  });

  it('reports a failed build as FAILURE in the events and the Gearman result', async () => {
    const s = await start(50);
    await target!.register({ name: 'np-f', host: '198.51.100.3', port: 22, description: '', labels: ['trusty'] });
    await waitFor(() => s.nodes().find((x) => x.registered), { what: 'node registered' });
    load = startLoad({ gearman: server(), jobs: [{ name: 'flaky', label: 'trusty' }], count: 1 });
    await load.done;
    await waitFor(() => frames!.events().length >= 3, { what: 'three events' });
    expect(frames!.events().map((e) => [e.topic, e.body.build.status ?? null])).toEqual([
      ['onStarted', null],
      ['onCompleted', 'FAILURE'],
      ['onFinalized', 'FAILURE'],
    ]);
    expect(JSON.parse(load.outcomes()[0].response)).toMatchObject({ result: 'FAILURE' });
  });

  it('does not offer jobs of other labels to a node', async () => {
    const s = await start(50);
    await target!.register({ name: 'np-p', host: '198.51.100.4', port: 22, description: '', labels: ['precise'] });
    const n = await waitFor(() => s.nodes().find((x) => x.registered), { what: 'node registered' });
    expect(n.functions.sort()).toEqual(['build:docs', 'build:docs:precise']);
  });

  it('accepts node_assign and node_revoke from the Gearman target side', async () => {
    const s = await start(50);
    const client = gearmanode().client({ servers: server() });
    client.on('error', () => undefined);
    try {
      const call = (fn: string, body: unknown) =>
        new Promise<string>((resolve, reject) => {
          const job = client.submitJob(fn, JSON.stringify(body), { toStringEncoding: 'utf8' });
          job.on('complete', () => resolve(payloadText(job.response)));
          job.on('failed', () => reject(new Error(`${fn} failed`)));
          job.on('error', reject);
        });
      const reply = await call('node_assign:sim-master', { name: 'np-g', host: '198.51.100.5', description: 'via gearman', labels: ['trusty'] });
      expect(JSON.parse(reply)).toEqual({ manager: 'sim-master' });
      const n = await waitFor(() => s.nodes().find((x) => x.name === 'np-g' && x.registered), { what: 'assigned node registered' });
      expect(n).toMatchObject({ via: 'gearman', labels: ['trusty'], description: 'via gearman' });
      expect(await target!.exists('np-g')).toBe(true);
      await call('node_revoke:sim-master', { name: 'np-g' });
      expect(s.nodes()).toHaveLength(0);
      expect(await target!.exists('np-g')).toBe(false);
    } finally {
      client.close();
    }
  });

  it('registers an idle node again after gearmand restarts', async () => {
    const s = await start(50);
    await target!.register({ name: 'np-r', host: '198.51.100.6', port: 22, description: '', labels: ['trusty'] });
    await waitFor(async () => (await functionStatus(gearmand, 'build:unit:trusty'))?.workers === 1, { what: 'worker in gearmand' });
    await gearmand.restart();
    await waitFor(async () => (await functionStatus(gearmand, 'build:unit:trusty'))?.workers === 1, { what: 'worker back after restart' });
    load = startLoad({ gearman: server(), jobs: [{ name: 'unit', label: 'trusty' }], count: 1 });
    await load.done;
    expect(load.completed()).toBe(1);
    expect(s.builds()).toMatchObject([{ node: 'np-r', result: 'SUCCESS' }]);
  });

  it('never runs a second build when two gearman servers offer jobs at once', async () => {
    const second = await startGearmand();
    const both = [server()[0], { host: second.host, port: second.port }];
    const s2 = await startSimMaster({
      gearman: both,
      user: USER,
      apiToken: TOKEN,
      buildDurationMs: 100,
      jobs: [{ name: 'unit', labels: ['trusty'] }],
      log: silentLogger,
    });
    const loads = [
      startLoad({ gearman: [both[0]], jobs: [{ name: 'unit', label: 'trusty' }], count: 1 }),
      startLoad({ gearman: [both[1]], jobs: [{ name: 'unit', label: 'trusty' }], count: 1 }),
    ];
    const t = new JenkinsTarget({ name: 'sim2', url: s2.jenkinsUrl, user: USER, apikey: TOKEN, credentialsId: 'c', log: silentLogger });
    try {
      // Both jobs wait in their servers before the node appears, so both servers wake it at once.
      await waitFor(async () => (await functionStatus(second, 'build:unit:trusty'))?.total === 1, { what: 'job queued on the second server' });
      await t.register({ name: 'np-a', host: 'h', port: 22, description: '', labels: ['trusty'] });
      await waitFor(() => loads[0].completed() + loads[1].completed() === 1, { what: 'one build' });
      await t.register({ name: 'np-b', host: 'h', port: 22, description: '', labels: ['trusty'] });
      await Promise.all(loads.map((l) => l.done));
      expect(loads[0].completed() + loads[1].completed()).toBe(2);
      const byNode = s2.builds().map((b) => b.node).sort();
      expect(byNode).toEqual(['np-a', 'np-b']);
      expect(s2.nodes().map((n) => n.buildsRun)).toEqual([1, 1]);
      // One GRAB_JOB at a time across both servers: the second server's job is never even offered.
      expect(s2.nodes().map((n) => n.rejected)).toEqual([0, 0]);
    } finally {
      await Promise.all(loads.map((l) => l.stop()));
      await t.close();
      await s2.close();
      await second.stop();
    }
  });

  it('re-binds the publisher on the same port', async () => {
    const s = await start(50);
    const url = s.zmqUrl;
    await s.restartPublisher();
    expect(s.zmqUrl).toBe(url);
    // The SUB socket reconnects by itself; a probe proves frames flow again.
    frames!.got.length = 0;
    await frames!.sync(s);
  });
});

async function fetchJson(s: SimMaster, path: string): Promise<unknown> {
  const { request } = await import('undici');
  const res = await request(s.jenkinsUrl + path, { headers: { authorization: `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}` } });
  return res.body.json();
}

/** One row of gearmand's admin `status` for a function, or null when gearmand does not list it. */
function functionStatus(g: Gearmand, fn: string): Promise<{ total: number; running: number; workers: number } | null> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: g.host, port: g.port });
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', reject);
    sock.on('data', (d: string) => {
      buf += d;
      if (!/^\.$/m.test(buf)) return;
      sock.destroy();
      const row = buf.split('\n').map((l) => l.split('\t')).find((cols) => cols[0] === fn);
      resolve(row ? { total: Number(row[1]), running: Number(row[2]), workers: Number(row[3]) } : null);
    });
    sock.write('status\n');
  });
}
