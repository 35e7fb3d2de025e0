// `nodepool info` (read-only: paths, deployment id, providers, targets, schema version; exit 1 when
// the config or database is unusable) and `nodepool list --watch` with an injected clock and count.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ManualClock } from '../../src/clock.js';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { SqliteStore } from '../../src/store/sqlite.js';

class Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

let dir = '';
let dbPath = '';
let configPath = '';
const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'np-info-'));
  dbPath = join(dir, 'nodepool.db');
  configPath = join(dir, 'nodepool.yaml');
  await writeFile(
    configPath,
    `deployment-id: ci-prod
labels:
  - { name: small, image: ubuntu, min-ready: 2, providers: [{ name: cloud-a }] }
providers:
  - name: cloud-a
    auth: { auth-url: http://127.0.0.1:1/v3, username: admin, password: secret, project-name: demo }
    max-servers: 5
    images: [{ name: ubuntu, base-image: ubuntu-jammy }]
targets:
  - { name: jenkins01, jenkins: { url: "http://127.0.0.1:1/", user: u, apikey: k, credentials-id: c } }
`,
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Sink();
  const err = new Sink();
  const code = await runCli(['--db', dbPath, '-c', configPath, ...argv], { out, err, env: {}, clock });
  return { code, out: out.text, err: err.text };
}

describe('nodepool info', () => {
  it('reports version, paths, deployment id, providers, targets and schema version, as text and --json', async () => {
    const store = SqliteStore.open(dbPath, { clock });
    await store.setMetaIfAbsent('deployment_id', 'ci-prod');
    await store.close();
    const json = await run('info', '--json');
    expect([json.code, json.err]).toEqual([0, '']);
    const view = JSON.parse(json.out) as Record<string, unknown>;
    expect(view).toMatchObject({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      config: { path: configPath, ok: true, error: null },
      database: { path: dbPath, exists: true, schemaVersion: SCHEMA_VERSION, supportedSchemaVersion: SCHEMA_VERSION, error: null },
      deploymentId: 'ci-prod',
      providers: [{ name: 'cloud-a', driver: 'openstack', maxServers: 5 }],
      targets: [{ name: 'jenkins01', kind: 'jenkins' }],
      statsd: null,
    });
    const text = await run('info');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(new RegExp(`^database +${dbPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(schema ${SCHEMA_VERSION}\\)$`, 'm'));
    expect(text.out).toMatch(/^deployment id +ci-prod$/m);
    expect(text.out).toMatch(/^providers +cloud-a \(openstack, max-servers 5, rate /m);
  });

  it('exits 1 and says what to do when there is no database, still showing the rest', async () => {
    const { code, out } = await run('info');
    expect(code).toBe(1);
    expect(out).toMatch(/^database +no database at .*; start the daemon first or pass --db$/m);
    expect(out).toMatch(/^deployment id +ci-prod$/m);
  });
});

describe('nodepool list --watch', () => {
  it('redraws every N seconds on the clock, each frame with its time, until the count', async () => {
    const store = SqliteStore.open(dbPath, { clock });
    await store.createNode({ provider: 'cloud-a', label: 'small', image: 'ubuntu', target: 'jenkins01' });
    await store.close();
    const out = new Sink();
    const running = runCli(['--db', dbPath, '-c', configPath, 'list', '--watch', '5', '--count', '3'], { out, err: new Sink(), env: {}, clock });
    // Each redraw after the first waits 5 s on the manual clock.
    for (let frame = 1; frame < 3; frame++) {
      await waitForFrames(out, frame);
      await clock.advance(5000);
    }
    expect(await running).toBe(0);
    const frames = out.text.split('\u001b[H\u001b[2J').filter(Boolean);
    expect(frames).toHaveLength(3);
    expect(frames.map((f) => f.split('\n')[0])).toEqual([
      'Every 5s: nodepool list    2026-01-02T03:04:05.000Z',
      'Every 5s: nodepool list    2026-01-02T03:04:10.000Z',
      'Every 5s: nodepool list    2026-01-02T03:04:15.000Z',
    ]);
    for (const f of frames) expect(f).toMatch(/small-cloud-a-1/);
  });

  it('refuses a bad interval or count', async () => {
    expect((await run('list', '--watch', '0', '--count', '1')).code).toBe(1);
    const bad = await run('list', '--watch', '--count', 'x');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/positive whole number/);
  });
});

async function waitForFrames(out: Sink, n: number): Promise<void> {
  for (let i = 0; i < 2000 && out.text.split('\u001b[H\u001b[2J').filter(Boolean).length < n; i++) await new Promise((r) => setImmediate(r));
}
