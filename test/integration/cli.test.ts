// The CLI in-process against a real SQLite file, as an operator would run it while the daemon
// (here: a second store connection) owns the same database.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePort } from '../../src/cli/args.js';
import { runCli } from '../../src/cli/main.js';
import { ManualClock } from '../../src/clock.js';
import type { NodeRecord } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);
const dir = mkdtempSync(join(tmpdir(), 'nodepool-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
let db: string;
let clock: ManualClock;
let store: SqliteStore;

class Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Sink();
  const err = new Sink();
  const code = await runCli(['--db', db, '-c', join(dir, 'missing.yaml'), ...argv], { out, err, env: {}, clock });
  return { code, out: out.text, err: err.text };
}

async function readyNode(patch: Partial<Pick<NodeRecord, 'serverId' | 'ip' | 'az'>> = {}): Promise<NodeRecord> {
  const node = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'trusty', target: 'jenkins1' });
  return store.transitionNode(node.id, 'ready', { patch: { serverId: `srv-${node.id}`, ip: `192.0.2.${node.id}`, az: 'nova', ...patch } });
}

beforeEach(() => {
  db = join(dir, `t${++n}`, 'nodepool.db');
  clock = new ManualClock(T0);
  store = SqliteStore.open(db, { clock });
});

afterEach(async () => {
  await store.close();
});

describe('nodepool list', () => {
  it('prints an aligned table with a header row and the age in the current state', async () => {
    const a = await readyNode();
    await clock.advance(1000);
    const b = await store.createNode({ provider: 'cloud-b', label: 'xenial-large', image: 'xenial', target: 'jenkins1' });
    await store.updateNode(b.id, { comment: 'waiting for SSH' });
    await clock.advance(((1 * 24 + 2) * 60 + 3) * 60_000 + 4000);
    const { code, out, err } = await run('list');
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'Provider', 'AZ', 'Label', 'Target', 'Hostname', 'NodeName', 'Server ID', 'IP', 'State', 'Age', 'Image', 'Comment']);
    expect(lines[1].split(/\s{2,}/)).toEqual([String(a.id), 'cloud-a', 'nova', 'trusty', 'jenkins1', a.hostname, a.hostname, `srv-${a.id}`, a.ip, 'ready', '01:02:03:05']);
    // Columns line up: every column starts at the same offset in every line.
    for (const col of ['Provider', 'Label', 'State', 'Age']) {
      const at = lines[0].indexOf(col);
      for (const line of lines.slice(1)) expect([line[at - 2], line[at - 1], line[at] === ' ']).toEqual([' ', ' ', false]);
    }
    // The first row has no comment: its line ends after Age (no trailing blanks).
    expect(lines[1].endsWith('01:02:03:05')).toBe(true);
    expect(lines[2].indexOf('waiting for SSH')).toBe(lines[0].indexOf('Comment'));
    expect(lines[2]).toContain('01:02:03:04');
    expect(lines[2]).toContain('building');
  });

  it('prints a JSON array of records with --json', async () => {
    const a = await readyNode();
    const { code, out } = await run('list', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual([await store.getNode(a.id)]);
  });

  it('prints only the header for an empty pool', async () => {
    const { code, out } = await run('list');
    expect(code).toBe(0);
    expect(out).toMatch(/^ID\s+Provider\s+AZ.*Comment\n$/);
  });
});

