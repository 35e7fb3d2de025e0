import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configValidate } from '../../src/cli/config-validate.js';
import { loadConfig, parseConfig, type Env } from '../../src/config.js';
import { suggest } from '../../src/config/suggest.js';
import { ConfigError } from '../../src/errors.js';

const DEMO_ENV: Env = {
  NODEPOOL_DEMO_CLOUD_A_URL: 'http://127.0.0.1:40001/identity/v3',
  NODEPOOL_DEMO_CLOUD_B_URL: 'http://127.0.0.1:40002/identity/v3',
  NODEPOOL_DEMO_SSH_PORT_A: '42022',
  NODEPOOL_DEMO_SSH_PORT_B: '42023',
  NODEPOOL_DEMO_EC2_URL: 'http://127.0.0.1:40003',
  NODEPOOL_DEMO_EC2_KEY: 'AKIDEXAMPLE',
  NODEPOOL_DEMO_EC2_SECRET: 'emulator-secret',
  NODEPOOL_DEMO_SSH_PORT_EC2: '42024',
  NODEPOOL_DEMO_KEY: '/tmp/nodepool-demo/id_ed25519',
  NODEPOOL_DEMO_SCRIPTS_DIR: '/tmp/nodepool-demo/images',
  NODEPOOL_DEMO_GEARMAN_PORT: '4730',
  NODEPOOL_DEMO_ZMQ_URL: 'tcp://127.0.0.1:8888',
  NODEPOOL_DEMO_JENKINS_URL: 'http://127.0.0.1:8080/',
  NODEPOOL_DEMO_JENKINS_TOKEN: 'token',
};

const PROD_ENV: Env = {
  DC1_OS_PASSWORD: 'dc1: s3cret #1',
  DC2_OS_AUTH_URL: 'https://keystone.dc2.example.org:5000/v3',
  DC2_OS_PASSWORD: 'dc2-s3cret',
  JENKINS01_API_TOKEN: '11aa22bb33cc',
};

/** The smallest valid file; bad cases below are edits of it, written out so positions are visible. */
const MINIMAL = `labels:
  - name: small
    image: ubuntu
    providers:
      - name: cloud-a
providers:
  - name: cloud-a
    auth:
      auth-url: http://127.0.0.1:5000/v3
      username: admin
      password: secret
      project-name: demo
    max-servers: 4
    images:
      - name: ubuntu
        base-image: ubuntu-jammy
`;

