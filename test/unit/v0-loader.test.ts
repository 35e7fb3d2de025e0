// The 0.x loader on test/fixtures/nodepool-0.x/: a file with every key of the 0.x references, its
// secure.conf and a clouds.yaml; then the cases one key at a time.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, parseConfig, type Config } from '../../src/config.js';
import { cloudsYamlCandidates } from '../../src/config/v0/clouds-yaml.js';
import { parseV0Config } from '../../src/config/v0/index.js';
import { V0_KEYS } from '../../src/config/v0/keys.js';
import { isV0 } from '../../src/config/v0/map.js';
import { migrateV0 } from '../../src/config/v0/migrate.js';
import { ConfigError } from '../../src/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'nodepool-0.x');
const ALL = join(FIXTURES, 'all-keys.yaml');
const SECURE = join(FIXTURES, 'secure.conf');
const ENV = { OS_CLIENT_CONFIG_FILE: join(FIXTURES, 'clouds.yaml') };
const SECRETS = ['inline-secret', 'named-secret', 'osc-secret', 'yaml-apikey', 'secure-apikey', 'secure-db-secret', 'not-a-real-password'];

const tmp = mkdtempSync(join(tmpdir(), 'nodepool-v0-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function loadAll(): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const config = loadConfig(ALL, ENV, { secure: SECURE, onWarning: (w) => warnings.push(w) });
  return { config, warnings };
}

/** Loads a 0.x text; returns the warnings or throws the problems. */
function v0(text: string, env: Record<string, string> = ENV): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const config = parseConfig(text, 'np.yaml', env, { onWarning: (w) => warnings.push(w) });
  return { config, warnings };
}