describe('nodepool failures', () => {
  async function failures() {
    const base = { nodeId: 7, hostname: 'trusty-cloud-a-7', code: 'timeout', message: 'launch-timeout: not ready 3600000 ms after the node was created' };
    await store.recordLaunchFailure({ ...base, provider: 'cloud-a', label: 'trusty' });
    await clock.advance(60_000);
    await store.recordLaunchFailure({ ...base, provider: 'cloud-b', label: 'trusty', nodeId: 8, hostname: 'trusty-cloud-b-8', code: 'quota-exceeded', message: 'over quota: Quota exceeded for instances' });
    await clock.advance(60_000);
    await store.recordLaunchFailure({ ...base, provider: 'cloud-a', label: 'xenial', nodeId: 9, hostname: 'xenial-cloud-a-9', code: 'server-error', message: 'server went to ERROR\nNo valid host' });
    await clock.advance(12_000);
  }

  it('prints recent launch failures newest first, filtered by label, provider and age', async () => {
    await failures();
    const all = await run('failures');
    expect(all.err).toBe('');
    expect(all.code).toBe(0);
    const lines = all.out.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['Age', 'Provider', 'Label', 'Node', 'Hostname', 'Code', 'Message']);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ['00:00:00:12', 'cloud-a', 'xenial', '9', 'xenial-cloud-a-9', 'server-error', 'server went to ERROR No valid host'],
      ['00:00:01:12', 'cloud-b', 'trusty', '8', 'trusty-cloud-b-8', 'quota-exceeded', 'over quota: Quota exceeded for instances'],
      ['00:00:02:12', 'cloud-a', 'trusty', '7', 'trusty-cloud-a-7', 'timeout', 'launch-timeout: not ready 3600000 ms after the node was created'],
    ]);
    const ids = async (...argv: string[]) => (JSON.parse((await run('failures', '--json', ...argv)).out) as { nodeId: number }[]).map((f) => f.nodeId);
    expect(await ids()).toEqual([9, 8, 7]);
    expect(await ids('--label', 'trusty')).toEqual([8, 7]);
    expect(await ids('--provider', 'cloud-a')).toEqual([9, 7]);
    expect(await ids('--label', 'trusty', '--provider', 'cloud-a')).toEqual([7]);
    expect(await ids('--since', '90s')).toEqual([9, 8]);
    const bad = await run('failures', '--since', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--since/);
  });

  it('list ends with a line per label below min-ready, naming its last failure', async () => {
    const config = join(dir, `minready-${n}.yaml`);
    writeFileSync(
      config,
      [
        'labels:',
        '  - { name: trusty, image: ubuntu, min-ready: 2, providers: [{ name: cloud-a }] }',
        '  - { name: xenial, image: ubuntu, min-ready: 1, providers: [{ name: cloud-a }] }',
        '  - { name: idle, image: ubuntu, min-ready: 0, providers: [{ name: cloud-a }] }',
        'providers:',
        '  - name: cloud-a',
        '    auth: { auth-url: "http://127.0.0.1:5000/v3", username: u, password: p, project-name: demo }',
        '    max-servers: 2',
        '    images: [{ name: ubuntu, base-image: ubuntu-jammy }]',
        '',
      ].join('\n'),
    );
    await readyNode();
    await failures();
    const out = new Sink();
    expect(await runCli(['--db', db, '-c', config, 'list'], { out, err: new Sink(), env: {}, clock })).toBe(0);
    const tail = out.text.trimEnd().split('\n').slice(-3);
    expect(tail).toEqual([
      '',
      'label trusty: 1/2 ready; last failure 1m12s ago on cloud-b: over quota: Quota exceeded for instances',
      'label xenial: 0/1 ready; last failure 12s ago on cloud-a: server went to ERROR No valid host',
    ]);
    // Without a readable config the table stands alone.
    const plain = await run('list');
    expect(plain.code).toBe(0);
    expect(plain.out.trimEnd().split('\n')).toHaveLength(2);
  });
});

