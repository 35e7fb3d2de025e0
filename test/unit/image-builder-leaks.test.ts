// The builder's leak sweep: one delete the cloud refuses (an AMI with deregistration protection, a
// snapshot still in use) does not keep the leaked bake servers and snapshots after it alive.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageBuilder } from '../../src/builder/image-builder.js';
import { ManualClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config.js';
import { BadRequestError } from '../../src/errors.js';
import { imageMetadata } from '../../src/model.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { ManagedProvider } from '../../providers/managed-provider.js';
import type { CloudImage, CloudServer, ImageArtifact } from '../../providers/provider.js';
import { testContext, testRuntime } from '../helpers/pool-context.js';

const cfg = parseConfig(
  [
    'labels: [{ name: small, image: ubuntu, providers: [{ name: cloud-a }] }]',
    'providers:',
    '  - { name: cloud-a, max-servers: 5, auth: { auth-url: "http://127.0.0.1:1/v3", username: u, password: p, project-name: x }, images: [{ name: ubuntu, base-image: jammy, setup: setup.sh }] }',
  ].join('\n'),
  'test.yaml',
);

// Metadata of a build row that no longer exists: everything carrying it is a leak.
const meta = imageMetadata('dep-a', { id: 99, provider: 'cloud-a', image: 'ubuntu' });

class FakeApi {
  deleted: string[] = [];
  images: CloudImage[] = [{ id: 'img-protected', name: 'ubuntu-x', status: 'active', metadata: meta, created: 0 }];
  artifacts: ImageArtifact[] = [{ id: 'snap-1', kind: 'snapshot', metadata: meta, usedBy: [], created: 0 }];
  async listImages() {
    return this.images;
  }
  async listImageArtifacts() {
    return this.artifacts;
  }
  async deleteImage(id: string) {
    throw new BadRequestError(`EC2 DeregisterImage: OperationNotPermitted: ${id} has deregistration protection`, 400);
  }
  async deleteServer(id: string) {
    this.deleted.push(id);
  }
  async deleteImageArtifact(id: string) {
    this.deleted.push(id);
  }
}

const server: CloudServer = { id: 'tmpl-1', name: 'template-ubuntu-1', status: 'active', rawStatus: 'ACTIVE', ip: null, az: null, fault: null, created: 0, metadata: meta };

let store: SqliteStore;

beforeEach(() => {
  store = SqliteStore.open(':memory:', { clock: new ManualClock(1_000_000) });
});

afterEach(async () => {
  await store.close();
});

describe('image builder: leak sweep', () => {
  it('a leaked image the cloud refuses to delete does not keep the leaked server and snapshot', async () => {
    const clock = new ManualClock(1_000_000);
    const api = new FakeApi();
    const rt = testRuntime(cfg.providers[0], api as unknown as ManagedProvider, 1);
    const ctx = testContext({ store, clock, config: cfg }, { deploymentId: 'dep-a', provider: () => rt });
    const builder = new ImageBuilder({ ctx, runtimes: () => [rt], reconciled: () => true, imagesDir: () => '/nonexistent', logDir: '/nonexistent' });
    await builder.deleteLeaks(rt, [server]);
    expect(api.deleted).toEqual([]);
    await builder.deleteLeaks(rt, [server]);
    expect(api.deleted).toEqual(['tmpl-1', 'snap-1']);
  });
});
