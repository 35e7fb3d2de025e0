// Pure parts of the EC2 driver: states, tags, addresses, instance types, AMIs, error codes,
// the API buckets it declares, and the terminate batcher.
import { describe, expect, it } from 'vitest';
import type { Image, Instance } from '@aws-sdk/client-ec2';
import {
  AuthError,
  BadRequestError,
  CapacityError,
  CloudNetworkError,
  CloudServerError,
  ConflictError,
  NetworkConfigError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
} from '../../src/errors.js';
import { mapEc2Error } from '../../providers/ec2/errors.js';
import { EC2_DEFAULT_BUCKETS, ec2RateLimits } from '../../providers/ec2/limits.js';
import { imageSnapshotIds, imageStatus, isAmiId, metadataToTags, serverStatus, tagsToMetadata, toCloudImage, toCloudServer, toFlavor } from '../../providers/ec2/mapping.js';
import { Batcher } from '../../providers/ec2/batcher.js';

const instance = (over: Partial<Instance> = {}): Instance => ({
  InstanceId: 'i-0123456789abcdef0',
  State: { Name: 'running', Code: 16 },
  LaunchTime: new Date('2030-01-01T00:00:00Z'),
  PrivateIpAddress: '10.0.1.5',
  PublicIpAddress: '54.1.2.3',
  SubnetId: 'subnet-a',
  Placement: { AvailabilityZone: 'eu-west-1b' },
  Tags: [
    { Key: 'Name', Value: 'np-small-1' },
    { Key: 'nodepool_owner', Value: 'nodepool-ts' },
    { Key: 'aws:ec2launchtemplate:id', Value: 'lt-1' },
  ],
  ...over,
});

/** An SDK service error as @aws-sdk/client-ec2 throws it. */
function sdkError(code: string, status: number, message = 'boom'): Error {
  return Object.assign(new Error(message), { name: code, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, requestId: 'req-1' } });
}

describe('EC2 mapping', () => {
  it('maps instance states: pending building, running active, shutting-down and terminated deleting, stopped other', () => {
    expect(['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped', undefined].map(serverStatus)).toEqual([
      'building',
      'active',
      'deleting',
      'deleting',
      'other',
      'other',
      'other',
    ]);
  });

  it('tags <-> metadata: Name is the name, aws: tags are not ours', () => {
    expect(tagsToMetadata(instance().Tags)).toEqual({ nodepool_owner: 'nodepool-ts' });
    expect(metadataToTags({ nodepool_node_id: '7' }, 'np-1')).toEqual([
      { Key: 'Name', Value: 'np-1' },
      { Key: 'nodepool_node_id', Value: '7' },
    ]);
  });

  it('a running instance: public address first, private with use-private-address, AZ from placement', () => {
    const s = toCloudServer(instance(), {}, () => 0);
    expect(s).toMatchObject({ id: 'i-0123456789abcdef0', name: 'np-small-1', status: 'active', rawStatus: 'running', ip: '54.1.2.3', az: 'eu-west-1b', fault: null });
    expect(s.created).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(s.addresses).toEqual([
      { addr: '10.0.1.5', version: 4, type: 'fixed', network: 'subnet-a' },
      { addr: '54.1.2.3', version: 4, type: 'floating', network: 'subnet-a' },
    ]);
    expect(toCloudServer(instance(), { usePrivate: true }, () => 0).ip).toBe('10.0.1.5');
    expect(toCloudServer(instance({ PublicIpAddress: undefined }), {}, () => 0).ip).toBe('10.0.1.5');
  });

  it('IPv6 addresses come from the network interfaces', () => {
    const s = toCloudServer(instance({ NetworkInterfaces: [{ SubnetId: 'subnet-6', Ipv6Addresses: [{ Ipv6Address: '2a05:d018::1' }] }] }), { ipv6Preferred: true }, () => 0);
    expect(s.ip).toBe('2a05:d018::1');
  });

  it('a terminated instance carries its state reason as the fault', () => {
    const s = toCloudServer(instance({ State: { Name: 'terminated' }, StateReason: { Code: 'Server.SpotInstanceTermination', Message: 'Server.SpotInstanceTermination: Spot instance termination' } }), {}, () => 0);
    expect(s.status).toBe('deleting');
    expect(s.fault).toMatch(/Spot instance termination/);
  });

  it('instance types become flavors', () => {
    expect(toFlavor({ InstanceType: 't3.medium', VCpuInfo: { DefaultVCpus: 2 }, MemoryInfo: { SizeInMiB: 4096 } })).toEqual({ id: 't3.medium', name: 't3.medium', vcpus: 2, ramMb: 4096 });
    expect(toFlavor({ InstanceType: 't3.medium' })).toBeNull();
  });

  it('AMIs: pending building, available active, failed error; their snapshots; ami- ids', () => {
    expect(['pending', 'available', 'failed', 'deregistered', 'weird'].map(imageStatus)).toEqual(['building', 'active', 'error', 'deleting', 'other']);
    const img: Image = {
      ImageId: 'ami-0abcdef1234567890',
      Name: 'ubuntu-1700000000',
      State: 'available',
      CreationDate: '2030-01-02T03:04:05.000Z',
      Tags: [{ Key: 'nodepool_image_id', Value: '3' }],
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1' } }, { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }],
    };
    expect(toCloudImage(img)).toEqual({ id: 'ami-0abcdef1234567890', name: 'ubuntu-1700000000', status: 'active', metadata: { nodepool_image_id: '3' }, created: Date.parse('2030-01-02T03:04:05.000Z') });
    expect(imageSnapshotIds(img)).toEqual(['snap-1']);
    expect([isAmiId('ami-0abcdef1234567890'), isAmiId('ami-12345678'), isAmiId('ubuntu-jammy'), isAmiId('ami-XYZ')]).toEqual([true, true, false, false]);
  });
});

