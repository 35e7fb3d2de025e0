// JenkinsTarget.view with build history against the simulated Jenkins: GET /computer/NAME/rssAll
// (core's Computer.doRssAll, an Atom feed of the builds run on the agent) is asked only for an
// idle agent still online, the one case /computer/NAME/api/json cannot tell apart.
import { afterEach, expect, it } from 'vitest';
import { request } from 'undici';
import { startGearmand, type Gearmand } from '../helpers/gearmand.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { startLoad, type Load } from '../../src/sim/load.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';

let gearmand: Gearmand | null = null;
let sim: SimMaster | null = null;
let load: Load | null = null;
let target: JenkinsTarget | null = null;
afterEach(async () => {
  await load?.stop();
  await target?.close();
  await sim?.close();
  await gearmand?.stop();
  gearmand = sim = load = target = null;
});

it('history: no rssAll for a busy or offline agent; an idle online one shows its builds; the feed is Atom', { timeout: 30_000 }, async () => {
  gearmand = await startGearmand();
  const server = { host: gearmand.host, port: gearmand.port };
  const buildClock = new ManualClock(Date.now());
  sim = await startSimMaster({ gearman: [server], user: 'nodepool', apiToken: 'token', buildDurationMs: 1000, clock: buildClock, jobs: [{ name: 'unit', labels: ['small'] }], log: silentLogger });
  target = new JenkinsTarget({ name: 'jenkins', url: sim.jenkinsUrl, user: 'nodepool', apikey: 'token', credentialsId: 'k', log: silentLogger });
  const node = { hostname: 'hist-1', manager: null };
  const gets = (what: string) => sim!.requests()[`GET /computer/NAME/${what}`] ?? 0;
  await target.register({ name: 'hist-1', host: '10.0.0.1', port: 22, description: 'd', labels: ['small'] });

  let [j, r] = [gets('api/json'), gets('rssAll')];
  expect(await target.view(node, { history: true })).toEqual({ present: true, busy: false, offline: false, builds: 0 });
  expect([gets('api/json') - j, gets('rssAll') - r]).toEqual([1, 1]);
  // Without history: api/json only.
  expect(await target.view(node)).toEqual({ present: true, busy: false, offline: false });
  expect(gets('rssAll') - r).toBe(1);

  load = startLoad({ gearman: [server], jobs: [{ name: 'unit', label: 'small' }], ratePerSecond: 100, count: 1, offlineWhenComplete: false });
  await waitFor(() => sim!.builds()[0], { what: 'the build' });
  [j, r] = [gets('api/json'), gets('rssAll')];
  expect(await target.view(node, { history: true })).toEqual({ present: true, busy: true, offline: false });
  expect([gets('api/json') - j, gets('rssAll') - r]).toEqual([1, 0]);
  await buildClock.advance(1000);
  await load.done;
  await waitFor(async () => !(await target!.view(node)).busy, { what: 'the build over' });
  // Idle and online again: only the history tells that a build ran.
  expect(await target.view(node, { history: true })).toEqual({ present: true, busy: false, offline: false, builds: 1 });

  const res = await request(`${sim.jenkinsUrl}computer/hist-1/rssAll`, { headers: { authorization: `Basic ${Buffer.from('nodepool:token').toString('base64')}` } });
  const body = await res.body.text();
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/atom+xml;charset=UTF-8');
  expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<feed xmlns="http:\/\/www.w3.org\/2005\/Atom"><title>Jenkins:hist-1 \(all builds\)<\/title>/);
  expect(body).toContain('<entry><title>unit #1 (stable)</title>');

  await target.takeOffline(node, 'test');
  r = gets('rssAll');
  expect(await target.view(node, { history: true })).toEqual({ present: true, busy: false, offline: true });
  expect(gets('rssAll') - r).toBe(0);
  expect(await target.view({ hostname: 'nobody', manager: null }, { history: true })).toEqual({ present: false, busy: false, offline: false });
});