function problems(text: string, env: Record<string, string> = ENV): string[] {
  try {
    v0(text, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected problems');
}

const MINIMAL = [
  'script-dir: /etc/nodepool/scripts',
  'labels:',
  '  - name: trusty',
  '    image: trusty',
  '    providers:',
  '      - name: cloud',
  'providers:',
  '  - name: cloud',
  '    username: nodepool',
  '    password: pw-secret',
  '    project-id: ci',
  '    auth-url: https://keystone.example.org/v3',
  '    max-servers: 4',
  '    images:',
  '      - name: trusty',
  '        base-image: Ubuntu',
  '        min-ram: 2048',
  'targets:',
  '  - name: jenkins',
];

/** Every key path of a parsed YAML value, list indexes written `[]`. */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x) => keyPaths(x, `${prefix}[]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    // env-vars hold the operator's own names.
    return [path, ...(k === 'env-vars' || k === 'meta' ? [] : keyPaths(x, path))];
  });
}

describe('0.x loader: the file with every key', () => {
  it('uses every 0.x key of the table, and the table has every key it uses', () => {
    const used = new Set(keyPaths(parse(readFileSync(ALL, 'utf8'))));
    const table = V0_KEYS.filter((k) => !k.key.startsWith('secure.conf')).map((k) => k.key);
    expect(table.filter((k) => !used.has(k))).toEqual([]);
    expect([...used].filter((k) => !table.includes(k))).toEqual([]);
  });

  it('is accepted, with one located warning for each key read differently, and no secret in any', () => {
    const { warnings } = loadAll();
    for (const w of warnings) expect(w).toMatch(/^\S+:\d+:\d+: [^:]+: (changed|ignored|not supported): /);
    for (const s of SECRETS) expect(warnings.join('\n')).not.toContain(s);
    const keys = warnings.map((w) => w.split(': ')[1]);
    // Every ignored or unsupported key of the table, where it sits in the file.
    for (const k of V0_KEYS.filter((x) => x.treatment === 'ignored' || x.treatment === 'unsupported')) {
      if (k.key.startsWith('secure.conf') || /\]\.|^diskimages\[|^zookeeper-servers\[/.test(k.key.replace(/\[\]$/, ''))) continue;
      expect(keys.map((x) => x.replace(/\[\d+\]/g, '[]'))).toContain(k.key);
    }
    expect(warnings).toContain(`${ALL}:6:1: dburi: ignored: state is kept in SQLite at --db (NODEPOOL_DB); the database URI is not used`);
    expect(warnings).toContain(`${SECURE}:3:1: [database] dburi: ignored: state is kept in SQLite at --db; the database URI is not used (nor shown)`);
    expect(warnings).toContain(`${SECURE}:11:1: [jenkins "retired"]: ignored: no target "retired" in the config`);
    expect(keys).toContain('providers[1].max-servers');
    expect(keys).toContain('targets');
  });

  it('maps what has a counterpart, with 0.x defaults', () => {
    const { config } = loadAll();
    expect(config['scripts-dir']).toBe('/etc/nodepool/scripts');
    expect(config['cleanup-interval']).toBe(5 * 60_000);
    expect(config.cron['image-update']).toBe('14 2 * * *');
    expect(config['gearman-servers']).toEqual([{ host: 'zuul.example.org', port: 4730 }]);
    // Disabled labels (subnodes, min-ready -1, diskimage-builder only) are not in Config.labels.
    expect(config.labels.map((l) => [l.name, l['min-ready'], l.providers.map((p) => p.name), l.target])).toEqual([
      ['trusty', 3, ['cloud-inline', 'cloud-osc'], undefined],
      ['trusty-default', 2, ['cloud-inline'], undefined],
      // The 2013 layout: image min-ready plus the provider's; its target registers nowhere, so none.
      ['precise', 3, ['cloud-named'], undefined],
    ]);
    const [inline, osc, named] = config.providers;
    expect(inline.auth).toEqual({
      'auth-url': 'https://keystone.example.org:5000/v3',
      username: 'nodepool',
      password: 'inline-secret',
      'project-name': 'ci',
      'user-domain-name': 'Default',
      'project-domain-name': 'Default',
    });
    expect(inline).toMatchObject({
      'region-name': 'RegionOne',
      'max-servers': 10,
      rate: 0.5,
      'boot-timeout': 120_000,
      'launch-timeout': 900_000,
      'availability-zones': ['az1'],
      keypair: 'nodepool',
      networks: [{ id: '5f3a5a4e-0000-4000-8000-000000000001' }, { name: 'private' }, { name: 'public-net' }],
      'ipv6-preferred': true,
      'config-drive': true,
    });
    expect(inline.images[0]).toMatchObject({
      name: 'trusty',
      'base-image': 'Ubuntu 14.04',
      'min-ram': 8192,
      'name-filter': 'Performance',
      setup: 'prepare_node.sh',
      username: 'jenkins',
      'private-key': '/var/lib/jenkins/.ssh/id_rsa',
      meta: { key: 'value' },
      'template-hostname': 'template-{image}-{timestamp}',
    });
    // From clouds.yaml, with its region and domains; max-servers -1 is 0; 0.x's boot-timeout and rate.
    expect(osc.auth).toEqual({
      'auth-url': 'https://keystone.example.org/v3',
      username: 'osc-user',
      password: 'osc-secret',
      'project-name': 'osc-project',
      'user-domain-name': 'users',
      'project-domain-name': 'projects',
    });
    expect(osc).toMatchObject({ 'region-name': 'RegionTwo', 'max-servers': 0, 'boot-timeout': 60_000, rate: 1, 'ipv6-preferred': false });
    expect(named.auth?.['project-name']).toBe('ci');
    // jenkins01 from the YAML, jenkins02 from secure.conf, zuul through Gearman; legacy registers nowhere.
    expect(config.targets).toEqual([
      { name: 'jenkins01', jenkins: { url: 'https://jenkins01.example.org/', user: 'nodepool', apikey: 'yaml-apikey', 'credentials-id': 'nodepool-ssh', 'remote-fs': '/home/jenkins' } },
      { name: 'jenkins02', jenkins: { url: 'https://jenkins02.example.org/', user: 'nodepool', apikey: 'secure-apikey', 'credentials-id': 'nodepool-ssh', 'remote-fs': '/home/jenkins' } },
      { name: 'zuul', gearman: {} },
    ]);
  });

  it('config-migrate: a native file with the secrets as ${ENV}, which loads to the same Config', () => {
    const result = parseV0Config(readFileSync(ALL, 'utf8'), ALL, ENV, { secure: SECURE })!;
    const migrated = migrateV0(result, ALL);
    for (const s of SECRETS) expect(migrated.text).not.toContain(s);
    expect(migrated.secrets.map((s) => [s.env, s.path])).toEqual([
      ['CLOUD_INLINE_PASSWORD', 'providers[0].auth.password'],
      ['CLOUD_OSC_PASSWORD', 'providers[1].auth.password'],
      ['CLOUD_NAMED_PASSWORD', 'providers[2].auth.password'],
      ['JENKINS01_APIKEY', 'targets[0].jenkins.apikey'],
      ['JENKINS02_APIKEY', 'targets[1].jenkins.apikey'],
    ]);
    expect(migrated.text).toContain('password: "${CLOUD_INLINE_PASSWORD}"');
    expect(migrated.text).toContain('disabled: "subnodes: multi-node groups are not supported"');
    expect(migrated.text).toMatch(/# 0\.x providers\[1\]\.max-servers: changed: -1 .*\n\s+max-servers: 0/);
    const env = Object.fromEntries(migrated.secrets.map((s) => [s.env, s.value]));
    expect(parseConfig(migrated.text, 'native.yaml', env)).toEqual(result.config);
    // The native file is no 0.x file any more.
    expect(isV0(parse(migrated.text))).toBe(false);
  });
});

describe('0.x loader: one key at a time', () => {
  it('tells a 0.x file by its keys; a native file is left to the native loader', () => {
    expect(isV0(parse(MINIMAL.join('\n')))).toBe(true);
    expect(isV0(parse(readFileSync(join(import.meta.dirname, '..', '..', 'config', 'nodepool.yaml'), 'utf8')))).toBe(false);
    expect(isV0({ cron: { check: '* * * * *' } })).toBe(true);
    expect(isV0({ targets: [{ name: 'zuul', 'assign-via-gearman': true }] })).toBe(true);
  });

  it('applies 0.x defaults: min-ready 2, boot-timeout 60, rate 1.0', () => {
    const { config } = v0(MINIMAL.join('\n'));
    expect(config.labels[0]['min-ready']).toBe(2);
    expect(config.providers[0]['boot-timeout']).toBe(60_000);
    expect(config.providers[0].rate).toBe(1);
  });

  it('an unknown key is a located problem with a "did you mean", among 0.x keys', () => {
    const text = [...MINIMAL, 'zmq-publisher:', '  - tcp://j:8888'].join('\n');
    expect(problems(text)).toEqual(['np.yaml:20:1: zmq-publisher: unknown key "zmq-publisher"; did you mean "zmq-publishers"?']);
    const inProvider = MINIMAL.map((l) => (l === '    max-servers: 4' ? '    max-server: 4' : l)).join('\n');
    expect(problems(inProvider)).toContain('np.yaml:13:5: providers[0].max-server: unknown key "max-server"; did you mean "max-servers"?');
  });

  it('a native schema problem points at the 0.x key the value came from, never showing a secret', () => {
    const text = MINIMAL.map((l) => (l === '    max-servers: 4' ? '    max-servers: many' : l === '    password: pw-secret' ? '    password: [pw-secret]' : l)).join('\n');
    const p = problems(text);
    expect(p).toContain('np.yaml:10:15: providers[0].password: expected a string, got a secret');
    expect(p).toContain('np.yaml:13:18: providers[0].max-servers: expected a non-negative integer, got "many"');
    expect(p.join('\n')).not.toContain('pw-secret');
  });

  it('a label naming an unknown provider is a located cross-check problem', () => {
    const text = MINIMAL.map((l) => (l === '      - name: cloud' ? '      - name: clod' : l)).join('\n');
    expect(problems(text)).toContain('np.yaml:6:15: labels[0].providers[0].name: unknown provider "clod"; did you mean "cloud"?');
  });

  it('missing inline credentials are located at the provider', () => {
    const text = MINIMAL.filter((l) => l !== '    password: pw-secret').join('\n');
    expect(problems(text)).toEqual(['np.yaml:8:5: providers[0]: missing required key "password"']);
  });

  it('cloud: a cloud missing from clouds.yaml, or no clouds.yaml at all, is a located problem', () => {
    const text = MINIMAL.filter((l) => !/username|password|project-id|auth-url/.test(l))
      .map((l) => (l === '  - name: cloud' ? '  - name: cloud\n    cloud: nowhere' : l))
      .join('\n');
    expect(problems(text)[0]).toMatch(/^np\.yaml:9:12: providers\[0\]\.cloud: cloud "nowhere" is not in .*clouds\.yaml \(it has "example"\)$/);
    const none = problems(text, { OS_CLIENT_CONFIG_FILE: join(tmp, 'absent.yaml'), HOME: join(tmp, 'no-home') });
    expect(none[0]).toContain('cloud "nowhere": no clouds.yaml found (looked for');
  });

  it('clouds.yaml search order: OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/, /etc/openstack/', () => {
    expect(cloudsYamlCandidates({ env: { HOME: '/home/np', OS_CLIENT_CONFIG_FILE: '/x/c.yaml' }, cwd: '/srv' })).toEqual([
      '/x/c.yaml',
      ...['/srv', '/home/np/.config/openstack', '/etc/openstack'].flatMap((d) => ['clouds.yaml', 'clouds.yml', 'clouds.json'].map((f) => `${d}/${f}`)),
    ]);
    // The first file that exists is the one read: ./clouds.yaml before ~/.config/openstack/.
    const cwd = join(tmp, 'cwd');
    const home = join(tmp, 'home');
    mkdirSync(cwd, { recursive: true });
    mkdirSync(join(home, '.config', 'openstack'), { recursive: true });
    const cloud = (user: string) => `clouds:\n  c:\n    auth: { auth_url: "https://k.example.org/v3", username: ${user}, password: p, project_name: pr }\n`;
    writeFileSync(join(home, '.config', 'openstack', 'clouds.yaml'), cloud('from-home'));
    const text = MINIMAL.filter((l) => !/username|password|project-id|auth-url/.test(l))
      .map((l) => (l === '  - name: cloud' ? '  - name: cloud\n    cloud: c' : l))
      .join('\n');
    const load = () => parseConfig(text, 'np.yaml', { HOME: home }, { cwd }).providers[0].auth?.username;
    expect(load()).toBe('from-home');
    writeFileSync(join(cwd, 'clouds.yaml'), cloud('from-cwd'));
    expect(load()).toBe('from-cwd');
  });

  it('a Keystone v2.0 URL becomes v3; "fake" becomes a .invalid URL; both with a warning', () => {
    const text = MINIMAL.map((l) => (l.includes('auth-url') ? '    auth-url: fake' : l)).join('\n');
    const { config, warnings } = v0(text);
    expect(config.providers[0].auth?.['auth-url']).toBe('http://fake.invalid/');
    expect(warnings).toContain(
      'np.yaml:12:15: providers[0].auth-url: changed: "fake" is not an http(s) URL (0.x took "fake" for its built-in fake cloud, which we do not have): auth-url becomes http://fake.invalid/, which never answers; set your Keystone URL',
    );
  });

  it('a provider-wide template-hostname goes onto each image in the native fields', () => {
    const text = [...MINIMAL.slice(0, 13), "    template-hostname: '{provider.name}-{image.name}-{timestamp}'", ...MINIMAL.slice(13)].join('\n');
    expect(v0(text).config.providers[0].images[0]['template-hostname']).toBe('cloud-{image}-{timestamp}');
    const odd = [...MINIMAL.slice(0, 13), "    template-hostname: 'tpl-{image.id}'", ...MINIMAL.slice(13)].join('\n');
    const r = v0(odd);
    expect(r.config.providers[0].images[0]['template-hostname']).toBe('template-{image}-{timestamp}');
    expect(r.warnings.join('\n')).toContain('field {image.id} is not known here');
  });

  it('a label whose image is built with diskimage-builder on every provider is disabled, never a crash', () => {
    const text = MINIMAL.map((l) => (l === '        base-image: Ubuntu' ? '        diskimage: trusty-dib' : l)).join('\n');
    const { config, warnings } = v0(text);
    expect(config.labels).toEqual([]);
    expect(warnings).toContain('np.yaml:4:5: labels[0].image: not supported: label trusty disabled (no nodes): image trusty is built with diskimage-builder on every provider');
  });

  it('a native key added to a 0.x file (ssh-port, host-key-checking) is read as it is, silently', () => {
    const text = MINIMAL.flatMap((l) => (l === '    max-servers: 4' ? [l, '    ssh-port: 2222'] : l === '        min-ram: 2048' ? [l, '        host-key-checking: false'] : [l])).join('\n');
    const { config, warnings } = v0(text);
    expect(config.providers[0]['ssh-port']).toBe(2222);
    expect(config.providers[0].images[0]['host-key-checking']).toBe(false);
    expect(warnings.join('\n')).not.toMatch(/ssh-port|host-key-checking/);
    // A native secret added so is an ${ENV} reference in config-migrate's output.
    const withToken = [...MINIMAL, 'web:', '  token: web-secret'].join('\n');
    const migrated = migrateV0(parseV0Config(withToken, 'np.yaml', ENV)!, 'np.yaml');
    expect(migrated.text).not.toContain('web-secret');
    expect(migrated.secrets.map((s) => s.env)).toContain('WEB_TOKEN');
    // At the wrong level it is still an unknown key.
    expect(problems([...MINIMAL, 'ssh-port: 22'].join('\n'))).toEqual(['np.yaml:20:1: ssh-port: unknown key "ssh-port"']);
  });

  it('a target left out does not shift the next one: its secret and comments land on the right target', () => {
    const text = [...MINIMAL, '  - name: jenkins2', '    jenkins:', '      url: https://j2.example.org/', '      user: u', '      apikey: k2-secret', '      credentials-id: c', '      test-job: t'].join('\n');
    const result = parseV0Config(text, 'np.yaml', ENV)!;
    expect(result.config.targets.map((t) => t.name)).toEqual(['jenkins2']);
    const migrated = migrateV0(result, 'np.yaml');
    expect(migrated.secrets.map((s) => s.path)).toEqual(['providers[0].auth.password', 'targets[0].jenkins.apikey']);
    expect(migrated.text).toMatch(/# 0\.x targets\[1\]\.jenkins\.test-job: ignored/);
    const env = Object.fromEntries(migrated.secrets.map((s) => [s.env, s.value]));
    expect(parseConfig(migrated.text, 'native.yaml', env)).toEqual(result.config);
  });

  it('secure.conf is read for 0.x files only, through -s or NODEPOOL_SECURE', () => {
    const text = MINIMAL.join('\n');
    const secure = join(tmp, 'secure.conf');
    writeFileSync(secure, '[jenkins "jenkins"]\nurl=https://j.example.org/\nuser=u\napikey=k\ncredentials=c\n');
    expect(parseConfig(text, 'np.yaml', { ...ENV, NODEPOOL_SECURE: secure }).targets.map((t) => t.name)).toEqual(['jenkins']);
    expect(parseConfig(text, 'np.yaml', ENV, { secure }).targets.map((t) => t.name)).toEqual(['jenkins']);
    expect(parseConfig(text, 'np.yaml', ENV).targets).toEqual([]);
  });

  it('tenant-name and tenant-id (Keystone v2 names) are read as os-client-config reads them, with a warning', () => {
    const base = MINIMAL.filter((l) => l !== '    project-id: ci');
    const at = base.indexOf('    password: pw-secret') + 1;
    const withKeys = (...keys: string[]) => [...base.slice(0, at), ...keys, ...base.slice(at)].join('\n');
    const name = v0(withKeys('    tenant-name: ci-v2'));
    expect(name.config.providers[0].auth).toMatchObject({ 'project-name': 'ci-v2' });
    expect(name.warnings).toContain("np.yaml:11:5: providers[0].tenant-name: changed: Keystone v2's name for project-name, read as os-client-config reads it (project-name wins when both are set)");
    const id = v0(withKeys('    tenant-id: 7d1e6a'));
    expect(id.config.providers[0].auth).toMatchObject({ 'project-name': '7d1e6a' });
    expect(id.warnings.some((w) => w.startsWith('np.yaml:11:5: providers[0].tenant-id: changed: '))).toBe(true);
    // os-client-config's order: project-name, tenant-name, project-id, tenant-id; the others are ignored, said so.
    const both = v0(withKeys('    tenant-id: 7d1e6a', '    project-id: ci', '    tenant-name: ci-v2'));
    expect(both.config.providers[0].auth).toMatchObject({ 'project-name': 'ci-v2' });
    expect(both.warnings.filter((w) => /tenant|project/.test(w))).toEqual([
      'np.yaml:11:5: providers[0].tenant-id: ignored: tenant-name is set, and is the project used',
      'np.yaml:12:5: providers[0].project-id: ignored: tenant-name is set, and is the project used',
      expect.stringMatching(/^np\.yaml:13:5: providers\[0\]\.tenant-name: changed: /),
    ]);
    // A file whose only 0.x key is tenant-name is still told apart from a native one.
    expect(isV0(parse('providers:\n  - name: c\n    tenant-name: x\n'))).toBe(true);
  });

  it('an unset ${X} in a 0.x file is one located problem naming the variable, as for a native file', () => {
    const text = MINIMAL.join('\n').replace('password: pw-secret', 'password: ${NODEPOOL_V0_UNSET}');
    expect(problems(text)).toEqual(['np.yaml:10:15: providers[0].password: environment variable NODEPOOL_V0_UNSET is not set']);
    expect(parseConfig(text, 'np.yaml', { ...ENV, NODEPOOL_V0_UNSET: 'pw-secret' })).toEqual(v0(MINIMAL.join('\n')).config);
    // Two, each at its place; a value with a line break is refused the same way.
    const two = MINIMAL.join('\n').replace('username: nodepool', 'username: ${V0_USER}').replace('max-servers: 4', 'max-servers: ${V0_MAX}');
    expect(problems(two, { ...ENV, V0_USER: 'a\nb' })).toEqual([
      'np.yaml:9:15: providers[0].username: environment variable V0_USER contains a line break, which a config value may not',
      'np.yaml:13:18: providers[0].max-servers: environment variable V0_MAX is not set',
    ]);
  });

  it('config-migrate: secrets with quotes, backslashes and line breaks (in the file and in secure.conf) load to the same Config', () => {
    const secure = join(tmp, 'secure-quotes.conf');
    // configparser: an indented line continues the value, joined with a line break.
    writeFileSync(secure, ['[jenkins "jenkins"]', 'url=https://j.example.org/', 'user=u', 'apikey=k1 "two" \\ it\'s', '  second line', 'credentials=c', ''].join('\n'));
    const cases = ['a"b\\c', "it's", 'back\\slash', "it's \"both\" \\", " it's \"lead\"", 'tab\there', '#!: {x}, [y] & *z'];
    for (const pw of cases) {
      const text = MINIMAL.join('\n').replace('password: pw-secret', `password: ${JSON.stringify(pw)}`);
      const result = parseV0Config(text, 'np.yaml', ENV, { secure })!;
      expect(result.config.providers[0].auth).toMatchObject({ password: pw });
      expect(result.config.targets[0].jenkins).toMatchObject({ apikey: 'k1 "two" \\ it\'s\nsecond line' });
      const migrated = migrateV0(result, 'np.yaml');
      for (const s of [pw, 'second line']) expect(migrated.text).not.toContain(s);
      // The variables hold the secrets as they are, but for the one with a line break: escaped, and said so.
      expect(migrated.secrets.map((s) => [s.env, s.escaped])).toEqual([['CLOUD_PASSWORD', pw.startsWith(' ')], ['JENKINS_APIKEY', true]]);
      const [password, apikey] = migrated.secrets;
      if (!password.escaped) expect(password.value).toBe(pw);
      expect(apikey.value).toBe('k1 \\"two\\" \\\\ it\'s\\nsecond line');
      expect(migrated.text).toContain('JENKINS_APIKEY (targets[0].jenkins.apikey): the value escaped as between YAML double quotes');
      const env = Object.fromEntries(migrated.secrets.map((s) => [s.env, s.value]));
      expect(parseConfig(migrated.text, 'native.yaml', env)).toEqual(result.config);
    }
  });
});
