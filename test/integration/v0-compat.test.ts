// Upstream Nodepool 0.x's own configs and fixtures (2013-2016), as an operator brings them:
// `config-validate` accepts each (warning once per key we read differently) except the two upstream
// meant as broken, and `config-migrate` turns each into a native file that loads to the same
// Config. The files are not part of this repository: the test runs where NODEPOOL_V0_COMPAT (or
// ../shared/compat/nodepool-0.x next to the checkout, as issue 10 names it) holds them, and is
// skipped elsewhere.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig, parseConfig } from '../../src/config.js';

const COMPAT = process.env.NODEPOOL_V0_COMPAT ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'compat', 'nodepool-0.x');
const present = existsSync(join(COMPAT, 'README.md'));

class Sink {
  text = '';
  write(s: string) {
    this.text += s;
    return true;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'nodepool-v0-compat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The providers of 06 and 17 name clouds of a clouds.yaml, as upstream's tests had one.
const CLOUDS = join(dir, 'clouds.yaml');
writeFileSync(
  CLOUDS,
  [
    'clouds:',
    '  fake-cloud:',
    '    auth: { auth_url: "https://keystone.example.org/v3", username: fake, password: cloud-secret, project_name: fake }',
    '  hpcloud:',
    '    region_name: region-b.geo-1',
    '    auth: { auth_url: "https://keystone.example.org/v3", username: hp, password: cloud-secret, project_name: hp, domain_name: Default }',
    '',
  ].join('\n'),
);
const ENV = { OS_CLIENT_CONFIG_FILE: CLOUDS };

/** As the compat README says: dummy values for the Python str.format placeholders. */
function substituted(name: string): string {
  const text = readFileSync(join(COMPAT, name), 'utf8')
    .replaceAll('{images_dir}', join(dir, 'images'))
    .replaceAll('{gearman_port}', '4730')
    .replaceAll('{dburi}', 'mysql+pymysql://nodepool:db-secret@localhost/nodepool');
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function cli(args: string[], env: Record<string, string> = ENV) {
  const out = new Sink();
  const err = new Sink();
  const code = await runCli(args, { out, err, env, clock: new ManualClock(0) });
  return { code, out: out.text, err: err.text };
}

/** The key of each warning line, list indexes written `[]`, with how often it comes. */
function warningKeys(out: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of out.split('\n').filter((l) => l.startsWith('warning: '))) {
    expect(line).toMatch(/^warning: \S+:\d+:\d+: [^:]+: (changed|ignored|not supported): /);
    const key = line.split(': ')[2].replace(/\[\d+\]/g, '[]');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const UNREGISTERED = { 'targets[].name': 1 };
const COMMON_02 = { 'script-dir': 1, 'cron.check': 1, 'cron.cleanup': 1 };
const FAKE_AUTH = (n: number) => ({ 'providers[].auth-url': n, 'providers[].project-id': n });
const POOL = (n: number) => ({ 'providers[].pool': n });
const DIB_DIRS = { 'elements-dir': 1, 'images-dir': 1 };

/** Per file (no secure.conf): the keys the warnings name, and how many times. */
const EXPECTED: Record<string, Record<string, number>> = {
  '01': { 'script-dir': 1, dburi: 1, 'cron.cleanup': 1, 'cron.update-image': 1, ...FAKE_AUTH(1), ...UNREGISTERED, 'targets[].images': 1, 'targets[].images[].providers[].min-ready': 1 },
  '02': { 'script-dir': 1, dburi: 1, 'cron.check': 1, 'cron.cleanup': 1, 'cron.update-image': 1, ...FAKE_AUTH(1), ...POOL(1), ...UNREGISTERED, 'targets[].images': 1 },
  '03': { ...COMMON_02, 'labels[].ready-script': 1, 'labels[].subnodes': 1, ...FAKE_AUTH(1), 'providers[].images[].subnodes': 1, ...UNREGISTERED },
  '04': { ...COMMON_02, ...DIB_DIRS, diskimages: 1, 'labels[].image': 1, ...FAKE_AUTH(1), 'providers[].images[].diskimage': 1, ...UNREGISTERED },
  '05': { ...COMMON_02, 'images-dir': 1, 'labels[].ready-script': 1, 'labels[].subnodes': 1, ...FAKE_AUTH(1), 'targets[].assign-via-gearman': 1 },
  '06': {
    // Its script-dir is absolute: read as it was.
    'cron.check': 1,
    'cron.cleanup': 1,
    ...DIB_DIRS,
    'labels[].ready-script': 14,
    'labels[].providers': 4,
    'labels[].image': 4,
    'labels[].subnodes': 2,
    'providers[].service-type': 10,
    'providers[].service-name': 10,
    'providers[].project-id': 5,
    'providers[].auth-url': 10,
    'providers[].boot-timeout': 11,
    'providers[].api-timeout': 5,
    'providers[].images[].diskimage': 30,
    'targets[].name': 7,
    diskimages: 1,
  },
  '09': { ...COMMON_02, 'images-dir': 1, ...FAKE_AUTH(1), ...POOL(1), ...UNREGISTERED },
  '10': { ...COMMON_02, 'images-dir': 1, ...FAKE_AUTH(1), ...POOL(1), ...UNREGISTERED },
  '11': { ...COMMON_02, 'images-dir': 1, ...FAKE_AUTH(2), ...POOL(2), ...UNREGISTERED },
  '12': { ...COMMON_02, ...DIB_DIRS, 'labels[].image': 1, ...FAKE_AUTH(1), ...POOL(1), 'providers[].images[].diskimage': 1, ...UNREGISTERED, diskimages: 1 },
  '13': { ...COMMON_02, ...DIB_DIRS, 'labels[].providers': 1, ...FAKE_AUTH(2), ...POOL(2), 'providers[].images[].diskimage': 1, ...UNREGISTERED, diskimages: 1 },
  '14': { ...COMMON_02, ...DIB_DIRS, 'labels[].providers': 1, ...FAKE_AUTH(2), ...POOL(2), 'providers[].images[].diskimage': 1, ...UNREGISTERED, diskimages: 1 },
  '15': { ...COMMON_02, ...DIB_DIRS, 'labels[].image': 1, ...FAKE_AUTH(2), ...POOL(2), 'providers[].image-type': 2, 'providers[].images[].diskimage': 2, ...UNREGISTERED, diskimages: 1 },
  '16': { ...COMMON_02, ...FAKE_AUTH(3), ...POOL(3), ...UNREGISTERED },
  '17': { ...COMMON_02, 'images-dir': 1, ...POOL(1), ...UNREGISTERED },
  '18': { ...COMMON_02, 'images-dir': 1, ...FAKE_AUTH(1), ...POOL(1), ...UNREGISTERED },
  '19': { ...COMMON_02, 'images-dir': 1, 'labels[].ready-script': 1, 'labels[].subnodes': 1, ...FAKE_AUTH(1), ...POOL(1), ...UNREGISTERED },
  '20': { ...COMMON_02, 'images-dir': 1, ...FAKE_AUTH(1), ...POOL(1), ...UNREGISTERED },
  '21': { ...COMMON_02, 'images-dir': 1, ...FAKE_AUTH(1), ...POOL(1), 'providers[].networks[].public': 1, ...UNREGISTERED },
};

const files = present ? readdirSync(COMPAT).filter((f) => f.endsWith('.yaml')).sort() : [];

describe.skipIf(!present)('Nodepool 0.x files (compat folder)', () => {
  it('has the files this test expects', () => {
    expect(files.map((f) => f.slice(0, 2))).toEqual([...Object.keys(EXPECTED), '07', '08'].sort());
  });

  it('07 (unknown top-level key) is rejected with its located error', async () => {
    const file = substituted('07-np-0.2.0-validate-schema_error.yaml');
    const { code, out } = await cli(['config-validate', file]);
    expect(code).toBe(1);
    expect(out).toContain(`${file}:5:1: nothandled: unknown key "nothandled"`);
  });

  it('08 (YAML syntax error) is rejected with its located error', async () => {
    const file = substituted('08-np-0.2.0-validate-yaml_error.yaml');
    const { code, out } = await cli(['config-validate', file]);
    expect(code).toBe(1);
    expect(out.split('\n')[0]).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:1022:1: .*YAML syntax error`));
  });

  for (const name of files.filter((f) => EXPECTED[f.slice(0, 2)])) {
    it(`${name}: accepted with one warning per key read differently`, async () => {
      const file = substituted(name);
      const { code, out, err } = await cli(['config-validate', file]);
      expect(err).toBe('');
      expect(code).toBe(0);
      const expected = EXPECTED[name.slice(0, 2)];
      expect(warningKeys(out)).toEqual(expected);
      const total = Object.values(expected).reduce((a, b) => a + b, 0);
      expect(out).toContain(`${file}: OK (Nodepool 0.x format, ${total} warnings)`);
    });
  }

  for (const name of files.filter((f) => Number(f.slice(0, 2)) >= 9)) {
    it(`${name} with secure.conf (33): its target registers with the Jenkins of secure.conf`, async () => {
      const file = substituted(name);
      const secure = substituted('33-np-0.2.0-secure.conf');
      const { code, out } = await cli(['-s', secure, 'config-validate', file]);
      expect(code).toBe(0);
      const expected: Record<string, number> = { ...EXPECTED[name.slice(0, 2)], '[database] dburi': 1 };
      delete expected['targets[].name'];
      expect(warningKeys(out)).toEqual(expected);
      expect(out).not.toContain('db-secret');
      const config = loadConfig(file, ENV, { secure });
      expect(config.targets).toEqual([
        { name: 'fake-target', jenkins: { url: 'http://fake-url', user: 'fake', apikey: 'fake', 'credentials-id': 'fake', 'remote-fs': '/home/jenkins' } },
      ]);
    });
  }

  for (const name of files.filter((f) => EXPECTED[f.slice(0, 2)])) {
    it(`${name}: config-migrate writes a native file that validates and loads to the same Config`, async () => {
      const file = substituted(name);
      const secure = Number(name.slice(0, 2)) >= 9 ? ['-s', substituted('33-np-0.2.0-secure.conf')] : [];
      const migrated = join(dir, `${name}.native.yaml`);
      const { code, err } = await cli([...secure, 'config-migrate', file, '-o', migrated]);
      expect(code).toBe(0);
      // The secrets are listed by variable name on stderr, never by value.
      const vars = [...err.matchAll(/^ {2}([A-Z0-9_]+) {2}\(/gm)].map((m) => m[1]);
      expect(vars.length).toBeGreaterThan(0);
      expect(err).not.toMatch(/cloud-secret|db-secret/);
      const text = readFileSync(migrated, 'utf8');
      expect(text).not.toMatch(/cloud-secret|db-secret/);
      const original = loadConfig(file, ENV, { secure: secure[1] });
      const secretEnv = Object.fromEntries(vars.map((v) => [v, secretOf(original, v)]));
      const check = await cli(['config-validate', migrated], secretEnv);
      expect(check.code).toBe(0);
      // Native now: no 0.x warnings.
      expect(check.out).not.toContain('warning:');
      expect(parseConfig(text, migrated, secretEnv)).toEqual(original);
    });
  }
});

/** The value config-migrate took out of the file for a variable, from the original load. */
function secretOf(config: ReturnType<typeof loadConfig>, name: string): string {
  for (const p of config.providers) if (`${p.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_PASSWORD` === name) return p.auth!.password;
  for (const t of config.targets) if (`${t.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_APIKEY` === name && t.jenkins) return t.jenkins.apikey;
  throw new Error(`no secret for ${name}`);
}
