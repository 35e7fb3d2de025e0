// CLI commands that talk to a cloud (delete --now, alien-list), against the OpenStack emulator.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { startSimMaster } from '../../src/sim/master.js';
import { JenkinsTarget } from '../../src/targets/jenkins.js';
import { silentLogger } from '../../src/log.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startOpenStackEmulator, type OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import type { ProviderDriver } from '../../providers/provider.js';
import { createDriver } from '../../providers/registry.js';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'nodepool-cli-cloud-'));
const configPath = join(dir, 'nodepool.yaml');
let emu: OpenStackEmulator;
let env: Record<string, string>;
let driver: ProviderDriver;
let imageId: string;
let flavorId: string;

beforeAll(async () => {
  emu = await startOpenStackEmulator({ seed: 7, bootTimeMs: 10 });
  env = { AUTH_URL: emu.authUrl };
  writeFileSync(
    configPath,
    [
      'labels:',
      '  - { name: trusty, image: ubuntu, providers: [{ name: cloud-a }] }',
      'providers:',
      '  - name: cloud-a',
      '    auth: { auth-url: "${AUTH_URL}", username: admin, password: secret, project-name: demo }',
      '    max-servers: 10',
      '    images:',
      '      - { name: ubuntu, base-image: ubuntu-jammy }',
      '',
    ].join('\n'),
  );
  driver = createDriver(loadConfig(configPath, env).providers[0], {});
  imageId = (await driver.listImages()).find((i) => i.name === 'ubuntu-jammy')!.id;
  flavorId = (await driver.listFlavors())[0].id;
});

afterAll(async () => {
  await driver?.close();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
let db: string;
let store: SqliteStore;

beforeEach(() => {
  db = join(dir, `t${++n}.db`);
  store = SqliteStore.open(db);
});

afterEach(async () => {
  await store.close();
  for (const s of await driver.listServers()) await driver.deleteServer(s.id).catch(() => undefined);
});

async function run(argv: string[], config = configPath): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['--db', db, '-c', config, ...argv], {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    env,
    clock: systemClock,
  });
  return { code, out, err };
}

async function server(name: string, metadata: Record<string, string> = {}): Promise<string> {
  return (await driver.createServer({ name, imageId, flavorId, metadata })).id;
}

/** The metadata the daemon of deployment `dep` puts on node `id`'s server. */
const meta = (dep: string, id: number) => ({ nodepool_owner: 'nodepool-ts', nodepool_deployment: dep, nodepool_provider: 'cloud-a', nodepool_node_id: String(id) });

const alive = (id: string) => emu.servers().some((s) => s.id === id && s.status !== 'DELETED');

describe('nodepool delete --now', () => {
  it('deletes the server and removes the node, keeping its audit rows', async () => {
    const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    const id = await server(node.hostname);
    await store.updateNode(node.id, { serverId: id });
    const { code, out, err } = await run(['delete', String(node.id), '--now']);
    // Progress of each step on stderr; the result alone on stdout.
    expect(err).toBe(`node ${node.id}: deleting server ${id} on cloud-a\n`);
    expect(code).toBe(0);
    expect(out).toBe(`node ${node.id} (${node.hostname}) deleted\n`);
    expect(await store.getNode(node.id)).toBeUndefined();
    expect((await store.audit({ kind: 'node', objectId: node.id })).map((r) => r.toState)).toEqual(['building', 'deleting']);
    await waitFor(() => !alive(id), { timeoutMs: 10_000 });
  });

  it('unregisters the node from its Jenkins target before deleting the server', async () => {
    const sim = await startSimMaster({ gearman: [], user: 'nodepool', apiToken: 'token', log: silentLogger });
    try {
      const config = join(dir, 'with-target.yaml');
      writeFileSync(
        config,
        readFileSync(configPath, 'utf8') + `targets:\n  - { name: jenkins, jenkins: { url: "${sim.jenkinsUrl}", user: nodepool, apikey: token, credentials-id: k } }\n`,
      );
      const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 'jenkins' });
      const id = await server(node.hostname);
      await store.updateNode(node.id, { serverId: id });
      const jenkins = new JenkinsTarget({ name: 'jenkins', url: sim.jenkinsUrl, user: 'nodepool', apikey: 'token', credentialsId: 'k', log: silentLogger });
      await jenkins.register({ name: node.hostname, host: '127.0.0.1', port: 22, description: 'd', labels: ['trusty'] });
      await jenkins.close();
      expect(sim.nodes().map((x) => x.name)).toEqual([node.hostname]);
      const { code, err } = await run(['delete', String(node.id), '--now'], config);
      expect([code, err]).toEqual([0, `node ${node.id}: unregistering from jenkins\nnode ${node.id}: deleting server ${id} on cloud-a\n`]);
      expect(sim.nodes()).toEqual([]);
      await waitFor(() => !alive(id), { timeoutMs: 10_000 });
    } finally {
      await sim.close();
    }
  });

  it('finds the server by hostname and our metadata when the node never recorded a server id', async () => {
    await store.setMetaIfAbsent('deployment_id', 'dep-a');
    const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    const id = await server(node.hostname, meta('dep-a', node.id));
    const other = await server('somebody-else', meta('dep-a', node.id + 1));
    expect((await run(['delete', String(node.id), '--now'])).code).toBe(0);
    await waitFor(() => !alive(id), { timeoutMs: 10_000 });
    expect(alive(other)).toBe(true);
    expect(await store.getNode(node.id)).toBeUndefined();
  });

  it('never deletes a same-named server of another deployment or one without our metadata', async () => {
    await store.setMetaIfAbsent('deployment_id', 'dep-a');
    const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    const theirs = await server(node.hostname, meta('dep-b', node.id));
    const plain = await server(node.hostname);
    const { code, err } = await run(['delete', String(node.id), '--now']);
    expect([code, err]).toEqual([0, `node ${node.id}: no server to delete\n`]);
    expect(await store.getNode(node.id)).toBeUndefined();
    expect(alive(theirs)).toBe(true);
    expect(alive(plain)).toBe(true);
  });

  it('without a known deployment id searches no server by name, and says so', async () => {
    const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    const theirs = await server(node.hostname, meta('dep-b', node.id));
    const { code, err } = await run(['delete', String(node.id), '--now']);
    expect(code).toBe(0);
    expect(err).toMatch(/no deployment id known/);
    expect(alive(theirs)).toBe(true);
  });

  it('refuses a config deployment-id that differs from the database', async () => {
    await store.setMetaIfAbsent('deployment_id', 'dep-a');
    const config = join(dir, 'other-deployment.yaml');
    writeFileSync(config, `deployment-id: dep-b\n${readFileSync(configPath, 'utf8')}`);
    const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    const { code, err } = await run(['delete', String(node.id), '--now'], config);
    expect(code).toBe(1);
    expect(err).toMatch(/deployment "dep-a"/);
  });

  it('treats a server that is already gone as deleted', async () => {
    const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    await store.updateNode(node.id, { serverId: '00000000-0000-4000-8000-000000000000' });
    expect((await run(['delete', String(node.id), '--now'])).code).toBe(0);
    expect(await store.getNode(node.id)).toBeUndefined();
  });

  it('fails with one line when the node provider is not configured, leaving it deleting', async () => {
    const node = await store.createNode({ provider: 'cloud-z', label: 'trusty', image: 'ubuntu', target: 't' });
    const { code, err } = await run(['delete', String(node.id), '--now']);
    expect(code).toBe(1);
    expect(err).toBe(`error: node ${node.id}: provider cloud-z is not in ${configPath}\n`);
    expect((await store.getNode(node.id))?.state).toBe('deleting');
  });
});