describe('EC2 error codes', () => {
  const cases: [string, number, string, new (...a: never[]) => Error][] = [
    ['RequestLimitExceeded', 503, 'DescribeInstances', RateLimitedError],
    ['InstanceLimitExceeded', 400, 'RunInstances', QuotaExceededError],
    ['VcpuLimitExceeded', 400, 'RunInstances', QuotaExceededError],
    ['InsufficientInstanceCapacity', 500, 'RunInstances', CapacityError],
    ['AuthFailure', 401, 'DescribeInstances', AuthError],
    ['UnauthorizedOperation', 403, 'RunInstances', AuthError],
    ['InvalidInstanceID.NotFound', 400, 'TerminateInstances', NotFoundError],
    ['InvalidAMIID.NotFound', 400, 'DeregisterImage', NotFoundError],
    ['InvalidSubnetID.NotFound', 400, 'RunInstances', NetworkConfigError],
    ['InvalidGroup.NotFound', 400, 'RunInstances', NetworkConfigError],
    ['InvalidKeyPair.NotFound', 400, 'RunInstances', BadRequestError],
    ['InvalidParameterValue', 400, 'RunInstances', BadRequestError],
    // An instance type the AZ does not offer: final, not a capacity pause retried for ever.
    ['Unsupported', 400, 'RunInstances', BadRequestError],
    ['IncorrectInstanceState', 400, 'CreateImage', ConflictError],
    ['InvalidAMIName.Duplicate', 400, 'CreateImage', ConflictError],
    ['InternalError', 500, 'RunInstances', CloudServerError],
    ['Unavailable', 503, 'DescribeImages', CloudServerError],
  ];
  it.each(cases)('%s (%d) on %s', (code, status, action, type) => {
    const err = mapEc2Error(sdkError(code, status), action);
    expect(err).toBeInstanceOf(type);
    expect(err.message).toContain(`EC2 ${action}: ${code}`);
  });

  it('throttling is retryable without a Retry-After (jittered backoff); capacity is a quota answer with its own code', () => {
    const t = mapEc2Error(sdkError('RequestLimitExceeded', 503), 'RunInstances') as RateLimitedError;
    expect([t.retryable, t.retryAfterMs, t.code]).toEqual([true, null, 'rate-limited']);
    const c = mapEc2Error(sdkError('InsufficientInstanceCapacity', 500), 'RunInstances');
    expect(c).toBeInstanceOf(QuotaExceededError);
    expect([c.code, c.retryable]).toEqual(['capacity', false]);
  });

  it('a socket error is a retryable network error', () => {
    const err = mapEc2Error(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'DescribeInstances');
    expect(err).toBeInstanceOf(CloudNetworkError);
    expect(err.retryable).toBe(true);
  });
});

describe('EC2 API buckets', () => {
  it('declares a request bucket per action at AWS figures (one token of headroom) and resource buckets per instance', () => {
    const rl = ec2RateLimits();
    const byName = Object.fromEntries(rl.buckets.map((b) => [b.name, [b.burst, b.refillPerSecond]]));
    expect(byName).toMatchObject({
      DescribeInstances: [99, 20],
      DescribeImages: [99, 20],
      RunInstances: [199, 5],
      TerminateInstances: [199, 5],
      CreateImage: [199, 5],
      'RunInstances:resource': [999, 2],
      'TerminateInstances:resource': [999, 20],
    });
    expect(rl.cost('createServer')).toEqual({ RunInstances: 1, 'RunInstances:resource': 1 });
    expect(rl.cost('deleteServer')).toEqual({ TerminateInstances: 1, 'TerminateInstances:resource': 1 });
    expect(rl.cost('listServers')).toEqual({ DescribeInstances: 1 });
    expect(rl.cost('unknown')).toEqual({});
    expect(EC2_DEFAULT_BUCKETS['run-instances-resource']).toEqual({ burst: 1000, refill: 2 });
  });

  it('config rate-limits override a kind of bucket', () => {
    const rl = ec2RateLimits({ 'run-instances-resource': { burst: 10, refill: 4 }, 'non-mutating': { burst: 5, refill: 1 } });
    const byName = Object.fromEntries(rl.buckets.map((b) => [b.name, [b.burst, b.refillPerSecond]]));
    expect(byName['RunInstances:resource']).toEqual([9, 4]);
    expect(byName.DescribeInstances).toEqual([4, 1]);
    expect(byName.RunInstances).toEqual([199, 5]);
  });
});

describe('terminate batcher', () => {
  it('calls made in one turn go out as one batch, each caller gets its own outcome', async () => {
    const batches: string[][] = [];
    const b = new Batcher<string>(async (ids) => {
      batches.push(ids);
      return ids.map((id) => (id === 'bad' ? new NotFoundError(id) : null));
    });
    const results = await Promise.allSettled([b.add('i-1'), b.add('i-2'), b.add('bad'), b.add('i-1')]);
    expect(batches).toEqual([['i-1', 'i-2', 'bad']]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    await b.add('i-3');
    expect(batches).toEqual([['i-1', 'i-2', 'bad'], ['i-3']]);
  });

  it('a failed batch call fails every caller; a closed batcher refuses', async () => {
    const b = new Batcher<string>(async () => {
      throw new CloudServerError('500');
    });
    const results = await Promise.allSettled([b.add('a'), b.add('b')]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    b.close();
    await expect(b.add('c')).rejects.toThrow(/closed/);
  });
});
