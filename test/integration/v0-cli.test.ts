// The 0.x parts of the CLI in-process: job rules in the store, -s / NODEPOOL_SECURE, config-migrate
// to stdout and its refusals, alien-list PROVIDER.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
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
    expect(without.out).toContain('all-keys.yaml:144:11: targets[1].name: changed: target left out');
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

  it('config-migrate: an unset ${X} in the 0.x file is one located error; a secret with quotes and a line break round-trips', async () => {
    const all = readFileSync(join(FIXTURES, 'all-keys.yaml'), 'utf8');
    const unset = join(dir, 'unset.yaml');
    writeFileSync(unset, all.replace('password: named-secret', 'password: ${V0_CLI_UNSET}'));
    const bad = await run(['config-migrate', unset]);
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n')).toEqual([`${unset}:121:15: providers[2].password: environment variable V0_CLI_UNSET is not set`]);
    const quoted = join(dir, 'quoted.yaml');
    writeFileSync(quoted, all.replace('password: named-secret', `password: '"named" \\ it''s'`));
    const secure = join(dir, 'secure-nl.conf');
    writeFileSync(secure, readFileSync(join(FIXTURES, 'secure.conf'), 'utf8').replace(/^apikey=secure-apikey$/m, 'apikey=secure-apikey "x"\n  \\ more'));
    const out = join(dir, 'migrated.yaml');
    const ok = await run(['-s', secure, 'config-migrate', quoted, '-o', out]);
    expect(ok.err).not.toMatch(/named|secure-apikey/);
    expect(ok.code).toBe(0);
    expect(ok.err).toMatch(/ {2}CLOUD_NAMED_PASSWORD {2}\(providers\[2\]\.auth\.password\)\n/);
    expect(ok.err).toMatch(/ {2}JENKINS02_APIKEY {2}\(targets\[1\]\.jenkins\.apikey\): the value escaped as between YAML double quotes/);
    const env = { ...ENV, CLOUD_NAMED_PASSWORD: '"named" \\ it\'s', CLOUD_INLINE_PASSWORD: 'inline-secret', CLOUD_OSC_PASSWORD: 'osc-secret', JENKINS01_APIKEY: 'yaml-apikey', JENKINS02_APIKEY: 'secure-apikey \\"x\\"\\n\\\\ more' };
    const migrated = await run(['-c', out, 'config-validate'], env);
    expect([migrated.code, migrated.err]).toEqual([0, '']);
    const original = loadConfig(quoted, ENV, { secure });
    expect(original.providers[2].auth).toMatchObject({ password: '"named" \\ it\'s' });
    expect(original.targets[1].jenkins).toMatchObject({ apikey: 'secure-apikey "x"\n\\ more' });
    expect(loadConfig(out, env)).toEqual(original);
  });

  it('alien-list PROVIDER names a configured provider', async () => {
    const { code, err } = await run(['-c', join(FIXTURES, 'all-keys.yaml'), 'alien-list', 'cloud-nowhere']);
    expect(code).toBe(1);
    expect(err).toContain('no provider cloud-nowhere in');
    expect(err).toContain('(it has cloud-inline, cloud-osc, cloud-named)');
  });
});
