// alien-list --targets against the simulated Jenkins (its /computer/api/json as Jenkins answers
// it): agents no node row knows are listed with their state, ours and the built-in node are not,
// and nothing on the master is touched. A Gearman target is skipped with a note.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { startSimMaster, type SimMaster } from '../../src/sim/master.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { findTargetAliens } from '../../src/targets/aliens.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';

const dir = mkdtempSync(join(tmpdir(), 'nodepool-alien-targets-'));
let sim: SimMaster;
let target: JenkinsTarget;

beforeAll(async () => {
  sim = await startSimMaster({ gearman: [], user: 'nodepool', apiToken: 'token', log: silentLogger });
  target = new JenkinsTarget({ name: 'jenkins', url: sim.jenkinsUrl, user: 'nodepool', apikey: 'token', credentialsId: 'k', log: silentLogger });
});

afterAll(async () => {
  await target?.close();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const agent = (name: string, labels = ['small']) => ({ name, host: '10.0.0.9', port: 22, description: `agent ${name}`, labels });

it('JenkinsTarget.listAgents: every agent but the built-in node, with labels, offline and busy, in one GET', async () => {
  await target.register(agent('list-a', ['small', 'any']));
  await target.register(agent('list-b'));
  await target.takeOffline({ hostname: 'list-b', manager: null }, 'test');
  const before = sim.requests()['GET /computer/api/json'] ?? 0;
  const agents = await target.listAgents();
  expect(sim.requests()['GET /computer/api/json']).toBe(before + 1);
  expect(agents.filter((a) => a.name.startsWith('list-'))).toEqual([
    { name: 'list-a', description: 'agent list-a', labels: ['small', 'any'], offline: false, busy: false },
    { name: 'list-b', description: 'agent list-b', labels: ['small'], offline: true, busy: false },
  ]);
  expect(agents.some((a) => a.name === '(built-in)' || a.name === 'Built-In Node')).toBe(false);
});

it('findTargetAliens: an agent is known by a node row of the same target with its hostname', () => {
  const agents = [agent('ours'), agent('theirs'), agent('other-target')].map((a) => ({ ...a, offline: false, busy: a.name === 'theirs' }));
  const nodes = [{ hostname: 'ours', target: 'jenkins' }, { hostname: 'other-target', target: 'jenkins-2' }];
  expect(findTargetAliens('jenkins', agents, nodes).map((a) => [a.name, a.state])).toEqual([['theirs', 'busy'], ['other-target', 'online']]);
});

it('nodepool alien-list --targets lists the agents no node knows, skips a Gearman target with a note, and touches nothing', async () => {
  const db = join(dir, 'cli.db');
  const store = SqliteStore.open(db);
  const node = await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: 'jenkins' });
  await store.close();
  await target.register(agent(node.hostname));
  await target.register(agent('stray-agent', ['large']));
  const config = join(dir, 'nodepool.yaml');
  writeFileSync(
    config,
    [
      'gearman-servers: [{ host: 127.0.0.1, port: 4730 }]',
      'targets:',
      `  - { name: jenkins, jenkins: { url: "${sim.jenkinsUrl}", user: nodepool, apikey: token, credentials-id: k } }`,
      '  - { name: zuul, gearman: {} }',
      'labels:',
      '  - { name: small, image: ubuntu, providers: [{ name: cloud-a }] }',
      'providers:',
      '  - name: cloud-a',
      '    auth: { auth-url: "http://127.0.0.1:1/v3", username: admin, password: secret, project-name: demo }',
      '    max-servers: 1',
      '    images:',
      '      - { name: ubuntu, base-image: ubuntu-jammy }',
      '',
    ].join('\n'),
  );
  const run = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(['--db', db, '-c', config, ...argv], { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, env: {}, clock: systemClock });
    return { code, out, err };
  };
  const nodesBefore = JSON.stringify(sim.nodes());
  const posts = () => Object.entries(sim.requests()).filter(([k]) => k.startsWith('POST')).reduce((n, [, v]) => n + v, 0);
  const postsBefore = posts();

  const table = await run(['alien-list', '--targets']);
  expect(table.code).toBe(0);
  expect(table.err).toBe('note: target zuul cannot list its agents (a Gearman manager has no such request): skipped\n');
  const rows = table.out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
  expect(rows[0]).toEqual(['Target', 'Agent', 'State', 'Labels', 'Description']);
  const names = rows.slice(1).map((r) => r[1]);
  expect(names).toContain('stray-agent');
  expect(names).not.toContain(node.hostname);
  expect(rows.find((r) => r[1] === 'stray-agent')).toEqual(['jenkins', 'stray-agent', 'online', 'large', 'agent stray-agent']);

  const json = await run(['alien-list', '--targets', '--json']);
  const aliens = JSON.parse(json.out) as Record<string, unknown>[];
  expect(aliens.find((a) => a.name === 'stray-agent')).toEqual({ target: 'jenkins', name: 'stray-agent', state: 'online', labels: ['large'], description: 'agent stray-agent' });
  // Listed, never touched.
  expect(posts()).toBe(postsBefore);
  expect(JSON.stringify(sim.nodes())).toBe(nodesBefore);
});
