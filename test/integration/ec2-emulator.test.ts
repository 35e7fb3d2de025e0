// The EC2 emulator driven by the real @aws-sdk/client-ec2: what the SDK sends, the XML it
// parses back (answers and errors), lifecycle by a ManualClock, throttling, AMIs and SSH.
import {
  CreateImageCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeAccountAttributesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  EC2Client,
  ImportKeyPairCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type AccountAttributeName,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBwrap } from '../../providers/openstack/emulator/sandbox.js';
import { ManualClock } from '../../src/clock.js';
import { startEc2Emulator, type Ec2Emulator, type Ec2EmulatorOptions } from '../../providers/ec2/emulator/index.js';

const started: Ec2Emulator[] = [];

async function start(opts: Ec2EmulatorOptions = {}): Promise<{ emu: Ec2Emulator; ec2: EC2Client; clock: ManualClock }> {
  const clock = new ManualClock(Date.UTC(2026, 11, 2, 1, 0, 0));
  const emu = await startEc2Emulator({ clock, seed: 11, ssh: false, ...opts });
  started.push(emu);
  // maxAttempts 1: every error reaches the test as the SDK parsed it, without retries.
  const ec2 = new EC2Client({ endpoint: emu.endpoint, region: emu.region, credentials: emu.credentials, maxAttempts: 1 });
  return { emu, ec2, clock };
}

afterAll(async () => {
  await Promise.all(started.map((e) => e.close()));
});