describe('nodepool hold', () => {
  it('holds a node with a reason and an expiry, and the daemon connection notices', async () => {
    const node = await readyNode();
    const marker = await store.changeMarker();
    const { code, out, err } = await run('hold', String(node.id), '--reason', 'debug flaky test', '--expire', '2h');
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`node ${node.id} (${node.hostname}) held until 2024-01-02T05:04:05.000Z`);
    // Then the node's row, as 0.x printed it.
    expect(out.split('\n')[2].split(/\s{2,}/)).toEqual(expect.arrayContaining([String(node.id), 'hold']));
    expect(await store.changeMarker()).not.toBe(marker);
    const held = await store.getNode(node.id);
    expect(held).toMatchObject({ state: 'hold', stateTime: T0, holdReason: 'debug flaky test', holdExpires: T0 + 2 * 3600_000 });
    expect(held?.comment).toContain('debug flaky test');
    const audit = await store.audit({ kind: 'node', objectId: node.id });
    expect(audit.at(-1)).toMatchObject({ fromState: 'ready', toState: 'hold' });
    expect((await run('list')).out).toContain('debug flaky test');
  });

  it('holds without an expiry; holding again changes the expiry', async () => {
    const node = await readyNode();
    expect((await run('hold', String(node.id))).code).toBe(0);
    expect(await store.getNode(node.id)).toMatchObject({ state: 'hold', holdExpires: null, holdReason: 'held by operator' });
    await clock.advance(1000);
    expect((await run('hold', String(node.id), '--expire', '1d')).code).toBe(0);
    expect(await store.getNode(node.id)).toMatchObject({ state: 'hold', holdExpires: T0 + 1000 + 86_400_000, stateTime: T0 });
  });

  it('refuses an unknown id, a node that cannot be held, and a bad duration, with one line and exit 1 (2 for a bad argument)', async () => {
    const unknown = await run('hold', '999');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe('error: node 999 not found\n');

    const building = await store.createNode({ provider: 'cloud-a', label: 'trusty', image: 'trusty', target: 'jenkins1' });
    const refused = await run('hold', String(building.id));
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(`error: node ${building.id} is building; only ready, in-use, used nodes can be held\n`);
    expect(await store.getNode(building.id)).toEqual(building);

    const node = await readyNode();
    const bad = await run('hold', String(node.id), '--expire', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toContain('expected a duration');
    expect((await store.getNode(node.id))?.state).toBe('ready');

    const notId = await run('hold', 'abc');
    expect(notId.code).toBe(2);
    expect(notId.err).toContain('expected a node id');
  });
});

describe('nodepool delete', () => {
  it('marks a node deleting for the daemon', async () => {
    const node = await readyNode();
    await store.transitionNode(node.id, 'in-use');
    const { code, out } = await run('delete', String(node.id));
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(`node ${node.id} (${node.hostname}) marked for deletion`);
    // Then the node's row, as 0.x printed it.
    expect(lines[1].split(/\s{2,}/).slice(0, 3)).toEqual(['ID', 'Provider', 'AZ']);
    expect(lines[2].split(/\s{2,}/)).toContain('deleting');
    expect(await store.getNode(node.id)).toMatchObject({ state: 'deleting' });
    expect((await store.audit({ kind: 'node', objectId: node.id })).at(-1)).toMatchObject({ fromState: 'in-use', toState: 'deleting', reason: 'operator delete' });
    // Again: already deleting is fine.
    expect((await run('delete', String(node.id))).code).toBe(0);
  });

  it('deletes a held node', async () => {
    const node = await readyNode();
    await store.transitionNode(node.id, 'hold');
    expect((await run('delete', String(node.id))).code).toBe(0);
    expect((await store.getNode(node.id))?.state).toBe('deleting');
  });

  it('fails with one line for an unknown id', async () => {
    const { code, out, err } = await run('delete', '4242');
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe('error: node 4242 not found\n');
  });
});

describe('nodepool image-list', () => {
  it('prints images as a table and as JSON', async () => {
    const img = await store.createImage({ provider: 'cloud-a', image: 'trusty', version: '1704164645' });
    await store.updateImage(img.id, { externalId: 'glance-42', hostname: 'template-trusty-1704164645', serverId: 'srv-7', step: 'setup' });
    const failed = await store.createImage({ provider: 'cloud-a', image: 'trusty', version: '1704164700' });
    await store.transitionImage(failed.id, 'failed', { patch: { reason: 'setup: setup script setup.sh exited 3' } });
    await clock.advance(90_000);
    const building = await run('image-list');
    expect(building.out.trimEnd().split('\n')[1].split(/\s{2,}/)[7]).toBe('building (setup)');
    await store.transitionImage(img.id, 'ready', { patch: { serverId: null } });
    await clock.advance(61_000);
    const table = await run('image-list');
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['ID', 'Provider', 'Image', 'Hostname', 'Version', 'Image ID', 'Server ID', 'State', 'Age', 'Reason']);
    expect(lines[1].split(/\s{2,}/)).toEqual([String(img.id), 'cloud-a', 'trusty', 'template-trusty-1704164645', '1704164645', 'glance-42', 'ready', '00:00:01:01']);
    expect(lines[2].split(/\s{2,}/)).toEqual([String(failed.id), 'cloud-a', 'trusty', '1704164700', 'failed', '00:00:02:31', 'setup: setup script setup.sh exited 3']);
    const json = await run('image-list', '--json');
    expect(JSON.parse(json.out)).toEqual([await store.getImage(img.id), await store.getImage(failed.id)]);
  });
});

