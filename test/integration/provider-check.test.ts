// `nodepool provider-check` against the OpenStack emulator: every step passes on a good cloud
// (SSH login included), a failing step fails the run and the server it made is still deleted,
// and the time budget is hard.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenStackEmulator, type OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { runCli } from '../../src/cli/main.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { runProviderCheck } from '../../src/cli/commands/provider-check.js';

const dir = mkdtempSync(join(tmpdir(), 'nodepool-provider-check-'));
const keyPath = join(dir, 'id_ecdsa');
let emu: OpenStackEmulator;

function config(extra: string[] = [], image = ''): string {
  const path = join(dir, `nodepool-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    [
      'labels:',
      '  - { name: small, image: ubuntu, providers: [{ name: cloud-a }] }',
      'providers:',
      '  - name: cloud-a',
      '    auth: { auth-url: "${AUTH_URL}", username: admin, password: secret, project-name: demo }',
      '    max-servers: 10',
      `    ssh-port: ${emu.sshPort}`,
      '    boot-timeout: 20',
      ...extra.map((l) => `    ${l}`),
      '    images:',
      `      - { name: ubuntu, base-image: ubuntu-jammy, min-ram: 2048, username: jenkins, private-key: "${keyPath}"${image} }`,
      '',
    ].join('\n'),
  );
  return path;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: { write: (t: string) => (out += t) }, err: { write: (t: string) => (err += t) }, env: { AUTH_URL: emu.authUrl }, clock: systemClock });
  return { code, out, err };
}

beforeAll(async () => {
  const keys = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
  writeFileSync(keyPath, keys.private, { mode: 0o600 });
  emu = await startOpenStackEmulator({ seed: 5, bootTimeMs: 50, sshAuthorizedKeys: [keys.public] });
});

afterAll(async () => {
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('nodepool provider-check', () => {
  it('passes every step against a good cloud, SSH login included, and leaves nothing behind', async () => {
    const r = await cli(['-c', config(), 'provider-check', 'cloud-a', '--budget', '60']);
    expect(r.err).toBe('');
    const rows = r.out.trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(
      ['auth', 'catalog', 'flavors', 'image', 'quota', 'create', 'active', 'ssh', 'list', 'delete'].map((s) => `${s} pass`),
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ssh\s+pass\s+\d+\s+jenkins@127\./);
    expect(emu.servers()).toEqual([]);
  });

  it('a failing step fails the run (exit 1), later steps are skipped and the server is still deleted', async () => {
    // networks: none gives an ACTIVE server without an address: the SSH step cannot pass.
    const r = await cli(['-c', config(['networks: none']), 'provider-check', 'cloud-a', '--json']);
    expect(r.code).toBe(1);
    const steps = JSON.parse(r.out) as { step: string; result: string; detail: string }[];
    expect(steps.find((s) => s.step === 'active')).toMatchObject({ result: 'pass', detail: expect.stringMatching(/address none/) });
    expect(steps.find((s) => s.step === 'ssh')).toMatchObject({ result: 'FAIL', detail: expect.stringMatching(/no usable address/) });
    expect(steps.filter((s) => s.result === 'skip').map((s) => s.step)).toEqual(['list', 'delete']);
    expect(steps.at(-1)).toMatchObject({ step: 'cleanup', result: 'pass' });
    expect(emu.servers().filter((s) => !s.deleting)).toEqual([]);
  });

  it('the time budget is hard: a boot that outlasts it fails "active" and the server is cleaned up', async () => {
    // Real time, a small budget: the boot takes an hour, the budget 1.5 s.
    const slow = await startOpenStackEmulator({ seed: 6, bootTimeMs: 3_600_000, ssh: false });
    try {
      const path = join(dir, 'slow.yaml');
      writeFileSync(path, readConfigFor(slow.authUrl));
      const cfg = loadConfig(path, {}).providers[0];
      const t0 = Date.now();
      const steps = await runProviderCheck(cfg, { clock: systemClock, budgetMs: 1500, pollMs: 100 });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(steps.find((s) => s.step === 'active')).toMatchObject({ result: 'FAIL', detail: expect.stringMatching(/^timeout: time budget of 1500 ms spent/) });
      expect(steps.at(-1)).toMatchObject({ step: 'cleanup', result: 'pass' });
      expect(slow.servers()).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});

function readConfigFor(authUrl: string): string {
  return [
    'labels:',
    '  - { name: small, image: ubuntu, providers: [{ name: slow }] }',
    'providers:',
    '  - name: slow',
    `    auth: { auth-url: "${authUrl}", username: admin, password: secret, project-name: demo }`,
    '    max-servers: 10',
    '    images:',
    '      - { name: ubuntu, base-image: ubuntu-jammy, min-ram: 2048, host-key-checking: false }',
    '',
  ].join('\n');
}