/** The error the SDK throws for `p`. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string; fault: string | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message, fault: err.$fault };
  }
  throw new Error('expected the call to fail');
}

const instanceTags = (i: Instance) => Object.fromEntries((i.Tags ?? []).map((t) => [t.Key, t.Value]));

describe('EC2 emulator: instances', () => {
  let emu: Ec2Emulator;
  let ec2: EC2Client;
  let clock: ManualClock;
  let ami: string;

  beforeAll(async () => {
    ({ emu, ec2, clock } = await start({ bootTimeMs: 5000, terminateTimeMs: 2000, terminatedVisibleMs: 60_000 }));
    const imgs = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
    ami = imgs.Images![0].ImageId!;
  });

  const run = (extra: Partial<RunInstancesCommandInput> = {}) =>
    ec2.send(
      new RunInstancesCommand({
        ImageId: ami,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        KeyName: 'nodepool',
        TagSpecifications: [
          { ResourceType: 'instance', Tags: [{ Key: 'nodepool_owner', Value: 'nodepool-ts' }, { Key: 'Name', Value: 'np-1' }] },
          { ResourceType: 'volume', Tags: [{ Key: 'nodepool_owner', Value: 'nodepool-ts' }] },
        ],
        ...extra,
      }),
    );

  it('runs an instance with tags: pending, ids of the real shapes, addresses, then running after the boot time', async () => {
    const r = await run();
    expect(r.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(r.OwnerId).toBe(emu.accountId);
    const i = r.Instances![0];
    expect(i.InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(i.State).toEqual({ Code: 0, Name: 'pending' });
    expect(i.StateReason).toEqual({ Code: 'pending', Message: 'pending' });
    expect(i.ImageId).toBe(ami);
    expect(i.InstanceType).toBe('t3.micro');
    expect(i.KeyName).toBe('nodepool');
    expect(i.Placement?.AvailabilityZone).toBe('us-east-1a');
    expect(i.LaunchTime).toEqual(new Date(clock.now()));
    expect(i.PrivateIpAddress).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(i.PublicIpAddress).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(i.PrivateDnsName).toBe(`ip-${i.PrivateIpAddress!.replace(/\./g, '-')}.ec2.internal`);
    expect(i.SubnetId).toMatch(/^subnet-[0-9a-f]{17}$/);
    expect(i.BlockDeviceMappings?.[0].Ebs?.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);
    expect(instanceTags(i)).toEqual({ nodepool_owner: 'nodepool-ts', Name: 'np-1' });
    expect(emu.instances().find((x) => x.id === i.InstanceId)?.volumeTags).toEqual({ nodepool_owner: 'nodepool-ts' });

    await clock.advance(4999);
    let d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    expect(d.Reservations![0].Instances![0].State?.Name).toBe('pending');
    await clock.advance(1);
    d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    expect(d.Reservations![0].ReservationId).toBe(r.ReservationId);
    expect(d.Reservations![0].Instances![0].State).toEqual({ Code: 16, Name: 'running' });
    expect(d.Reservations![0].Instances![0].StateReason).toBeUndefined();
  });

  it('terminates: shutting-down, then terminated and still listed, then gone after the visibility window', async () => {
    const id = (await run()).Instances![0].InstanceId!;
    await clock.advance(5000);
    const t = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(t.TerminatingInstances).toEqual([{ InstanceId: id, CurrentState: { Code: 32, Name: 'shutting-down' }, PreviousState: { Code: 16, Name: 'running' } }]);
    await clock.advance(2000);
    const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    const i = d.Reservations![0].Instances![0];
    expect(i.State).toEqual({ Code: 48, Name: 'terminated' });
    expect(i.StateReason).toEqual({ Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' });
    expect(i.StateTransitionReason).toMatch(/^User initiated \(2026-12-02 \d\d:\d\d:\d\d GMT\)$/);
    expect(i.PublicIpAddress).toBeUndefined();
    // Terminating again answers terminated -> terminated.
    const again = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(again.TerminatingInstances![0].PreviousState?.Name).toBe('terminated');
    await clock.advance(60_000);
    const err = await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
    expect(err).toMatchObject({ name: 'InvalidInstanceID.NotFound', status: 400, message: `The instance ID '${id}' does not exist` });
  });

  it('failLaunches: a launch goes from pending straight to terminated with Server.InternalError, never running', async () => {
    emu.failLaunches(true);
    let id: string;
    try {
      id = (await run()).Instances![0].InstanceId!;
    } finally {
      emu.failLaunches(false);
    }
    await clock.advance(5000);
    const i = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0];
    expect(i.State).toEqual({ Code: 48, Name: 'terminated' });
    expect(i.StateReason).toEqual({ Code: 'Server.InternalError', Message: 'Server.InternalError: Internal error on launch' });
    expect(i.StateTransitionReason).toMatch(/^Server\.InternalError \(2026-12-02 \d\d:\d\d:\d\d GMT\)$/);
    // The next launch is a normal one.
    const ok = (await run()).Instances![0].InstanceId!;
    await clock.advance(5000);
    expect((await ec2.send(new DescribeInstancesCommand({ InstanceIds: [ok] }))).Reservations![0].Instances![0].State?.Name).toBe('running');
  });

  it('setPaginationFault: pages after the first repeat their token, refuse it, fail, or repeat an instance', async () => {
    for (let n = 0; n < 6; n++) await run();
    const pageOf = (NextToken?: string) => ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken }));
    const first = await pageOf();
    const ids = (p: typeof first) => (p.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((x) => x.InstanceId);
    const clean = await pageOf(first.NextToken);
    try {
      emu.setPaginationFault('repeat-token');
      expect((await pageOf(first.NextToken)).NextToken).toBe(first.NextToken);
      expect((await pageOf()).NextToken).toBe(first.NextToken);
      emu.setPaginationFault('invalid-token');
      expect(await failure(pageOf(first.NextToken))).toMatchObject({ name: 'InvalidPaginationToken', status: 400 });
      emu.setPaginationFault('page-error');
      expect(await failure(pageOf(first.NextToken))).toMatchObject({ name: 'InternalError', status: 500 });
      emu.setPaginationFault('repeat-item');
      expect(ids(await pageOf(first.NextToken))).toEqual([ids(first).at(-1), ...ids(clean)]);
    } finally {
      emu.setPaginationFault(null);
    }
    expect(ids(await pageOf(first.NextToken))).toEqual(ids(clean));
  });

  it('filters by tag, tag-key and instance-state-name, with wildcards', async () => {
    const a = (await run({ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'pool', Value: 'alpha-1' }] }] })).Instances![0].InstanceId!;
    const b = (await run({ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'pool', Value: 'beta-1' }] }] })).Instances![0].InstanceId!;
    const ids = async (filters: { Name: string; Values: string[] }[]) =>
      (await ec2.send(new DescribeInstancesCommand({ Filters: filters }))).Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId));
    expect(await ids([{ Name: 'tag:pool', Values: ['alpha-1'] }])).toEqual([a]);
    expect(await ids([{ Name: 'tag:pool', Values: ['*-1'] }])).toEqual([a, b]);
    expect(await ids([{ Name: 'tag-key', Values: ['pool'] }])).toEqual([a, b]);
    expect(await ids([{ Name: 'tag:pool', Values: ['beta-1'] }, { Name: 'instance-state-name', Values: ['pending'] }])).toEqual([b]);
    expect(await ids([{ Name: 'tag:pool', Values: ['beta-1'] }, { Name: 'instance-state-name', Values: ['running'] }])).toEqual([]);
    const bad = await failure(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })));
    expect(bad).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
  });

  it('answers malformed and unknown instance ids as EC2 does', async () => {
    expect(await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-nothex'] })))).toMatchObject({ name: 'InvalidInstanceID.Malformed', status: 400, fault: 'client' });
    expect(await failure(ec2.send(new TerminateInstancesCommand({ InstanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'] })))).toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: "The instance IDs 'i-0123456789abcdef0, i-0123456789abcdef1' do not exist",
    });
  });
});

describe('EC2 emulator: pagination and idempotency', () => {
  let emu: Ec2Emulator;
  let ec2: EC2Client;
  let ami: string;

  beforeAll(async () => {
    ({ emu, ec2 } = await start());
    ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
  });

  it('pages DescribeInstances by MaxResults and NextToken, and the SDK paginator sees every instance once', async () => {
    const r = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 12, MaxCount: 12 }));
    expect(r.Instances!.map((i) => i.AmiLaunchIndex)).toEqual([...Array(12).keys()]);
    const all = r.Instances!.map((i) => i.InstanceId);
    const first = await ec2.send(new DescribeInstancesCommand({ MaxResults: 5 }));
    expect(first.Reservations!.flatMap((x) => x.Instances!)).toHaveLength(5);
    expect(first.NextToken).toBeTruthy();
    const seen: string[] = [];
    let pages = 0;
    for await (const pg of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
      pages += 1;
      seen.push(...pg.Reservations!.flatMap((x) => x.Instances!.map((i) => i.InstanceId!)));
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    expect(await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 4 })))).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
    expect(await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, InstanceIds: [all[0]!] })))).toMatchObject({ name: 'InvalidParameterCombination' });
    expect(await failure(ec2.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: 'garbage' })))).toMatchObject({ name: 'InvalidPaginationToken' });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: all as string[] }));
  });

  it('answers a repeated ClientToken with the first reservation, and different arguments with IdempotentParameterMismatch', async () => {
    const input: RunInstancesCommandInput = { ImageId: ami, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, ClientToken: 'node-0042' };
    const before = emu.instances().length;
    const a = await ec2.send(new RunInstancesCommand(input));
    const b = await ec2.send(new RunInstancesCommand(input));
    expect(b.ReservationId).toBe(a.ReservationId);
    expect(b.Instances!.map((i) => i.InstanceId)).toEqual(a.Instances!.map((i) => i.InstanceId));
    expect(a.Instances![0].ClientToken).toBe('node-0042');
    expect(emu.instances().length).toBe(before + 1);
    const d = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: ['node-0042'] }] }));
    expect(d.Reservations!.flatMap((x) => x.Instances!)).toHaveLength(1);
    const err = await failure(ec2.send(new RunInstancesCommand({ ...input, InstanceType: 't3.micro' })));
    expect(err).toMatchObject({ name: 'IdempotentParameterMismatch', status: 400 });
    expect((await failure(ec2.send(new RunInstancesCommand({ ...input, ClientToken: 'x'.repeat(65) })))).name).toBe('InvalidParameterValue');
  });

  it('lost answer: the launch happens, the answer is a 500, and the retry with the same ClientToken finds it', async () => {
    emu.inject('RunInstances', 'lost-answer');
    const input: RunInstancesCommandInput = { ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ClientToken: 'node-0043' };
    const err = await failure(ec2.send(new RunInstancesCommand(input)));
    expect(err).toMatchObject({ name: 'InternalError', status: 500, fault: 'server' });
    const made = emu.instances().filter((i) => i.clientToken === 'node-0043');
    expect(made).toHaveLength(1);
    const retry = await ec2.send(new RunInstancesCommand(input));
    expect(retry.Instances![0].InstanceId).toBe(made[0].id);
  });
});

describe('EC2 emulator: errors as the SDK parses them', () => {
  let emu: Ec2Emulator;
  let ec2: EC2Client;
  let ami: string;

  beforeAll(async () => {
    ({ emu, ec2 } = await start({ vcpuLimit: 6, instanceLimit: 10, capacity: { 'm5.large': 1 } }));
    ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
  });

  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new EC2Client({ endpoint: emu.endpoint, region: emu.region, credentials, maxAttempts: 1 });

  it('checks the signature: an unknown key is AuthFailure 401, a wrong secret SignatureDoesNotMatch 403', async () => {
    expect(await failure(client({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' }).send(new DescribeRegionsCommand({})))).toMatchObject({
      name: 'AuthFailure',
      status: 401,
    });
    expect(await failure(client({ ...emu.credentials, secretAccessKey: 'wrong' }).send(new DescribeRegionsCommand({})))).toMatchObject({
      name: 'SignatureDoesNotMatch',
      status: 403,
    });
    const wrongRegion = new EC2Client({ endpoint: emu.endpoint, region: 'eu-west-1', credentials: emu.credentials, maxAttempts: 1 });
    expect(await failure(wrongRegion.send(new DescribeRegionsCommand({})))).toMatchObject({ name: 'AuthFailure', status: 401 });
  });

  it('answers an unknown action InvalidAction 400', async () => {
    const c = client(emu.credentials);
    // Renames the action before signing (same length, so Content-Length stays right).
    c.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body?: string };
        if (typeof req.body === 'string') req.body = req.body.replace('Action=DescribeRegions', 'Action=DescribeUnicorn');
        return next(args);
      },
      { step: 'build' },
    );
    expect(await failure(c.send(new DescribeRegionsCommand({})))).toMatchObject({
      name: 'InvalidAction',
      status: 400,
      message: 'The action DescribeUnicorn is not valid for this web service.',
    });
    expect(emu.calls()['DescribeUnicorn']).toBe(1);
  });

  it('enforces the vCPU limit (VcpuLimitExceeded), launching as many as fit up to MaxCount', async () => {
    const r = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 5 }));
    expect(r.Instances).toHaveLength(3);
    const err = await failure(ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 })));
    expect(err).toMatchObject({ name: 'VcpuLimitExceeded', status: 400 });
    expect(err.message).toContain('vCPU limit of 6');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: r.Instances!.map((i) => i.InstanceId!) }));
  });

  it('enforces the instance limit (InstanceLimitExceeded) and per-type capacity (InsufficientInstanceCapacity, 500)', async () => {
    emu.setLimits({ vcpuLimit: null, instanceLimit: 1 });
    const live = emu.instances().filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down').length;
    expect(live).toBe(0);
    // Shutting-down instances still hold their place until terminated.
    const err = await failure(ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 })));
    expect(err).toMatchObject({ name: 'InstanceLimitExceeded', status: 400 });
    emu.setLimits({ instanceLimit: null });
    await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 }));
    const cap = await failure(ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 'm5.large', MinCount: 1, MaxCount: 1 })));
    expect(cap).toMatchObject({ name: 'InsufficientInstanceCapacity', status: 500, fault: 'server' });
    expect(cap.message).toContain('sufficient m5.large capacity in the Availability Zone you requested (us-east-1a)');
  });

  it('injects faults once each: throttling (503, counted), capacity, limits and 5xx', async () => {
    const run = () => ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const expected: [Parameters<Ec2Emulator['inject']>[1], number][] = [
      ['RequestLimitExceeded', 503],
      ['InsufficientInstanceCapacity', 500],
      ['InstanceLimitExceeded', 400],
      ['VcpuLimitExceeded', 400],
      ['InternalError', 500],
      ['Unavailable', 503],
    ];
    for (const [fault, status] of expected) {
      emu.inject('RunInstances', fault);
      expect(await failure(run())).toMatchObject({ name: fault, status });
    }
    expect(emu.throttled()['RunInstances']).toBe(1);
    const ok = await run();
    expect(ok.Instances).toHaveLength(1);
    emu.inject('*', 'Unavailable', 2);
    expect((await failure(ec2.send(new DescribeRegionsCommand({})))).name).toBe('Unavailable');
    expect((await failure(ec2.send(new DescribeSubnetsCommand({})))).name).toBe('Unavailable');
    expect((await ec2.send(new DescribeRegionsCommand({}))).Regions!.length).toBeGreaterThan(0);
  });

  it('answers unknown and unavailable AMIs, key pairs and subnets with their own codes', async () => {
    const base = { InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 } as const;
    expect((await failure(ec2.send(new RunInstancesCommand({ ...base, ImageId: 'ami-0123456789abcdef0' })))).name).toBe('InvalidAMIID.NotFound');
    expect((await failure(ec2.send(new RunInstancesCommand({ ...base, ImageId: 'ami-xyz' })))).name).toBe('InvalidAMIID.Malformed');
    expect((await failure(ec2.send(new RunInstancesCommand({ ...base, ImageId: ami, KeyName: 'nope' })))).name).toBe('InvalidKeyPair.NotFound');
    expect((await failure(ec2.send(new RunInstancesCommand({ ...base, ImageId: ami, SubnetId: 'subnet-0123456789abcdef0' })))).name).toBe('InvalidSubnetID.NotFound');
    expect((await failure(ec2.send(new RunInstancesCommand({ ...base, ImageId: ami, MinCount: 2, MaxCount: 1 })))).name).toBe('InvalidParameterValue');
  });
});

describe('EC2 emulator: throttling buckets', () => {
  it('takes one token per request from the action\'s own bucket and refills it by the clock', async () => {
    // scale 0.05: filtered DescribeInstances 5 tokens, 1/s; unfiltered 2.5, 0.5/s; RunInstances' resource bucket 50, 0.1/s.
    const { emu, ec2, clock } = await start({ throttle: { scale: 0.05 } });
    const filtered = () => ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }] }));
    for (let n = 0; n < 5; n++) await filtered();
    expect(await failure(filtered())).toMatchObject({ name: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' });
    // Other actions have their own buckets.
    await ec2.send(new DescribeRegionsCommand({ RegionNames: ['us-east-1'] }));
    await clock.advance(1000);
    await filtered();
    expect((await failure(filtered())).name).toBe('RequestLimitExceeded');
    // Unfiltered and unpaginated calls draw on the smaller bucket.
    await ec2.send(new DescribeInstancesCommand({}));
    await ec2.send(new DescribeInstancesCommand({}));
    expect((await failure(ec2.send(new DescribeInstancesCommand({})))).name).toBe('RequestLimitExceeded');
    expect(emu.throttled()['DescribeInstances']).toBe(3);
    expect(emu.calls()['DescribeInstances']).toBe(11);
  });

  it('takes one RunInstances resource token per instance and one TerminateInstances token per instance', async () => {
    const { ec2, clock } = await start({ throttle: { scale: 0.01 } });
    // scale 0.01: RunInstances resource bucket 10 instances, refill 0.02/s; its request bucket 2, 0.05/s.
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    const r = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 25 }));
    expect(r.Instances).toHaveLength(10);
    expect((await failure(ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 })))).name).toBe('RequestLimitExceeded');
    await clock.advance(50_000);
    const one = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 5 }));
    expect(one.Instances).toHaveLength(1);
    const ids = r.Instances!.map((i) => i.InstanceId!);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(0, 10) }));
    expect((await failure(ec2.send(new TerminateInstancesCommand({ InstanceIds: [one.Instances![0].InstanceId!] })))).name).toBe('RequestLimitExceeded');
  });
});

describe('EC2 emulator: spot', () => {
  it('launches Spot instances and an injected interruption terminates one with Server.SpotInstanceTermination', async () => {
    const { emu, ec2, clock } = await start({ bootTimeMs: 1000, terminateTimeMs: 1000 });
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    const r = await ec2.send(
      new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time' } } }),
    );
    const i = r.Instances![0];
    expect(i.InstanceLifecycle).toBe('spot');
    expect(i.SpotInstanceRequestId).toMatch(/^sir-[0-9a-f]{8}$/);
    await clock.advance(1000);
    emu.interruptSpot(i.InstanceId!);
    await clock.advance(1000);
    const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    const after = d.Reservations![0].Instances![0];
    expect(after.State?.Name).toBe('terminated');
    expect(after.StateReason).toEqual({ Code: 'Server.SpotInstanceTermination', Message: 'Server.SpotInstanceTermination: Spot instance termination' });
    expect(after.StateTransitionReason).toMatch(/^Service initiated/);
  });
});

describe('EC2 emulator: AMIs and snapshots', () => {
  let emu: Ec2Emulator;
  let ec2: EC2Client;
  let clock: ManualClock;
  let running: string;

  beforeAll(async () => {
    ({ emu, ec2, clock } = await start({ bootTimeMs: 0, imageTimeMs: 10_000 }));
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    running = (await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
    await clock.advance(1);
  });

  const create = (name: string) =>
    ec2.send(
      new CreateImageCommand({
        InstanceId: running,
        Name: name,
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: 'image', Tags: [{ Key: 'nodepool_image', Value: name }] },
          { ResourceType: 'snapshot', Tags: [{ Key: 'nodepool_image', Value: name }] },
        ],
      }),
    );

  it('creates an AMI pending, available after the image time, with a tagged snapshot; names are unique', async () => {
    const { ImageId } = await create('np-debian-1');
    expect(ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    const mine = async () => (await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:nodepool_image', Values: ['np-debian-1'] }] }))).Images!;
    let [img] = await mine();
    expect(img).toMatchObject({ ImageId, Name: 'np-debian-1', State: 'pending', OwnerId: emu.accountId, Public: false, RootDeviceType: 'ebs' });
    const snapId = img.BlockDeviceMappings![0].Ebs!.SnapshotId!;
    expect(snapId).toMatch(/^snap-[0-9a-f]{17}$/);
    expect((await failure(create('np-debian-1'))).name).toBe('InvalidAMIName.Duplicate');
    await clock.advance(10_000);
    [img] = await mine();
    expect(img.State).toBe('available');
    const snaps = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:nodepool_image', Values: ['np-debian-1'] }] }));
    expect(snaps.Snapshots).toHaveLength(1);
    expect(snaps.Snapshots![0]).toMatchObject({ SnapshotId: snapId, State: 'completed', Progress: '100%', OwnerId: emu.accountId });
    expect(snaps.Snapshots![0].Description).toBe(`Created by CreateImage(${running}) for ${ImageId}`);

    // The snapshot cannot go while the AMI uses it; after DeregisterImage it can.
    expect(await failure(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapId })))).toMatchObject({ name: 'InvalidSnapshot.InUse', status: 400 });
    await ec2.send(new DeregisterImageCommand({ ImageId }));
    expect((await failure(ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] })))).name).toBe('InvalidAMIID.NotFound');
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapId }));
    expect((await failure(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapId] })))).name).toBe('InvalidSnapshot.NotFound');
  });

  it('keeps AMIs stuck in pending, or fails them, as injected', async () => {
    emu.setImageOutcome('stuck-pending');
    const stuck = (await create('np-stuck')).ImageId!;
    await clock.advance(3_600_000);
    expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [stuck] }))).Images![0].State).toBe('pending');
    emu.settleImage(stuck, 'available');
    expect((await ec2.send(new DescribeImagesCommand({ ImageIds: [stuck] }))).Images![0].State).toBe('available');
    emu.setImageOutcome('failed');
    const failed = (await create('np-failed')).ImageId!;
    await clock.advance(10_000);
    const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [failed] }))).Images![0];
    expect(img.State).toBe('failed');
    expect(img.StateReason?.Code).toBe('Server.InternalError');
    emu.setImageOutcome('available');
    expect((await failure(ec2.send(new RunInstancesCommand({ ImageId: failed, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 })))).name).toBe('InvalidAMIID.Unavailable');
  });

  it('refuses to deregister an image of Amazon\'s', async () => {
    const amazon = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    expect((await failure(ec2.send(new DeregisterImageCommand({ ImageId: amazon })))).name).toBe('AuthFailure');
  });
});

describe('EC2 emulator: account reads', () => {
  it('answers instance types, account attributes, zones, subnets, key pairs and regions', async () => {
    const { ec2, emu } = await start({ vcpuLimit: 32 });
    const types = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.micro', 'm5.xlarge'] }));
    expect(types.InstanceTypes!.map((t) => [t.InstanceType, t.VCpuInfo?.DefaultVCpus, t.MemoryInfo?.SizeInMiB])).toEqual([
      ['m5.xlarge', 4, 16384],
      ['t3.micro', 2, 1024],
    ]);
    expect((await failure(ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.huge' as never] })))).name).toBe('InvalidInstanceType');
    // The SDK's AccountAttributeName enum lists only supported-platforms and default-vpc; EC2 takes max-instances too.
    const attrs = await ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['max-instances' as AccountAttributeName] }));
    expect(attrs.AccountAttributes).toEqual([{ AttributeName: 'max-instances', AttributeValues: [{ AttributeValue: '32' }] }]);
    const zones = await ec2.send(new DescribeAvailabilityZonesCommand({}));
    expect(zones.AvailabilityZones!.map((z) => [z.ZoneName, z.ZoneId, z.State])).toEqual([
      ['us-east-1a', 'use1-az1', 'available'],
      ['us-east-1b', 'use1-az2', 'available'],
      ['us-east-1c', 'use1-az3', 'available'],
    ]);
    const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: ['us-east-1b'] }] }));
    expect(subnets.Subnets).toHaveLength(1);
    expect(subnets.Subnets![0]).toMatchObject({ AvailabilityZone: 'us-east-1b', DefaultForAz: true, MapPublicIpOnLaunch: true, State: 'available' });
    const keys = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['nodepool'] }));
    expect(keys.KeyPairs![0]).toMatchObject({ KeyName: 'nodepool', KeyType: 'ed25519' });
    expect(keys.KeyPairs![0].KeyPairId).toMatch(/^key-[0-9a-f]{17}$/);
    expect((await failure(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['nope'] })))).name).toBe('InvalidKeyPair.NotFound');
    const regions = await ec2.send(new DescribeRegionsCommand({ RegionNames: [emu.region] }));
    expect(regions.Regions).toEqual([{ RegionName: 'us-east-1', Endpoint: 'ec2.us-east-1.amazonaws.com', OptInStatus: 'opt-in-not-required' }]);
  });
});

/** Runs `command` over SSH; resolves with its exit code and output. */
function sshRun(host: string, port: number, key: string, command: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    conn
      .on('ready', () =>
        conn.exec(command, (e, stream) => {
          if (e) return reject(e);
          let out = '';
          stream.on('data', (d: Buffer) => (out += d.toString()));
          stream.stderr.on('data', () => undefined);
          stream.on('close', (code: number | null) => {
            conn.end();
            resolve({ code, out });
          });
        }),
      )
      .on('error', reject)
      .connect({ host, port, username: 'admin', privateKey: key, hostVerifier: () => true, readyTimeout: 10_000 });
  });
}