describe('nodepool alien-list', () => {
  it('lists servers no node owns (by server id, or hostname and our metadata), saying whose they are', async () => {
    await store.setMetaIfAbsent('deployment_id', 'dep-a');
    const byId = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    await store.updateNode(byId.id, { serverId: await server('renamed-in-cloud') });
    const byName = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'ubuntu', target: 't' });
    await server(byName.hostname, meta('dep-a', byName.id));
    const strayId = await server('stray-server');
    // Another installation on the same project, with the same hostname and node id as one of ours.
    const theirsId = await server(byName.hostname, meta('dep-b', byName.id));
    const leakId = await server('trusty-cloud-a-dep-a-99', meta('dep-a', 99));

    const table = await run(['alien-list']);
    expect(table.err).toBe('');
    expect(table.code).toBe(0);
    const rows = table.out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(['Provider', 'Hostname', 'Server ID', 'IP', 'Owner']);
    expect(rows.slice(1).map((r) => [r[2], r.at(-1)]).sort()).toEqual(
      [
        [strayId, 'foreign'],
        [theirsId, 'other deployment dep-b'],
        [leakId, 'this deployment'],
      ].sort(),
    );

    const json = await run(['alien-list', '--json']);
    const aliens = JSON.parse(json.out) as Record<string, unknown>[];
    expect(aliens).toHaveLength(3);
    expect(aliens.find((a) => a.serverId === strayId)).toMatchObject({ provider: 'cloud-a', hostname: 'stray-server', serverId: strayId, owner: 'foreign', deployment: null });
    expect(Object.keys(aliens[0]).sort()).toEqual(['deployment', 'hostname', 'ip', 'owner', 'provider', 'serverId']);
    expect(aliens.find((a) => a.serverId === theirsId)).toMatchObject({ hostname: byName.hostname, owner: 'other deployment dep-b', deployment: 'dep-b' });
  });

  it('reports an unreachable provider on stderr with exit 1 and still lists the others', async () => {
    const twoClouds = join(dir, 'two.yaml');
    writeFileSync(
      twoClouds,
      [
        'labels:',
        '  - { name: trusty, image: ubuntu, providers: [{ name: cloud-a }, { name: cloud-down }] }',
        'providers:',
        '  - name: cloud-down',
        '    auth: { auth-url: "http://127.0.0.1:1/identity/v3", username: admin, password: secret, project-name: demo }',
        '    max-servers: 1',
        '    images: [{ name: ubuntu, base-image: ubuntu-jammy }]',
        '  - name: cloud-a',
        '    auth: { auth-url: "${AUTH_URL}", username: admin, password: secret, project-name: demo }',
        '    max-servers: 10',
        '    images: [{ name: ubuntu, base-image: ubuntu-jammy }]',
        '',
      ].join('\n'),
    );
    const strayId = await server('stray-2');
    const { code, out, err } = await run(['alien-list'], twoClouds);
    expect(code).toBe(1);
    expect(err).toMatch(/^error: provider cloud-down: .+\n$/);
    expect(out).toContain(strayId);
  });
});