describe('nodepool (program)', () => {
  it('reports an unknown command on stderr with exit 2 (a usage error)', async () => {
    const { code, err } = await run('lsit');
    expect(code).toBe(2);
    expect(err).toContain("unknown command 'lsit'");
  });

  it('prints help with exit 0', async () => {
    const { code, out } = await run('--help');
    expect(code).toBe(0);
    for (const cmd of ['list', 'hold', 'delete', 'image-list', 'alien-list', 'config-validate']) expect(out).toContain(cmd);
  });

  it('takes the database from NODEPOOL_DB when --db is not given', async () => {
    const node = await readyNode();
    const out = new Sink();
    const code = await runCli(['list', '--json'], { out, err: new Sink(), env: { NODEPOOL_DB: db }, clock });
    expect(code).toBe(0);
    expect(JSON.parse(out.text).map((r: NodeRecord) => r.id)).toEqual([node.id]);
  });

  it('refuses a database that does not exist, and does not create one', async () => {
    const missing = join(dir, `none-${n}`, 'nodepool.db');
    const out = new Sink();
    const err = new Sink();
    const code = await runCli(['--db', missing, 'list'], { out, err, env: {}, clock });
    expect(code).toBe(1);
    expect(err.text).toBe(`error: no database at ${missing}; start the daemon first or pass --db\n`);
    expect(existsSync(missing)).toBe(false);
  });

  it('defaults --db to the data directory, not a path relative to the working directory', async () => {
    const err = new Sink();
    expect(await runCli(['list'], { out: new Sink(), err, env: {}, clock })).toBe(1);
    expect(err.text).toContain('/var/lib/nodepool/nodepool.db');
    const help = new Sink();
    await runCli(['--help'], { out: help, err: new Sink(), env: {}, clock });
    expect(help.text).toContain('/var/lib/nodepool/nodepool.db');
  });

  it('rejects a --web-port that is not a port with a usage error, before starting anything', async () => {
    for (const bad of ['abc', '-1', '65536', '80.5', '']) {
      const { code, err } = await run('daemon', '--web-port', bad);
      expect(code).toBe(2);
      expect(err).toMatch(/option '--web-port <port>' argument .* is invalid\. expected a port number 0-65535 \(0 turns the web server off\)/);
    }
    expect([parsePort('0'), parsePort('8005'), parsePort('65535')]).toEqual([0, 8005, 65535]);
  });

  it('reports a config file that cannot be read without a stack trace', async () => {
    const { code, err } = await run('alien-list');
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^error: .*missing\.yaml/);
    expect(err).not.toMatch(/\n\s+at /);
  });
});

describe('nodepool config-validate', () => {
  const good = ['labels:', '  - { name: trusty, image: ubuntu, providers: [{ name: cloud-a }] }', 'providers:', '  - name: cloud-a', '    auth: { auth-url: "http://127.0.0.1:5000/v3", username: u, password: p, project-name: demo }', '    max-servers: 2', '    images: [{ name: ubuntu, base-image: ubuntu-jammy }]', ''].join('\n');

  it('accepts a valid file named by -c or as an argument', async () => {
    const file = join(dir, `good-${n}.yaml`);
    writeFileSync(file, good);
    const byArg = await run('config-validate', file);
    expect(byArg.code).toBe(0);
    expect(byArg.out).toContain(`${file}: OK`);
    const out = new Sink();
    expect(await runCli(['-c', file, 'config-validate'], { out, err: new Sink(), env: {}, clock })).toBe(0);
    expect(out.text).toContain(`${file}: OK`);
  });

  it('exits 1 and names the line of each problem', async () => {
    const file = join(dir, `bad-${n}.yaml`);
    writeFileSync(file, good.replace('max-servers: 2', 'max-servers: many'));
    const { code, out } = await run('config-validate', file);
    expect(code).toBe(1);
    expect(out).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:6:\\d+: .*max-servers`));
  });
});