describe('EC2 emulator: SSH', () => {
  const keys = ssh2.utils.generateKeyPairSync('ed25519');

  it('answers SSH on the private and public address of a running instance, and stops when it terminates', async () => {
    const { emu, ec2, clock } = await start({ ssh: true, sshAuthorizedKeys: [keys.public], bootTimeMs: 1000 });
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    const i = (await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0];
    await clock.advance(1000);
    await emu.sync();
    expect(await sshRun(i.PrivateIpAddress!, emu.sshPort, keys.private, 'echo hello')).toEqual({ code: 0, out: 'hello\n' });
    expect(await sshRun(i.PublicIpAddress!, emu.sshPort, keys.private, 'echo -n public')).toEqual({ code: 0, out: 'public' });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    await emu.sync();
    await expect(sshRun(i.PrivateIpAddress!, emu.sshPort, keys.private, 'echo hello')).rejects.toThrow();
  });

  it('launches without a public address when the interface asks for none', async () => {
    const { ec2 } = await start();
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    const i = (
      await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, NetworkInterfaces: [{ DeviceIndex: 0, AssociatePublicIpAddress: false }] }))
    ).Instances![0];
    expect(i.PublicIpAddress).toBeUndefined();
    expect(i.PublicDnsName).toBe('');
  });

  describe.skipIf(!findBwrap())('with sandboxes', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ec2-emu-sbx-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('runs commands for real in the instance\'s tree, and an AMI carries the tree to instances launched from it', async () => {
      const { emu, ec2, clock } = await start({ ssh: true, sshAuthorizedKeys: [keys.public], sandboxDir: dir, bootTimeMs: 1000, imageTimeMs: 1000 });
      const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
      const template = (await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0];
      await clock.advance(1000);
      await emu.sync();
      const setup = await sshRun(template.PrivateIpAddress!, emu.sshPort, keys.private, 'mkdir -p /opt/cache && echo baked > /opt/cache/marker && cat /opt/cache/marker; exit 3');
      expect(setup).toEqual({ code: 3, out: 'baked\n' });
      const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: template.InstanceId!, Name: 'np-sandboxed' }));
      await clock.advance(1000);
      const node = (await ec2.send(new RunInstancesCommand({ ImageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0];
      const plain = (await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0];
      await clock.advance(1000);
      await emu.sync();
      expect(await sshRun(node.PrivateIpAddress!, emu.sshPort, keys.private, 'cat /opt/cache/marker')).toEqual({ code: 0, out: 'baked\n' });
      expect((await sshRun(plain.PrivateIpAddress!, emu.sshPort, keys.private, 'cat /opt/cache/marker')).code).not.toBe(0);
    });
  });
});

