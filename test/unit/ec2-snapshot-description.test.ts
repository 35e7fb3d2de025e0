// EC2 describes a snapshot CreateImage made as "Created by CreateImage(i-...) for ami-..." and, for
// some volumes, "... for ami-... from vol-...". A delete retried after its AMI was deregistered
// (a DeleteSnapshot that failed) finds the snapshots it left by that description, in both forms.
import { describe, expect, it } from 'vitest';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { configSchema } from '../../src/config.js';
import { createEc2Driver, madeFor } from '../../providers/ec2/driver.js';

const cfg = configSchema.parse({
  labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'aws' }] }],
  providers: [{ name: 'aws', driver: 'ec2', 'region-name': 'us-east-1', 'max-servers': 5, images: [{ name: 'ubuntu', 'base-image': 'ami-0123456789abcdef0' }] }],
}).providers[0];

const glob = (pattern: string, text: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(text);

/** A client whose AMI is already deregistered and whose snapshot of it is left, with this description. */
function fakeClient(description: string) {
  const deleted: string[] = [];
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      switch (cmd.constructor.name) {
        case 'DescribeImagesCommand':
          return { Images: [] };
        case 'DescribeSnapshotsCommand': {
          const filters = (cmd.input.Filters as { Name: string; Values: string[] }[]) ?? [];
          const desc = filters.find((f) => f.Name === 'description');
          const match = !desc || desc.Values.some((v) => glob(v, description));
          return { Snapshots: match ? [{ SnapshotId: 'snap-1', Description: description, Tags: [{ Key: 'nodepool_owner', Value: 'nodepool-ts' }] }] : [] };
        }
        case 'DeleteSnapshotCommand':
          deleted.push(cmd.input.SnapshotId as string);
          return {};
        default:
          throw new Error(`unexpected ${cmd.constructor.name}`);
      }
    },
    destroy() {},
  };
  return { client: client as unknown as EC2Client, deleted };
}

describe('EC2 snapshots left by a deregistered AMI', () => {
  for (const description of ['Created by CreateImage(i-0a1b2c3d4e5f60718) for ami-0fedcba9876543210', 'Created by CreateImage(i-0a1b2c3d4e5f60718) for ami-0fedcba9876543210 from vol-0123456789abcdef0']) {
    it(`are found and deleted: "${description}"`, async () => {
      const { client, deleted } = fakeClient(description);
      const driver = createEc2Driver(cfg, { client });
      await driver.deleteImage('ami-0fedcba9876543210');
      expect(deleted).toEqual(['snap-1']);
      await driver.close();
    });
  }

  it('madeFor matches both forms and no other AMI', () => {
    expect(madeFor('Created by CreateImage(i-1) for ami-12345678', 'ami-12345678')).toBe(true);
    expect(madeFor('Created by CreateImage(i-1) for ami-12345678 from vol-1', 'ami-12345678')).toBe(true);
    expect(madeFor('Created by CreateImage(i-1) for ami-123456789 from vol-1', 'ami-12345678')).toBe(false);
    expect(madeFor('Created by CreateImage(i-1) for ami-123456789', 'ami-12345678')).toBe(false);
    expect(madeFor(undefined, 'ami-12345678')).toBe(false);
  });
});
