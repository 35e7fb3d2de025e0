// Emulated VMs run commands for real in their own tree (bubblewrap), and a snapshot carries the
// tree to every server booted from it. Skipped where bubblewrap is not installed (.ci/run installs it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { OpenStackEmulator } from '../../providers/openstack/emulator/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import type { CloudServer, ProviderDriver } from '../../providers/provider.js';
import { startSandboxCloud, type SandboxCloud } from '../helpers/sandbox-cloud.js';
import { waitFor } from '../helpers/wait.js';

let keys: { private: string; public: string };

/** Runs `command` over SSH; resolves with its exit code and output. */
function run(host: string, port: number, command: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    conn
      .on('ready', () =>
        conn.exec(command, (e, stream) => {
          if (e) return reject(e);
          let out = '';
          let err = '';
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.stderr.on('data', (d: Buffer) => (err += d.toString()));
          stream.on('close', (code: number | null) => {
            conn.end();
            resolve({ code, out, err });
          });
        }),
      )
      .on('error', reject)
      .connect({ host, port, username: 'jenkins', privateKey: keys.private, hostVerifier: () => true });
  });
}

describe.skipIf(!findBwrap())('emulated VMs with sandboxes', () => {
  let cloud: SandboxCloud;
  let emu: OpenStackEmulator;
  let driver: ProviderDriver;
  let dir: string;
  let baseImage: string;

  beforeAll(async () => {
    cloud = await startSandboxCloud(3);
    ({ emu, driver, dir, baseImage } = cloud);
    keys = cloud.keys;
  });

  afterAll(async () => {
    await cloud?.close();
  });

  const boot = (imageId: string, name: string): Promise<CloudServer> => cloud.boot(imageId, name);

  it('runs a command for real: its output, exit code and files, which land in the server\'s tree and not on the host', async () => {
    const s = await boot(baseImage, 'sbx-1');
    const r = await run(s.ip!, emu.sshPort, 'mkdir -p /opt/cache && echo baked > /opt/cache/marker && echo to-stderr >&2 && cat /opt/cache/marker; exit 3');
    expect(r).toEqual({ code: 3, out: 'baked\n', err: 'to-stderr\n' });
    expect(await readFile(join(dir, 'servers', s.id, 'opt', 'cache', 'marker'), 'utf8')).toBe('baked\n');
    expect(existsSync('/opt/cache/marker')).toBe(false);
    // Another server has its own tree.
    const other = await boot(baseImage, 'sbx-2');
    expect((await run(other.ip!, emu.sshPort, 'cat /opt/cache/marker')).code).not.toBe(0);
  });

  it('copies files in over SFTP into the VM\'s tree, where its commands see them; paths outside the tree are refused', async () => {
    const s = await boot(baseImage, 'sbx-sftp');
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => conn.on('ready', () => resolve()).on('error', reject).connect({ host: s.ip!, port: emu.sshPort, username: 'jenkins', privateKey: keys.private, hostVerifier: () => true }));
    try {
      const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => conn.sftp((e, w) => (e ? reject(e) : resolve(w))));
      const call = (fn: (cb: (err?: Error | null) => void) => void) => new Promise<void>((resolve, reject) => fn((e) => (e ? reject(e) : resolve())));
      await call((cb) => sftp.mkdir('/opt/nodepool-scripts', cb));
      await call((cb) => sftp.writeFile('/opt/nodepool-scripts/setup.sh', '#!/bin/bash\necho "setup ran on $1"\n', cb));
      await call((cb) => sftp.chmod('/opt/nodepool-scripts/setup.sh', 0o755, cb));
      const names = await new Promise<string[]>((resolve, reject) => sftp.readdir('/opt/nodepool-scripts', (e, list) => (e ? reject(e) : resolve(list.map((l) => l.filename)))));
      expect(names).toEqual(['setup.sh']);
      await expect(call((cb) => sftp.writeFile('/etc/evil', 'x', cb))).rejects.toThrow(/no such file/i);
    } finally {
      conn.end();
    }
    expect(await run(s.ip!, emu.sshPort, '/opt/nodepool-scripts/setup.sh node-1')).toEqual({ code: 0, out: 'setup ran on node-1\n', err: '' });
    expect(existsSync('/opt/nodepool-scripts')).toBe(false);
  });

  it('a snapshot carries the tree to a server booted from it; deleting the server drops its tree', async () => {
    const s = await boot(baseImage, 'sbx-template');
    expect((await run(s.ip!, emu.sshPort, 'echo from-setup > /opt/setup-marker')).code).toBe(0);
    const imageId = await driver.createImage(s.id, 'template-snap', { nodepool_image_build: '1' });
    await waitFor(async () => ((await driver.listImages()).find((i) => i.id === imageId)?.status === 'active' ? true : undefined), { what: 'snapshot active' });
    await driver.deleteServer(s.id);
    await waitFor(() => (existsSync(join(dir, 'servers', s.id)) ? undefined : true), { what: 'template tree dropped' });
    const node = await boot(imageId, 'sbx-node');
    expect(await run(node.ip!, emu.sshPort, 'cat /opt/setup-marker')).toEqual({ code: 0, out: 'from-setup\n', err: '' });
    await driver.deleteImage(imageId);
    expect(existsSync(join(dir, 'images', imageId))).toBe(false);
  });
});