describe('EC2 emulator: networks, key pairs, tags, volumes, status checks', () => {
  let emu: Ec2Emulator;
  let ec2: EC2Client;
  let clock: ManualClock;
  let ami: string;

  beforeAll(async () => {
    // No throttling at all: launches and reads are limited only by the account.
    ({ emu, ec2, clock } = await start({ throttle: false, securityGroups: ['nodepool-ssh'], statusChecksMs: 30_000, bootTimeMs: 1000 }));
    ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
  });

  it('lists the default VPC and its security groups, and launches into a named group', async () => {
    const vpcs = await ec2.send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs).toHaveLength(1);
    expect(vpcs.Vpcs![0]).toMatchObject({ VpcId: emu.vpcId, IsDefault: true, State: 'available', CidrBlock: '172.31.0.0/16' });
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['nodepool-ssh'] }] }));
    expect(groups.SecurityGroups).toHaveLength(1);
    const sg = groups.SecurityGroups![0].GroupId!;
    expect(sg).toMatch(/^sg-[0-9a-f]{17}$/);
    const r = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SecurityGroupIds: [sg] }));
    expect(r.Instances![0].SecurityGroups).toEqual([{ GroupId: sg, GroupName: 'nodepool-ssh' }]);
    expect(r.Instances![0].VpcId).toBe(emu.vpcId);
    expect((await failure(ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SecurityGroupIds: ['sg-0123456789abcdef0'] })))).name).toBe(
      'InvalidGroup.NotFound',
    );
  });

  it('imports, lists and deletes key pairs', async () => {
    const key = ssh2.utils.generateKeyPairSync('ed25519');
    const imported = await ec2.send(new ImportKeyPairCommand({ KeyName: 'builder', PublicKeyMaterial: Buffer.from(key.public) }));
    expect(imported.KeyPairId).toMatch(/^key-[0-9a-f]{17}$/);
    expect(imported.KeyFingerprint).toBeTruthy();
    expect((await failure(ec2.send(new ImportKeyPairCommand({ KeyName: 'builder', PublicKeyMaterial: Buffer.from(key.public) })))).name).toBe('InvalidKeyPair.Duplicate');
    const listed = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['builder'], IncludePublicKey: true }));
    expect(listed.KeyPairs![0].PublicKey).toBe(key.public.trim());
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'builder' }));
    // Deleting again is fine, as on EC2.
    await ec2.send(new DeleteKeyPairCommand({ KeyName: 'builder' }));
    expect((await failure(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['builder'] })))).name).toBe('InvalidKeyPair.NotFound');
  });

  it('tags after launch (CreateTags, DeleteTags) and lists root volumes with their tags', async () => {
    const i = (
      await ec2.send(
        new RunInstancesCommand({
          ImageId: ami,
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'nodepool_node', Value: '0007' }] }],
        }),
      )
    ).Instances![0];
    await ec2.send(new CreateTagsCommand({ Resources: [i.InstanceId!], Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] }));
    await ec2.send(new DeleteTagsCommand({ Resources: [i.InstanceId!], Tags: [{ Key: 'a' }] }));
    const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [i.InstanceId!] }));
    expect(instanceTags(d.Reservations![0].Instances![0])).toEqual({ b: '2' });
    const vols = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'tag:nodepool_node', Values: ['0007'] }] }));
    expect(vols.Volumes).toHaveLength(1);
    expect(vols.Volumes![0]).toMatchObject({ VolumeId: i.BlockDeviceMappings![0].Ebs!.VolumeId, State: 'in-use', Attachments: [expect.objectContaining({ InstanceId: i.InstanceId })] });
    expect((await failure(ec2.send(new CreateTagsCommand({ Resources: ['i-0123456789abcdef0'], Tags: [{ Key: 'a', Value: '1' }] })))).name).toBe('InvalidInstanceID.NotFound');
  });

  it('reports status checks initializing after boot, then ok', async () => {
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
    const status = async (all = false) => (await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: all }))).InstanceStatuses!;
    expect(await status()).toEqual([]);
    expect((await status(true))[0].InstanceState?.Name).toBe('pending');
    await clock.advance(1000);
    expect((await status())[0].InstanceStatus?.Status).toBe('initializing');
    await clock.advance(30_000);
    const [s] = await status();
    expect(s.InstanceStatus?.Status).toBe('ok');
    expect(s.SystemStatus?.Details).toEqual([{ Name: 'reachability', Status: 'passed' }]);
  });

  it('launches many at once without throttling and counts the peak', async () => {
    const r = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 50, MaxCount: 50 }));
    expect(r.Instances).toHaveLength(50);
    expect(emu.peakInstances()).toBeGreaterThanOrEqual(50);
    expect(emu.throttled()).toEqual({});
  });
});

