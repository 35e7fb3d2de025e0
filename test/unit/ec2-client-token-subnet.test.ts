// ManagedProvider retries a create whose answer was lost with the same client token. EC2 returns
// the first instance for a repeated token only when every parameter is the same (else
// IdempotentParameterMismatch), so the retry must go to the same subnet, not the next in turn.
import { describe, expect, it } from 'vitest';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { configSchema } from '../../src/config.js';
import { createEc2Driver } from '../../providers/ec2/driver.js';

const cfg = configSchema.parse({
  labels: [{ name: 'small', image: 'ubuntu', providers: [{ name: 'aws' }] }],
  providers: [
    { name: 'aws', driver: 'ec2', 'region-name': 'us-east-1', 'max-servers': 5, subnets: ['subnet-a', 'subnet-b', 'subnet-c'], images: [{ name: 'ubuntu', 'base-image': 'ami-0123456789abcdef0' }] },
  ],
}).providers[0];

function fakeClient(failFirst: number) {
  const calls: { token: string; subnet: string }[] = [];
  let n = 0;
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      if (cmd.constructor.name !== 'RunInstancesCommand') throw new Error(`unexpected ${cmd.constructor.name}`);
      const input = cmd.input as { ClientToken: string; NetworkInterfaces: { SubnetId: string }[] };
      calls.push({ token: input.ClientToken, subnet: input.NetworkInterfaces[0].SubnetId });
      // The answer is lost: a socket reset after EC2 made the instance.
      if (n++ < failFirst) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return { Instances: [{ InstanceId: `i-${n}`, State: { Name: 'pending' } }] };
    },
    destroy() {},
  };
  return { client: client as unknown as EC2Client, calls };
}

const req = (clientToken: string) => ({ name: 'n1', imageId: 'ami-0123456789abcdef0', flavorId: 't3.small', metadata: {}, clientToken });

describe('EC2 createServer: client token and subnet', () => {
  it('a retry with the same token goes to the same subnet; the next create to the next subnet', async () => {
    const { client, calls } = fakeClient(2);
    const driver = createEc2Driver(cfg, { client });
    await expect(driver.createServer(req('tok-1'))).rejects.toThrow();
    await expect(driver.createServer(req('tok-1'))).rejects.toThrow();
    await driver.createServer(req('tok-1'));
    await driver.createServer(req('tok-2'));
    expect(calls).toEqual([
      { token: 'tok-1', subnet: 'subnet-a' },
      { token: 'tok-1', subnet: 'subnet-a' },
      { token: 'tok-1', subnet: 'subnet-a' },
      { token: 'tok-2', subnet: 'subnet-b' },
    ]);
    await driver.close();
  });
});