function problems(text: string, env: Env = {}): string[] {
  try {
    parseConfig(text, 'bad.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('valid configs', () => {
  it('parses the demo config with its env vars set', () => {
    const c = loadConfig('config/demo.yaml', DEMO_ENV);
    expect(c.providers.map((p) => [p.name, p.driver, p['max-servers'], p['ssh-port'], p.rate, p['rate-burst']])).toEqual([
      ['cloud-a', 'openstack', 6, 42022, 0.05, 5],
      ['cloud-b', 'openstack', 4, 42023, 0.05, 5],
      ['aws', 'ec2', 3, 42024, 1, 1],
    ]);
    expect(c.providers[2]).toMatchObject({ 'region-name': 'us-east-1', endpoint: 'http://127.0.0.1:40003', 'access-key-id': 'AKIDEXAMPLE', keypair: 'nodepool' });
    expect(c.providers[0].auth).toEqual({
      'auth-url': 'http://127.0.0.1:40001/identity/v3',
      username: 'admin',
      password: 'secret',
      'project-name': 'demo',
      'user-domain-name': 'Default',
      'project-domain-name': 'Default',
    });
    expect(c.providers[1].auth?.['auth-url']).toBe('http://127.0.0.1:40002/identity/v3');
    expect(c.providers.map((p) => [p['boot-timeout'], p['poll-interval']])).toEqual([
      [60_000, 500],
      [60_000, 500],
      [60_000, 500],
    ]);
    expect(c.providers[0].images.map((i) => [i.name, i['base-image'], i['min-ram'], i.username, i['private-key']])).toEqual([
      ['ubuntu', 'ubuntu-jammy', 2048, 'jenkins', '/tmp/nodepool-demo/id_ed25519'],
      ['ubuntu-large', 'ubuntu-jammy', 4096, 'jenkins', '/tmp/nodepool-demo/id_ed25519'],
    ]);
    expect(c.providers[1].images.map((i) => i.name)).toEqual(['ubuntu']);
    expect(c.labels.map((l) => [l.name, l.image, l['min-ready'], l.providers.map((p) => p.name)])).toEqual([
      ['small', 'ubuntu', 3, ['cloud-a', 'cloud-b', 'aws']],
      ['large', 'ubuntu-large', 1, ['cloud-a']],
    ]);
    expect(c.targets.map((t) => [t.name, t.jenkins?.url ?? null, t.gearman !== undefined])).toEqual([
      ['jenkins', 'http://127.0.0.1:8080/', false],
      ['sim-master', null, true],
    ]);
    expect(c.labels.map((l) => l.target)).toEqual(['jenkins', 'sim-master']);
    expect([c['gearman-servers'], c['zmq-publishers'], c.jobs]).toEqual([
      [{ host: '127.0.0.1', port: 4730 }],
      ['tcp://127.0.0.1:8888'],
      [{ name: 'integration', 'hold-on-failure': 1 }],
    ]);
  });

  it('parses the annotated production example with its secrets from the environment', () => {
    const c = loadConfig('config/nodepool.yaml', PROD_ENV);
    expect(c.providers.map((p) => p.name)).toEqual(['dc1-cloud', 'dc2-cloud', 'aws-us-east-1']);
    expect(c.providers[2]).toMatchObject({ driver: 'ec2', 'region-name': 'us-east-1', market: 'on-demand', 'max-vcpus': 200 });
    // A password with ": " and " #" survives because the example quotes the reference.
    expect(c.providers[0].auth?.password).toBe('dc1: s3cret #1');
    expect(c.providers[1].auth?.['auth-url']).toBe('https://keystone.dc2.example.org:5000/v3');
    expect(c.targets.map((t) => [t.name, t.jenkins?.apikey ?? null, t.gearman ?? null])).toEqual([
      ['jenkins01', '11aa22bb33cc', null],
      ['zuul-workers', null, {}],
    ]);
    expect(c['gearman-servers']).toEqual([{ host: 'zuul.example.org', port: 4730 }]);
    expect(c['zmq-publishers']).toHaveLength(2);
    expect(c.jobs).toEqual([
      { name: 'gate-nova-python3.*', 'hold-on-failure': 2 },
      { name: 'periodic-stable-.*', 'hold-on-failure': 1 },
    ]);
    expect(c['max-age']).toEqual({ ready: 86_400_000, 'in-use': 43_200_000, used: 3_600_000, hold: 604_800_000 });
    expect(c.providers[0]['launch-timeout']).toBe(3_600_000);
    expect(c.labels.map((l) => [l.name, l['min-ready'], l.target])).toEqual([
      ['ubuntu-jammy', 4, 'jenkins01'],
      ['ubuntu-jammy-large', 1, 'jenkins01'],
      ['devstack', 0, 'zuul-workers'],
    ]);
  });

  it('applies defaults', () => {
    const c = parseConfig(MINIMAL, 'min.yaml', {});
    const p = c.providers[0];
    expect(p.driver).toBe('openstack');
    expect(p.interface).toBe('public');
    expect([p.rate, p['rate-burst'], p['max-concurrency'], p['launch-retries'], p['ssh-port']]).toEqual([1, 1, 10, 3, 22]);
    expect([p['boot-timeout'], p['launch-timeout'], p['poll-interval']]).toEqual([120_000, 3_600_000, 2_000]);
    expect([p['availability-zones'], p.networks, p['config-drive']]).toEqual([[], 'auto', false]);
    expect(p.auth?.['user-domain-name']).toBe('Default');
    expect(p.images[0]).toEqual({
      name: 'ubuntu',
      'base-image': 'ubuntu-jammy',
      'min-ram': 0,
      username: 'jenkins',
      'private-key': '/var/lib/jenkins/.ssh/id_rsa',
      meta: {},
      'host-key-checking': true,
      'build-timeout': 3_600_000,
      'snapshot-timeout': 1_800_000,
      'template-hostname': 'template-{image}-{timestamp}',
    });
    expect([p['ipv6-preferred'], p['use-private-address']]).toEqual([false, false]);
    expect(c.labels[0]['min-ready']).toBe(0);
    expect(c.labels[0].target).toBeUndefined();
    expect(c.cron).toEqual({ 'image-update': '14 2 * * *' });
    expect([c['demand-interval'], c['cleanup-interval']]).toEqual([5_000, 60_000]);
    expect(c['max-age']).toEqual({ ready: 86_400_000, 'in-use': 86_400_000, used: 3_600_000, hold: 604_800_000 });
    expect([c.targets, c.jobs, c['gearman-servers'], c['zmq-publishers']]).toEqual([[], [], [], []]);
  });

  it('substitutes env vars before parsing: numbers stay numbers, $${X} is literal, comments are skipped', () => {
    const text = MINIMAL.replace('max-servers: 4', 'max-servers: ${MAX} # not ${IN_COMMENT}')
      // A function replacement: a replacement string would turn "$$" into "$".
      .replace('password: secret', () => 'password: "p-${PW}-$${LITERAL}"')
      .replace('auth-url: http://127.0.0.1:5000/v3', 'auth-url: http://${HOST}:5000/v3')
      .concat('    ssh-port: ${PORT}\n');
    const c = parseConfig(text, 'env.yaml', { MAX: '7', PW: 'hunter2', HOST: 'keystone.local', PORT: '2222' });
    expect(c.providers[0]['max-servers']).toBe(7);
    expect(c.providers[0]['ssh-port']).toBe(2222);
    expect(c.providers[0].auth?.password).toBe('p-hunter2-${LITERAL}');
    expect(c.providers[0].auth?.['auth-url']).toBe('http://keystone.local:5000/v3');
  });

  it('does not read process.env: only the env passed in counts', () => {
    process.env.NODEPOOL_TEST_ONLY_IN_PROCESS = '5';
    try {
      expect(problems(MINIMAL.replace('max-servers: 4', 'max-servers: ${NODEPOOL_TEST_ONLY_IN_PROCESS}'))).toEqual([
        'bad.yaml:13:18: providers[0].max-servers: environment variable NODEPOOL_TEST_ONLY_IN_PROCESS is not set',
      ]);
    } finally {
      delete process.env.NODEPOOL_TEST_ONLY_IN_PROCESS;
    }
  });
});

describe('bad configs: one exact line per problem', () => {
  it('unknown key, with a suggestion when one is close', () => {
    expect(problems(MINIMAL.replace('max-servers: 4', 'max-server: 4'))).toEqual([
      'bad.yaml:7:5: providers[0].max-servers: missing required key "max-servers"',
      'bad.yaml:13:5: providers[0].max-server: unknown key "max-server"; did you mean "max-servers"?',
    ]);
  });

  it('unknown key with no close match gets no suggestion; misspelt top-level key is caught', () => {
    expect(problems(`${MINIMAL}colour: blue\nlables: []\n`)).toEqual([
      'bad.yaml:17:1: colour: unknown key "colour"',
      'bad.yaml:18:1: lables: unknown key "lables"; did you mean "labels"?',
    ]);
  });

  it('a secret of the wrong type is named by its kind, never shown', () => {
    const out = problems(`${MINIMAL}web: { token: 918273645 }\n`);
    expect(out).toEqual(['bad.yaml:17:15: web.token: expected a string, got a number']);
    expect(out.join('\n')).not.toContain('918273645');
  });

  it('wrong type', () => {
    expect(problems(MINIMAL.replace('max-servers: 4', 'max-servers: four\n    config-drive: "yes"'))).toEqual([
      'bad.yaml:13:18: providers[0].max-servers: expected a non-negative integer, got "four"',
      'bad.yaml:14:19: providers[0].config-drive: expected true or false, got "yes"',
    ]);
  });

  it('negative and fractional numbers', () => {
    const text = MINIMAL.replace('    image: ubuntu\n', '    image: ubuntu\n    min-ready: -3\n').replace('max-servers: 4', 'max-servers: 2.5');
    expect(problems(text)).toEqual([
      'bad.yaml:4:16: labels[0].min-ready: expected a non-negative integer, got -3',
      'bad.yaml:14:18: providers[0].max-servers: expected a non-negative integer, got 2.5',
    ]);
  });

  it('missing required key points at the parent mapping', () => {
    expect(problems(MINIMAL.replace('        base-image: ubuntu-jammy\n', ''))).toEqual([
      'bad.yaml:15:9: providers[0].images[0].base-image: missing required key "base-image"',
    ]);
  });

  it('empty value where a number is expected points at its key', () => {
    expect(problems(MINIMAL.replace('max-servers: 4', 'max-servers:'))).toEqual([
      'bad.yaml:13:5: providers[0].max-servers: expected a non-negative integer, got an empty value',
    ]);
  });

  it('bad durations', () => {
    const text = MINIMAL.replace('max-servers: 4', 'max-servers: 4\n    boot-timeout: 5x\n    poll-interval: 0');
    expect(problems(`${text}max-age:\n  hold: [1]\n`)).toEqual([
      'bad.yaml:14:19: providers[0].boot-timeout: expected a positive duration: seconds, or e.g. "30s", "5m", "2h", "1d", got "5x"',
      'bad.yaml:15:20: providers[0].poll-interval: expected a positive duration: seconds, or e.g. "30s", "5m", "2h", "1d", got 0',
      'bad.yaml:20:9: max-age.hold: expected a positive duration: seconds, or e.g. "30s", "5m", "2h", "1d", got a list of 1 entry',
    ]);
  });

  it('label names a provider that is not defined', () => {
    expect(problems(MINIMAL.replace('      - name: cloud-a\nproviders:', '      - name: cloud-b\n      - name: mars\nproviders:'))).toEqual([
      'bad.yaml:5:15: labels[0].providers[0].name: unknown provider "cloud-b"; did you mean "cloud-a"?',
      'bad.yaml:6:15: labels[0].providers[1].name: unknown provider "mars"',
    ]);
  });

  it("label image missing from one of its providers' images", () => {
    const text = `${MINIMAL.replace('      - name: cloud-a\nproviders:', '      - name: cloud-a\n      - name: cloud-b\nproviders:')}  - name: cloud-b
    auth: { auth-url: "http://10.0.0.2:5000/v3", username: a, password: b, project-name: c }
    max-servers: 2
    images:
      - name: ubuntu-noble
        base-image: noble
`;
    expect(problems(text)).toEqual(['bad.yaml:3:12: labels[0].image: image "ubuntu" is not defined in provider "cloud-b"']);
  });

  it('duplicate names among labels, providers, targets and images within a provider', () => {
    const text = `labels:
  - name: small
    image: ubuntu
    providers: [{ name: cloud-a }]
  - name: small
    image: ubuntu
    providers: [{ name: cloud-a }]
providers:
  - name: cloud-a
    driver: ec2
    max-servers: 1
    images:
      - { name: ubuntu, base-image: a }
      - { name: ubuntu, base-image: b }
  - name: cloud-a
    driver: ec2
    max-servers: 1
    images: [{ name: ubuntu, base-image: a }]
gearman-servers: [{ host: localhost }]
targets:
  - { name: zuul, gearman: {} }
  - { name: zuul, gearman: {} }
`;
    expect(problems(text)).toEqual([
      'bad.yaml:5:11: labels[1].name: duplicate label name "small"',
      'bad.yaml:9:5: providers[0].region-name: missing required key "region-name" (driver ec2 needs its AWS region)',
      'bad.yaml:14:17: providers[0].images[1].name: duplicate image (in provider "cloud-a") name "ubuntu"',
      'bad.yaml:15:5: providers[1].region-name: missing required key "region-name" (driver ec2 needs its AWS region)',
      'bad.yaml:15:11: providers[1].name: duplicate provider name "cloud-a"',
      'bad.yaml:22:13: targets[1].name: duplicate target name "zuul"',
    ]);
  });

  it('unset env var, a value with a line break, and a malformed reference, without printing values', () => {
    const text = MINIMAL.replace('password: secret', 'password: ${OS_PASSWORD}')
      .replace('username: admin', 'username: ${OS_USER}')
      .replace('project-name: demo', 'project-name: ${project name}');
    const lines = problems(text, { OS_USER: 'line1\nline2' });
    expect(lines).toEqual([
      'bad.yaml:10:17: providers[0].auth.username: environment variable OS_USER contains a line break, which a config value may not',
      'bad.yaml:11:17: providers[0].auth.password: environment variable OS_PASSWORD is not set',
      'bad.yaml:12:21: providers[0].auth.project-name: bad variable reference "${project name}": expected ${NAME} with NAME of letters, digits and "_"',
    ]);
    expect(lines.join('\n')).not.toContain('line1');
  });

  it('a substituted value of the wrong type is described, never shown; columns are those of the file', () => {
    const text = MINIMAL.replace('password: secret', 'password: ${OS_PASSWORD}').replace('max-servers: 4', 'max-servers: 4\n    rate: ${RATE}');
    const lines = problems(text, { OS_PASSWORD: '987654321', RATE: 'zzz-top-secret' });
    expect(lines).toEqual([
      'bad.yaml:11:17: providers[0].auth.password: expected a string, got a number from ${OS_PASSWORD}',
      'bad.yaml:14:11: providers[0].rate: expected a positive number, got a string from ${RATE}',
    ]);
    expect(lines.join('\n')).not.toMatch(/987654321|zzz-top-secret/);

    const flow = MINIMAL.replace(/ {4}auth:\n( {6}.*\n){4}/, '    auth: { auth-url: "${URL}", username: u, password: 12, project-name: p }\n');
    // `password: 12` is at column 56 in the file, whatever the length of the substituted URL.
    expect(problems(flow, { URL: 'http://a-very-long-host-name.example.org:5000/v3' })).toEqual([
      'bad.yaml:8:56: providers[0].auth.password: expected a string, got a number',
    ]);
  });

  it('YAML syntax errors name line and column', () => {
    expect(problems('labels:\n  - name: small\n    image: [ubuntu\nproviders: []\n')).toEqual([
      'bad.yaml:4:1: providers: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(problems(MINIMAL.replace('max-servers: 4', 'max-servers: 4\n    max-servers: 5'))).toEqual([
      'bad.yaml:14:5: providers[0].max-servers: YAML syntax error: Map keys must be unique',
    ]);
  });

  it('target with both jenkins and gearman; gearman target without gearman-servers; target with neither', () => {
    const text = `${MINIMAL}targets:
  - name: both
    jenkins: { url: "https://j.example.org/", user: u, apikey: k, credentials-id: c }
    gearman: {}
  - name: zuul
    gearman: {}
  - name: nowhere
`;
    expect(problems(text)).toEqual([
      'bad.yaml:20:5: targets[0].gearman: a target registers with either "jenkins" or "gearman", not both',
      'bad.yaml:22:5: targets[1].gearman: a gearman target needs at least one entry in "gearman-servers"',
      'bad.yaml:23:5: targets[2].jenkins: missing "jenkins" or "gearman": say where this target registers nodes',
    ]);
  });

  it('bad URLs', () => {
    const text = `${MINIMAL.replace('http://127.0.0.1:5000/v3', 'ftp://127.0.0.1/v3')}targets:
  - name: j
    jenkins: { url: "not a url", user: u, apikey: k, credentials-id: c }
`;
    expect(problems(text)).toEqual([
      'bad.yaml:9:17: providers[0].auth.auth-url: expected an http:// or https:// URL, got "ftp://127.0.0.1/v3"',
      'bad.yaml:19:21: targets[0].jenkins.url: expected an http:// or https:// URL, got "not a url"',
    ]);
  });

  it('openstack provider without auth; unknown driver', () => {
    const noAuth = MINIMAL.replace(/ {4}auth:\n( {6}.*\n){4}/, '');
    expect(problems(noAuth)).toEqual([
      'bad.yaml:7:5: providers[0].auth: missing required key "auth" (driver openstack needs Keystone credentials)',
    ]);
    expect(problems(MINIMAL.replace('  - name: cloud-a\n    auth:', '  - name: cloud-a\n    driver: aws\n    auth:'))).toEqual([
      'bad.yaml:8:13: providers[0].driver: expected one of "openstack", "ec2", got "aws"',
    ]);
  });

  it('label target that is not defined', () => {
    const text = MINIMAL.replace('    image: ubuntu\n', '    image: ubuntu\n    target: jenkins02\n');
    expect(problems(text)).toEqual(['bad.yaml:4:13: labels[0].target: unknown target "jenkins02"; no targets are defined']);
    const withTarget = `${text}targets:\n  - name: jenkins01\n    jenkins: { url: "https://j/", user: u, apikey: k, credentials-id: c }\n`;
    expect(problems(withTarget)).toEqual(['bad.yaml:4:13: labels[0].target: unknown target "jenkins02"; did you mean "jenkins01"?']);
  });

  it('empty lists, bad names, ports, publishers and job patterns', () => {
    const text = `${MINIMAL.replace('- name: small', '- name: "small label"').replace('max-servers: 4', 'max-servers: 4\n    ssh-port: 70000\n    images: []').replace(/ {4}images:\n {6}- name: ubuntu\n {8}base-image: ubuntu-jammy\n/, '')}zmq-publishers: ["jenkins:8888"]
jobs:
  - name: "gate-(nova"
`;
    expect(problems(text)).toEqual([
      'bad.yaml:2:11: labels[0].name: expected a name of letters, digits, "-", "_" or "." (starting with a letter or digit), got "small label"',
      // The provider's image list is empty, so the label's image is not found there either.
      'bad.yaml:3:12: labels[0].image: image "ubuntu" is not defined in provider "cloud-a"',
      'bad.yaml:14:15: providers[0].ssh-port: expected a port number from 1 to 65535, got 70000',
      'bad.yaml:15:13: providers[0].images: expected a list with at least 1 entry, got an empty list',
      'bad.yaml:16:18: zmq-publishers[0]: expected tcp://HOST:PORT, got "jenkins:8888"',
      'bad.yaml:18:11: jobs[0].name: expected a job name or a valid regular expression, got "gate-(nova"',
    ]);
  });

  it('an empty file or a list at the top', () => {
    expect(problems('')).toEqual(['bad.yaml:1:1: (root): expected a mapping, got an empty value']);
    expect(problems('# only a comment\n- a\n')).toEqual(['bad.yaml:2:1: (root): expected a mapping, got a list of 1 entry']);
  });

  it('lists every problem at once, in file order', () => {
    const text = MINIMAL.replace('image: ubuntu', 'image: ubuntoo')
      .replace('max-servers: 4', 'max-servers: -1\n    rate-burst: 0')
      .replace('password: secret', 'password: ${PW}');
    expect(problems(text)).toEqual([
      'bad.yaml:3:12: labels[0].image: image "ubuntoo" is not defined in provider "cloud-a"; did you mean "ubuntu"?',
      'bad.yaml:11:17: providers[0].auth.password: environment variable PW is not set',
      'bad.yaml:13:18: providers[0].max-servers: expected a non-negative integer, got -1',
      'bad.yaml:14:17: providers[0].rate-burst: expected a positive integer, got 0',
    ]);
  });

  it('an unreadable file is a ConfigError naming it', () => {
    expect(() => loadConfig('config/does-not-exist.yaml')).toThrow(new ConfigError(['config/does-not-exist.yaml: cannot read the file (ENOENT)']));
  });
});

describe('config-validate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nodepool-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints OK and a summary, exit 0', () => {
    const out: string[] = [];
    expect(configValidate('config/nodepool.yaml', PROD_ENV, (l) => out.push(l))).toBe(0);
    expect(out).toEqual(['config/nodepool.yaml: OK', '3 providers, 3 labels, 2 targets']);
    const demo: string[] = [];
    expect(configValidate('config/demo.yaml', DEMO_ENV, (l) => demo.push(l))).toBe(0);
    expect(demo).toEqual(['config/demo.yaml: OK', '3 providers, 2 labels, 2 targets']);
  });

  it('prints every problem, exit 1', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, MINIMAL.replace('max-servers: 4', 'max-servers: 4\n    rate: -1').replace('- name: small', '- name: small\n    min-ready: x'));
    const out: string[] = [];
    expect(configValidate(file, {}, (l) => out.push(l))).toBe(1);
    expect(out).toEqual([
      `${file}:3:16: labels[0].min-ready: expected a non-negative integer, got "x"`,
      `${file}:15:11: providers[0].rate: expected a positive number, got -1`,
    ]);
  });
});

describe('suggest', () => {
  it('suggests close names only', () => {
    expect(suggest('lables', ['labels', 'providers'])).toBe('labels');
    expect(suggest('Max-Servers', ['max-servers', 'rate'])).toBe('max-servers');
    expect(suggest('zz', ['labels', 'providers'])).toBeUndefined();
    expect(suggest('boot-time', ['boot-timeout', 'launch-timeout'])).toBe('boot-timeout');
  });
});

describe('demo config without gearmand', () => {
  it('drops the CI loop and still validates', async () => {
    const { withoutCiLoop } = await import('../../src/demo.js');
    const { readFileSync } = await import('node:fs');
    const text = withoutCiLoop(readFileSync('config/demo.yaml', 'utf8'));
    const cfg = parseConfig(text, 'demo.yaml', DEMO_ENV);
    expect(cfg.targets).toEqual([]);
    expect(cfg['gearman-servers']).toEqual([]);
    expect(cfg.labels.map((l) => l.target)).toEqual([undefined, undefined]);
  });
});