/** Sends a request the SDK signed, again, as it was; resolves with the raw answer. */
function replay(endpoint: string, req: { method: string; path: string; headers: Record<string, string>; body?: unknown }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(`${endpoint}${req.path}`, { method: req.method, headers: req.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end(typeof req.body === 'string' ? req.body : '');
  });
}

describe('EC2 emulator: the wire format', () => {
  it('answers in EC2\'s XML: the action\'s root element in the 2016-11-15 namespace with requestId; errors as Response/Errors/Error with RequestID', async () => {
    const { emu, ec2 } = await start();
    let signed: { method: string; path: string; headers: Record<string, string>; body?: unknown } | undefined;
    // The deserialize step sees the request as signed and sent.
    ec2.middlewareStack.add(
      (next) => async (args) => {
        signed = args.request as typeof signed;
        return next(args);
      },
      { step: 'deserialize' },
    );
    await ec2.send(new DescribeRegionsCommand({ RegionNames: ['us-east-1'] }));
    expect(signed!.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ec2\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
    expect(String(signed!.body)).toBe('Action=DescribeRegions&Version=2016-11-15&RegionName.1=us-east-1');
    const ok = await replay(emu.endpoint, signed!);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/xml;charset=UTF-8');
    const m = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<DescribeRegionsResponse xmlns="http:\/\/ec2\.amazonaws\.com\/doc\/2016-11-15\/"><requestId>([0-9a-f-]{36})<\/requestId><regionInfo><item><regionName>us-east-1<\/regionName><regionEndpoint>ec2\.us-east-1\.amazonaws\.com<\/regionEndpoint><optInStatus>opt-in-not-required<\/optInStatus><\/item><\/regionInfo><\/DescribeRegionsResponse>$/.exec(ok.body);
    expect(m).not.toBeNull();
    expect(ok.headers['x-amzn-requestid']).toBe(m![1]);

    const err = await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })));
    expect(err.name).toBe('InvalidInstanceID.NotFound');
    const bad = await replay(emu.endpoint, signed!);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<Response><Errors><Error><Code>InvalidInstanceID\.NotFound<\/Code><Message>The instance ID 'i-0123456789abcdef0' does not exist<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
    );
  });

  it('round-trips tag text that XML must escape, and refuses tags EC2 refuses', async () => {
    const { ec2 } = await start();
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    const run = (key: string) =>
      ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: key, Value: 'x' }] }] }));
    const odd = `a<b> & "c" 'd' ü`;
    const made = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'odd key=1', Value: odd }] }] }));
    expect(instanceTags(made.Instances![0])).toEqual({ 'odd key=1': odd });
    expect((await failure(run('aws:reserved'))).name).toBe('InvalidParameterValue');
    expect((await failure(run('k'.repeat(129)))).name).toBe('InvalidParameterValue');
    const many = Array.from({ length: 51 }, (_, n) => ({ Key: `k${n}`, Value: 'v' }));
    expect((await failure(ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: many }] })))).name).toBe(
      'TagLimitExceeded',
    );
  });
});

