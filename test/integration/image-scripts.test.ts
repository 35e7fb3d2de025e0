// The example scripts in images/ as the builder uses them: copied in over SFTP, setup run with
// the NODEPOOL_* variables on a template server, snapshot, and the image check on a node booted
// from it (and failing on one that was not baked). Runs on the emulator's sandboxed VMs.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSftp, runRemote, uploadDirectory, commandLine } from '../../src/builder/remote.js';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { startSandboxCloud, type SandboxCloud } from '../helpers/sandbox-cloud.js';
import { waitFor } from '../helpers/wait.js';

const IMAGES_DIR = join(import.meta.dirname, '..', '..', 'images');

describe('commandLine', () => {
  it('quotes words and puts variables in front through env', () => {
    expect(commandLine(['/opt/x.sh', "it's"], { NODEPOOL_IMAGE: 'a b' })).toBe(`env NODEPOOL_IMAGE='a b' '/opt/x.sh' 'it'\\''s'`);
    expect(() => commandLine(['x'], { 'BAD-NAME': '1' })).toThrow(/bad environment variable name/);
  });
});

describe.skipIf(!findBwrap())('images/ scripts on emulated VMs', () => {
  let cloud: SandboxCloud;
  beforeAll(async () => {
    cloud = await startSandboxCloud(5);
  });
  afterAll(async () => {
    await cloud?.close();
  });
  const boot = (imageId: string, name: string) => cloud.boot(imageId, name);
  const connect = (host: string) => cloud.connect(host);

  it('setup bakes the marker into the snapshot; the check passes on a node booted from it and fails on one that was not', async () => {
    const template = await boot(cloud.baseImage, 'template-ubuntu-1');
    const conn = await connect(template.ip!);
    let output = '';
    try {
      const copied = await uploadDirectory(await openSftp(conn), IMAGES_DIR, '/opt/nodepool-scripts');
      expect(copied).toBeGreaterThanOrEqual(3);
      const env = { NODEPOOL_PROVIDER: 'emulated', NODEPOOL_IMAGE: 'ubuntu', NODEPOOL_CLOUD: 'emulated', NODEPOOL_REGION: '', NODEPOOL_AZ: 'nova' };
      const r = await runRemote(conn, ['/opt/nodepool-scripts/setup.sh', 'template-ubuntu-1'], { env, onOutput: (c) => (output += c) });
      expect(r, output).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/setup: baking ubuntu for emulated on template-ubuntu-1/);
    } finally {
      conn.end();
    }
    const imageId = await cloud.driver.createImage(template.id, 'ubuntu-1', {});
    await waitFor(async () => ((await cloud.driver.listImages()).find((i) => i.id === imageId)?.status === 'active' ? true : undefined), { what: 'snapshot active' });

    const node = await boot(imageId, 'node-from-snapshot');
    const nodeConn = await connect(node.ip!);
    try {
      let out = '';
      // The scripts directory came along in the snapshot too.
      expect(await runRemote(nodeConn, ['/opt/nodepool-scripts/check.sh'], { onOutput: (c) => (out += c) })).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/check: ok \(image=ubuntu\)/);
    } finally {
      nodeConn.end();
    }

    const fresh = await boot(cloud.baseImage, 'node-unbaked');
    const freshConn = await connect(fresh.ip!);
    try {
      await uploadDirectory(await openSftp(freshConn), IMAGES_DIR, '/opt/nodepool-scripts');
      let err = '';
      const r = await runRemote(freshConn, ['/opt/nodepool-scripts/check.sh'], { onOutput: (c, s) => (s === 'stderr' ? (err += c) : undefined) });
      expect(r.code).toBe(1);
      expect(err).toMatch(/image-info is missing/);
    } finally {
      freshConn.end();
    }
  });
});
