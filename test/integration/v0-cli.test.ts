// The 0.x parts of the CLI in-process: job rules in the store, -s / NODEPOOL_SECURE, config-migrate
// to stdout and its refusals, alien-list PROVIDER.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ManualClock } from '../../src/clock.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'nodepool-0.x');
const ENV = { OS_CLIENT_CONFIG_FILE: join(FIXTURES, 'clouds.yaml') };
const dir = mkdtempSync(join(tmpdir(), 'nodepool-v0-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class Sink {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

let n = 0;
let db: string;
let store: SqliteStore;
const clock = new ManualClock(Date.UTC(2024, 0, 2));

beforeEach(() => {
  db = join(dir, `t${++n}.db`);
  store = SqliteStore.open(db, { clock });
});
afterEach(async () => {
  await store.close();
});

async function run(argv: string[], env: Record<string, string> = ENV) {
  const out = new Sink();
  const err = new Sink();
  const code = await runCli(['--db', db, ...argv], { out, err, env, clock });
  return { code, out: out.text, err: err.text };
}

describe('job rules (0.3: job-list, job-create, job-delete)', () => {
  it('creates, lists and deletes rules kept in the database', async () => {
    const created = await run(['job-create', 'integration-.*', '--hold-on-failure', '2']);
    expect(created).toMatchObject({ code: 0, err: '' });
    expect(created.out).toMatch(/^job 1 \(integration-\.\*\): hold on failure 2\n$/);
    expect((await run(['job-create', 'unit', '--hold-on-failure', '1'])).code).toBe(0);
    const list = await run(['job-list']);
    expect(list.out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['ID', 'Name', 'Hold on Failure'],
      ['1', 'integration-.*', '2'],
      ['2', 'unit', '1'],
    ]);
    expect(JSON.parse((await run(['job-list', '--json'])).out).map((j: { name: string }) => j.name)).toEqual(['integration-.*', 'unit']);
    expect(await store.listJobs()).toHaveLength(2);
    expect((await run(['job-delete', '1'])).out).toBe('job rule 1 deleted\n');
    expect((await store.listJobs()).map((j) => j.name)).toEqual(['unit']);
  });

  it('refuses a second rule for a job, a bad pattern, a bad count and an unknown id', async () => {
    await run(['job-create', 'unit', '--hold-on-failure', '1']);
    const again = await run(['job-create', 'unit', '--hold-on-failure', '3']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('job unit already has a rule (id 1)');
    const bad = await run(['job-create', 'unit(', '--hold-on-failure', '1']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('expected a job name or a valid regular expression');
    expect((await run(['job-create', 'x', '--hold-on-failure', '-1'])).code).toBe(2);
    expect((await run(['job-create', 'x'])).err).toContain("required option '--hold-on-failure <n>'");
    const missing = await run(['job-delete', '9']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no job rule 9');
  });
});

describe('0.x config on the command line', () => {
  it('-s and NODEPOOL_SECURE name the secure.conf of a 0.x config', async () => {
    const all = join(FIXTURES, 'all-keys.yaml');
    const secure = join(FIXTURES, 'secure.conf');
    const bySwitch = await run(['-c', all, '-s', secure, 'config-validate']);
    const byEnv = await run(['-c', all, 'config-validate'], { ...ENV, NODEPOOL_SECURE: secure });
    const without = await run(['-c', all, 'config-validate']);
    expect(bySwitch.code).toBe(0);
    expect(bySwitch.out).toBe(byEnv.out);
    expect(bySwitch.out).toContain('3 targets');
    // Without secure.conf, jenkins02 has no Jenkins and is left out.
    expect(without.out).toContain('2 targets');
    expect(without.out).toContain('all-keys.yaml:142:11: targets[1].name: changed: target left out');
    for (const secret of ['secure-apikey', 'secure-db-secret', 'inline-secret', 'osc-secret']) expect(bySwitch.out).not.toContain(secret);
  });

  it('config-migrate writes to stdout, lists the variables (not the values) on stderr', async () => {
    const { code, out, err } = await run(['-s', join(FIXTURES, 'secure.conf'), 'config-migrate', join(FIXTURES, 'all-keys.yaml')]);
    expect(code).toBe(0);
    expect(out).toContain('# Native nodepool-ts config, written by "nodepool config-migrate"');
    expect(out).toContain('apikey: "${JENKINS02_APIKEY}"');
    expect(err).toContain('  JENKINS02_APIKEY  (targets[1].jenkins.apikey)');
    for (const secret of ['secure-apikey', 'secure-db-secret', 'inline-secret', 'osc-secret', 'yaml-apikey']) {
      expect(out).not.toContain(secret);
      expect(err).not.toContain(secret);
    }
  });

  it('config-migrate refuses a native file and reports a broken 0.x file by line', async () => {
    const native = await run(['config-migrate', 'config/nodepool.yaml']);
    expect(native.code).toBe(1);
    expect(native.err).toContain('config/nodepool.yaml is not a Nodepool 0.x file');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, readFileSync(join(FIXTURES, 'all-keys.yaml'), 'utf8').replace('    max-servers: 10\n', '    max-servers: ten\n'));
    const bad = await run(['config-migrate', broken]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/broken\.yaml:73:18: providers\[0\]\.max-servers: expected a non-negative integer, got "ten"/);
    expect(bad.out).toBe('');
  });

  it('alien-list PROVIDER names a configured provider', async () => {
    const { code, err } = await run(['-c', join(FIXTURES, 'all-keys.yaml'), 'alien-list', 'cloud-nowhere']);
    expect(code).toBe(1);
    expect(err).toContain('no provider cloud-nowhere in');
    expect(err).toContain('(it has cloud-inline, cloud-osc, cloud-named)');
  });
});