describe('EC2 emulator: seeds and rates', () => {
  it('replays ids and addresses for a seed', async () => {
    const launch = async (seed: number) => {
      const { ec2 } = await start({ seed });
      const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images!.map((i) => i.ImageId).sort()[0]!;
      const r = await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 2, MaxCount: 2 }));
      return [ami, r.ReservationId, ...r.Instances!.flatMap((i) => [i.InstanceId, i.PrivateIpAddress])];
    };
    const a = await launch(5);
    expect(await launch(5)).toEqual(a);
    expect(await launch(6)).not.toEqual(a);
  });

  it('answers a seeded share of requests 503 Unavailable, and loses a seeded share of launch answers after the launch', async () => {
    const { emu, ec2 } = await start({ seed: 3, apiErrorRate: 0.3, lostAnswerRate: 0.5, throttle: false });
    let unavailable = 0;
    let lost = 0;
    let ok = 0;
    for (let n = 0; n < 40; n++) {
      try {
        await ec2.send(new RunInstancesCommand({ ImageId: emu.images()[0].id, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
        ok += 1;
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 503) unavailable += 1;
        else if (status === 500) lost += 1;
        else throw e;
      }
    }
    expect(unavailable).toBeGreaterThan(3);
    expect(lost).toBeGreaterThan(3);
    expect(ok).toBeGreaterThan(3);
    // Every lost answer still launched an instance; no 503 did.
    expect(emu.instances()).toHaveLength(ok + lost);
  });

  it('pages DescribeImages and DescribeSnapshots', async () => {
    const images = Array.from({ length: 7 }, (_, n) => ({ name: `np-img-${n}`, owned: true }));
    const { ec2 } = await start({ images });
    const first = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: 5 }));
    expect(first.Images).toHaveLength(5);
    const second = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: 5, NextToken: first.NextToken }));
    expect(second.Images).toHaveLength(2);
    expect(second.NextToken).toBeUndefined();
    expect(new Set([...first.Images!, ...second.Images!].map((i) => i.Name))).toEqual(new Set(images.map((i) => i.name)));
    const snaps = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], MaxResults: 5 }));
    expect(snaps.Snapshots).toHaveLength(5);
    expect(snaps.NextToken).toBeTruthy();
  });
});

describe('EC2 emulator: eventual consistency', () => {
  it('hides a new instance from reads for the lag: NotFound by id, missing from lists, then there', async () => {
    const { ec2, clock } = await start({ consistencyLagMs: 2000 });
    const ami = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0].ImageId!;
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0].InstanceId!;
    expect((await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })))).name).toBe('InvalidInstanceID.NotFound');
    expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations).toEqual([]);
    expect((await failure(ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'a', Value: 'b' }] })))).name).toBe('InvalidInstanceID.NotFound');
    await clock.advance(2000);
    expect((await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0].Instances![0].InstanceId).toBe(id);
  });
});
