// An AWS EC2 emulator for tests, the demo and benchmarks: the EC2 Query API (version 2016-11-15)
// over real HTTP on 127.0.0.1, as @aws-sdk/client-ec2 speaks it (point the client's `endpoint`
// at `emu.endpoint`, with `emu.region` and `emu.credentials`), plus an SSH daemon per running
// instance on its own loopback address (the OpenStack emulator's SshFarm and sandboxes).
// State changes follow the injected clock and are evaluated lazily, so a ManualClock drives
// pending -> running -> shutting-down -> terminated -> gone without timers.
//
// Options (all optional; Ec2EmulatorOptions below has the details):
//   clock, seed                 time source; seed for ids (i-/r-/ami-/snap-/vol-, 17 hex), addresses, injected rates
//   region, accountId           default us-east-1, 123456789012; availabilityZones default REGION a/b/c
//   credentials                 access keys accepted (SigV4 verified); default one AKIDEXAMPLE key
//   bootTimeMs                  pending -> running (default 1000); terminateTimeMs shutting-down -> terminated (default 1000)
//   terminatedVisibleMs         how long terminated instances stay listed (default 1 h, as on AWS)
//   imageTimeMs, imageOutcome   CreateImage pending -> available (default 1000); or 'stuck-pending' / 'failed'
//   instanceTypes, images, keyPairs, securityGroups   what the account has
//   vcpuLimit, spotVcpuLimit, instanceLimit, capacity   launch limits (VcpuLimitExceeded, MaxSpotInstanceCountExceeded,
//                               InstanceLimitExceeded, InsufficientInstanceCapacity)
//   throttle                    false, or { scale, requestBuckets, resourceBuckets }: AWS's token buckets (throttle.ts)
//   apiErrorRate, lostAnswerRate, lostAnswerActions   seeded faults: 503 Unavailable before an action; 500 after it took effect
//   consistencyLagMs, statusChecksMs   eventual consistency of reads after a launch; status checks "initializing"
//   ssh, sshPort, sshAuthorizedKeys, sandboxDir   SSH into running instances; real commands under bubblewrap
//   port, log
// Injection at run time: emu.inject(action, fault, times), emu.setLimits(), emu.setCapacity(),
// emu.setImageOutcome(), emu.settleImage(), emu.interruptSpot(), emu.setPaginationFault(), emu.failLaunches().
import { randomInt, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../../src/clock.js';
import { silentLogger, type Logger } from '../../../src/log.js';
import { seededRng } from '../../../src/prng.js';
import type { SshFarm } from '../../openstack/emulator/ssh.js';
import { closeOnce, listenLoopback, sandboxing, startSsh } from '../../emulator-common/index.js';
import {
  describeAccountAttributes,
  describeAvailabilityZones,
  describeInstanceTypes,
  describeKeyPairs,
  describeRegions,
  describeSubnets,
  describeVolumes,
  createTags,
  deleteKeyPair,
  deleteTags,
  importKeyPair,
} from './account.js';
import { Cloud, DEFAULT_IMAGES, DEFAULT_INSTANCE_TYPES, type Ec2ImageSeed, type Ec2InstanceType, type ImageOutcome, type InstanceStateName } from './cloud.js';
import type { ActionCtx, Handler, Limits, PaginationFault } from './context.js';
import { Ec2Error, ec2Error, MESSAGES } from './errors.js';
import { createImage, deleteSnapshot, deregisterImage, describeImages, describeSnapshots } from './images.js';
import { describeInstanceStatus, describeInstances, runInstances, terminateInstances } from './instances.js';
import { describeSecurityGroups, describeVpcs } from './network.js';
import { Params } from './query.js';
import { verifySigV4, type Credentials } from './sigv4.js';
import { Throttle, type ThrottleOptions } from './throttle.js';
import { errorXml, responseXml } from './xml.js';

export type { Ec2ImageSeed, Ec2InstanceType, ImageOutcome, InstanceStateName } from './cloud.js';
export type { Limits, PaginationFault } from './context.js';
export type { Credentials } from './sigv4.js';
export { REQUEST_BUCKETS, RESOURCE_BUCKETS, type BucketFigures, type ThrottleOptions } from './throttle.js';
export { execOutput } from '../../openstack/emulator/ssh.js';

export const EC2_API_VERSION = '2016-11-15';

export interface Ec2EmulatorOptions {
  clock?: Clock;
  /** Seeds ids, the 127.A.x.x address blocks and injected rates. Random when absent. */
  seed?: number;
  /** Default us-east-1. */
  region?: string;
  /** 12 digits; default 123456789012. */
  accountId?: string;
  /** Access keys whose SigV4 signatures are accepted. Default [{ AKIDEXAMPLE / emulator-secret }]. */
  credentials?: Credentials[];
  /** Zones of the region, one default subnet each. Default REGIONa, REGIONb, REGIONc. */
  availabilityZones?: string[];
  /** pending -> running after this long by the clock. Default 1000. */
  bootTimeMs?: number;
  /** shutting-down -> terminated after this long. Default 1000. */
  terminateTimeMs?: number;
  /** A terminated instance stays listed this long (AWS: about an hour). Default 3_600_000. */
  terminatedVisibleMs?: number;
  /** CreateImage: pending -> available (and its snapshot pending -> completed) after this long. Default 1000. */
  imageTimeMs?: number;
  /** What CreateImage's AMIs become: 'available' (default), 'stuck-pending' (never settle), 'failed'. */
  imageOutcome?: ImageOutcome;
  instanceTypes?: Ec2InstanceType[];
  /** AMIs at start. Default: a Debian and an Ubuntu image of Amazon's, public and available. */
  images?: Ec2ImageSeed[];
  /** Key pair names. Default ["nodepool"]. */
  keyPairs?: string[];
  /** Security groups besides the default VPC's "default": an "sg-..." entry is that group's id (and name), any other a name whose id is generated. */
  securityGroups?: string[];
  /** Status checks (DescribeInstanceStatus) stay "initializing" this long after running. Default 0. */
  statusChecksMs?: number;
  /** Eventual consistency: new instances and AMIs are missing from Describe calls and CreateTags for this long (NotFound by id). Default 0. */
  consistencyLagMs?: number;
  /** vCPUs of On-Demand instances not yet terminated; null (default) = unlimited. */
  vcpuLimit?: number | null;
  spotVcpuLimit?: number | null;
  /** Instances not yet terminated; null (default) = unlimited. */
  instanceLimit?: number | null;
  /** Instances per type ("t3.micro") or type in a zone ("t3.micro/us-east-1a"). Absent: unlimited. */
  capacity?: Record<string, number>;
  /** AWS's throttling buckets (throttle.ts); false: none. Default: AWS's published figures. */
  throttle?: false | ThrottleOptions;
  /** Fraction of requests answered 503 Unavailable before they take effect (seeded). Default 0. */
  apiErrorRate?: number;
  /** Fraction of `lostAnswerActions` requests that take effect but answer 500 InternalError (seeded). Default 0. */
  lostAnswerRate?: number;
  /** Default ["RunInstances"]. */
  lostAnswerActions?: string[];
  /** false: no SSH daemons (pure API tests). Default true. */
  ssh?: boolean;
  /** Shared port of all emulated SSH daemons; 0 (default) picks a free port once. */
  sshPort?: number;
  /** OpenSSH public key lines accepted for login; empty (default) accepts any key. */
  sshAuthorizedKeys?: string[];
  /** Sandboxes (see providers/openstack/emulator/sandbox.ts): SSH commands run under bubblewrap in each instance's tree; CreateImage copies it. */
  sandboxDir?: string;
  /** HTTP port; 0 (default) picks a free one. */
  port?: number;
  log?: Logger;
}

/** A fault to inject: an EC2 error answered instead of the action, or 'lost-answer' (it takes effect, the answer is a 500). */
export type Ec2Fault =
  | 'RequestLimitExceeded'
  | 'InsufficientInstanceCapacity'
  | 'InstanceLimitExceeded'
  | 'VcpuLimitExceeded'
  | 'InternalError'
  | 'Unavailable'
  | 'lost-answer';

export interface EmulatedInstance {
  id: string;
  reservationId: string;
  state: InstanceStateName;
  stateReason: string | null;
  imageId: string;
  instanceType: string;
  az: string;
  subnetId: string;
  /** Its loopback address, where SSH answers once running. */
  privateIp: string;
  /** A second loopback address when it has a public IP (SSH answers there too). */
  publicIp: string | null;
  tags: Record<string, string>;
  volumeTags: Record<string, string>;
  keyName: string | null;
  spot: boolean;
  clientToken: string | null;
  launchTime: number;
}

export interface EmulatedImage {
  id: string;
  name: string;
  state: string;
  ownerId: string;
  tags: Record<string, string>;
  snapshotId: string | null;
  sourceInstanceId: string | null;
  created: number;
}

export interface EmulatedSnapshot {
  id: string;
  state: string;
  volumeId: string;
  tags: Record<string, string>;
}

export interface Ec2Emulator {
  /** http://127.0.0.1:PORT (the SDK's `endpoint`). */
  readonly endpoint: string;
  /** The same as endpoint. */
  readonly url: string;
  readonly region: string;
  readonly accountId: string;
  /** The first accepted access key, for the SDK's static credentials. */
  readonly credentials: Credentials;
  /** 0 when SSH is disabled. */
  readonly sshPort: number;
  readonly sshHostPublicKey: string | null;
  /** The default VPC (the only one). */
  readonly vpcId: string;
  /** The default subnets, one per zone. */
  subnets(): { id: string; az: string; cidr: string }[];
  /** Security groups: the default VPC's "default" and those of `securityGroups`. */
  securityGroups(): { id: string; name: string }[];
  keyPairs(): { id: string; name: string; publicKey: string | null }[];
  /** Requests by action (unknown actions too), throttled ones included. */
  calls(): Record<string, number>;
  /** Requests answered RequestLimitExceeded, by action. */
  throttled(): Record<string, number>;
  totalCalls(): number;
  resetCalls(): void;
  instances(): EmulatedInstance[];
  /** The most instances not yet terminated at once since the start. */
  peakInstances(): number;
  /** The same as peakInstances(), named as the OpenStack emulator's. */
  peakServers(): number;
  images(): EmulatedImage[];
  snapshots(): EmulatedSnapshot[];
  /** The next `times` requests of `action` ('*': any action) get `fault`. */
  inject(action: string, fault: Ec2Fault, times?: number): void;
  clearInjections(): void;
  setLimits(limits: Partial<Omit<Limits, 'capacity'>>): void;
  /** Capacity of a type or type/zone; null removes the bound. */
  setCapacity(key: string, instances: number | null): void;
  setBootTimeMs(ms: number): void;
  setTerminateTimeMs(ms: number): void;
  setImageTimeMs(ms: number): void;
  setImageOutcome(outcome: ImageOutcome): void;
  setConsistencyLagMs(ms: number): void;
  /** Settles a pending (e.g. stuck) AMI now. */
  settleImage(imageId: string, state: 'available' | 'failed'): void;
  /** Faults DescribeInstances' pages after the first (null: off); see PaginationFault. */
  setPaginationFault(fault: PaginationFault | null): void;
  /** While on, instances launched fail: pending -> terminated with Server.InternalError after bootTimeMs. */
  failLaunches(on: boolean): void;
  /** A Spot interruption: the instance shuts down with Server.SpotInstanceTermination. */
  interruptSpot(instanceId: string): void;
  /** Applies transitions due by the clock and waits until the SSH daemons of running instances listen. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

const HANDLERS: Record<string, Handler> = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  DescribeInstanceStatus: describeInstanceStatus,
  TerminateInstances: terminateInstances,
  DescribeImages: describeImages,
  CreateImage: createImage,
  DeregisterImage: deregisterImage,
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  DescribeInstanceTypes: describeInstanceTypes,
  DescribeAccountAttributes: describeAccountAttributes,
  DescribeAvailabilityZones: describeAvailabilityZones,
  DescribeSubnets: describeSubnets,
  DescribeKeyPairs: describeKeyPairs,
  ImportKeyPair: importKeyPair,
  DeleteKeyPair: deleteKeyPair,
  DescribeVpcs: describeVpcs,
  DescribeSecurityGroups: describeSecurityGroups,
  DescribeRegions: describeRegions,
  DescribeVolumes: describeVolumes,
  CreateTags: createTags,
  DeleteTags: deleteTags,
};

/** Parameters that narrow a Describe call: without any, EC2 counts it against the smaller unfiltered bucket. */
const NARROWING = /^(Filter\.|MaxResults$|NextToken$|(InstanceId|ImageId|SnapshotId|SubnetId|VolumeId|VpcId|GroupId|GroupName|KeyName|KeyPairId|InstanceType|ZoneName|RegionName|AttributeName|Owner)\.\d+$)/;

const FAULT_MESSAGES: Record<Exclude<Ec2Fault, 'lost-answer'>, string> = {
  RequestLimitExceeded: MESSAGES.throttled,
  InsufficientInstanceCapacity: 'We currently do not have sufficient capacity in the Availability Zone you requested. Our system will be working on provisioning additional capacity.',
  InstanceLimitExceeded: 'Your quota allows for 0 more running instance(s). You requested at least 1.',
  VcpuLimitExceeded:
    'You have requested more vCPU capacity than your current vCPU limit allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.',
  InternalError: MESSAGES.internal,
  Unavailable: MESSAGES.unavailable,
};

interface Answer {
  status: number;
  xml: string;
  action: string;
  requestId: string;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startEc2Emulator(opts: Ec2EmulatorOptions = {}): Promise<Ec2Emulator> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const seed = opts.seed ?? randomInt(0, 2 ** 31);
  const rng = seededRng(seed);
  const faultRng = seededRng(seed ^ 0xfa17);
  // Private addresses 127.A.x.x and public ones 127.(A+1).x.x, A from the seed.
  const ipA = 2 + Math.floor(seededRng(seed ^ 0x5eed5eed)() * 252);
  const region = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '123456789012';
  const keys = opts.credentials ?? [{ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'emulator-secret' }];
  const zones = opts.availabilityZones ?? ['a', 'b', 'c'].map((z) => `${region}${z}`);
  const apiErrorRate = opts.apiErrorRate ?? 0;
  const lostAnswerRate = opts.lostAnswerRate ?? 0;
  const lostAnswerActions = new Set(opts.lostAnswerActions ?? ['RunInstances']);

  let farm: SshFarm | null = null;
  const sandboxed = sandboxing(opts.sandboxDir);
  const { sandboxes } = sandboxed;
  /** The instance answering SSH on each address, for the sandboxed exec. */
  const instanceAt = new Map<string, string>();
  const addresses = (i: { privateIp: string; publicIp: string | null }) => [i.privateIp, ...(i.publicIp ? [i.publicIp] : [])];

  const cloud = new Cloud(
    rng,
    clock,
    accountId,
    region,
    {
      zones,
      instanceTypes: opts.instanceTypes ?? DEFAULT_INSTANCE_TYPES,
      images: opts.images ?? DEFAULT_IMAGES,
      keyPairs: opts.keyPairs ?? ['nodepool'],
      securityGroups: opts.securityGroups ?? [],
      bootTimeMs: opts.bootTimeMs ?? 1000,
      terminateTimeMs: opts.terminateTimeMs ?? 1000,
      terminatedVisibleMs: opts.terminatedVisibleMs ?? 3_600_000,
      imageTimeMs: opts.imageTimeMs ?? 1000,
      ipA,
    },
    {
      onRunning: (i) => {
        sandboxes?.boot(i.id, i.imageId);
        for (const ip of addresses(i)) {
          instanceAt.set(ip, i.id);
          farm?.open(ip);
        }
      },
      onStopping: (i) => {
        sandboxes?.dropServer(i.id);
        for (const ip of addresses(i)) {
          instanceAt.delete(ip);
          void farm?.shut(ip);
        }
      },
      onImageCreated: (i, img) => sandboxes?.snapshot(i.id, img.id),
      onImageDeregistered: (img) => sandboxes?.dropImage(img.id),
    },
  );
  if (opts.imageOutcome) cloud.imageOutcome = opts.imageOutcome;
  cloud.statusChecksMs = opts.statusChecksMs ?? 0;
  cloud.consistencyLagMs = opts.consistencyLagMs ?? 0;

  const limits: Limits = {
    vcpuLimit: opts.vcpuLimit ?? null,
    spotVcpuLimit: opts.spotVcpuLimit ?? null,
    instanceLimit: opts.instanceLimit ?? null,
    capacity: { ...(opts.capacity ?? {}) },
  };
  const throttle = new Throttle(clock, opts.throttle ?? {});
  const clientTokens: ActionCtx['clientTokens'] = new Map();

  const counts = new Map<string, number>();
  const throttledCounts = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const injections: { action: string; fault: Ec2Fault; left: number }[] = [];
  let pagination: PaginationFault | null = null;

  const takeInjection = (action: string): Ec2Fault | null => {
    const hit = injections.find((j) => j.left > 0 && (j.action === action || j.action === '*'));
    if (!hit) return null;
    hit.left -= 1;
    if (hit.left <= 0) injections.splice(injections.indexOf(hit), 1);
    return hit.fault;
  };

  let base = '';

  /** One request: the action's XML answer, or the error it raised. */
  const handle = (raw: IncomingMessage, body: Buffer): Answer => {
    const requestId = randomUUID();
    const url = new URL(raw.url ?? '/', base);
    const method = raw.method ?? 'GET';
    // The Query API takes its parameters from the body (POST) or the query string (GET).
    const params = Params.parse(method === 'POST' ? body.toString('utf8') : url.search.slice(1));
    const action = params.get('Action') ?? '';
    bump(counts, action || '(none)');
    const fail = (e: Ec2Error) => {
      if (e.code === 'RequestLimitExceeded') bump(throttledCounts, action);
      return { status: e.status, xml: errorXml(e.code, e.message, requestId), action, requestId };
    };
    try {
      const query = [...url.searchParams.entries()]
        .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)])
        .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join('&');
      verifySigV4({ method, path: url.pathname, query, headers: raw.headers, body }, keys, region);
      if (!action) throw ec2Error('MissingAction', 'The request must contain the parameter Action');
      const handler = HANDLERS[action];
      if (!handler) throw ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
      cloud.refresh();

      const fault = takeInjection(action);
      if (fault !== null && fault !== 'lost-answer') throw ec2Error(fault, FAULT_MESSAGES[fault]);
      if (apiErrorRate > 0 && faultRng() < apiErrorRate) throw ec2Error('Unavailable', MESSAGES.unavailable);
      const unfiltered = ![...params.map.keys()].some((k) => NARROWING.test(k));
      if (!throttle.takeRequest(action, unfiltered)) throw ec2Error('RequestLimitExceeded', MESSAGES.throttled);
      const ctx: ActionCtx = { params, cloud, clock, throttle, limits, clientTokens, pagination };
      const result = handler(ctx);
      const lost = fault === 'lost-answer' || (lostAnswerRate > 0 && lostAnswerActions.has(action) && faultRng() < lostAnswerRate);
      // The action took effect, but the client never learns its result: the case that leaks instances.
      if (lost) throw ec2Error('InternalError', MESSAGES.internal);
      return { status: 200, xml: responseXml(action, requestId, result), action, requestId };
    } catch (err) {
      if (err instanceof Ec2Error) return fail(err);
      log.error({ error: err, action }, 'ec2 emulator failed a request');
      return fail(ec2Error('InternalError', MESSAGES.internal));
    }
  };

  const onRequest = async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    let out: Answer;
    try {
      out = handle(raw, await readBody(raw));
    } catch (err) {
      log.error({ error: err }, 'ec2 emulator could not read a request');
      const requestId = randomUUID();
      out = { status: 500, xml: errorXml('InternalError', MESSAGES.internal, requestId), action: '', requestId };
    }
    log.debug({ action: out.action, status: out.status }, 'ec2 emulator request');
    // The headers a real EC2 endpoint sends (its answers carry the request id in a header too).
    res.writeHead(out.status, {
      'x-amzn-RequestId': out.requestId,
      'Cache-Control': 'no-cache, no-store',
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
      'Content-Type': 'text/xml;charset=UTF-8',
      'Content-Length': Buffer.byteLength(out.xml),
      Server: 'AmazonEC2',
    });
    res.end(out.xml);
  };

  const listening = await listenLoopback(opts.port, onRequest);
  base = listening.base;
  const ssh = await startSsh(opts, sandboxed, (ip) => instanceAt.get(ip), () => cloud.refresh(), log);
  farm = ssh.farm;
  log.info({ url: base, region, sshPort: farm?.port ?? 0, seed, ipBlock: `127.${ipA}.0.0/16` }, 'ec2 emulator listening');

  const close = closeOnce('ec2 emulator', log, listening.http, ssh);

  return {
    endpoint: base,
    url: base,
    region,
    accountId,
    credentials: keys[0],
    sshPort: farm?.port ?? 0,
    sshHostPublicKey: farm?.hostPublicKey ?? null,
    vpcId: cloud.vpcId,
    subnets: () => cloud.subnets.map((x) => ({ id: x.id, az: x.az, cidr: x.cidr })),
    securityGroups: () => cloud.securityGroups.map((g) => ({ id: g.id, name: g.name })),
    keyPairs: () => cloud.keyPairs.map((k) => ({ id: k.id, name: k.name, publicKey: k.publicKey })),
    calls: () => Object.fromEntries(counts),
    throttled: () => Object.fromEntries(throttledCounts),
    totalCalls: () => [...counts.values()].reduce((a, b) => a + b, 0),
    resetCalls: () => {
      counts.clear();
      throttledCounts.clear();
    },
    instances: () => {
      cloud.refresh();
      return [...cloud.instances.values()]
        .sort((a, b) => a.seq - b.seq)
        .map((i) => ({
          id: i.id,
          reservationId: i.reservationId,
          state: i.state,
          stateReason: i.stateReason?.code ?? null,
          imageId: i.imageId,
          instanceType: i.type.name,
          az: i.subnet.az,
          subnetId: i.subnet.id,
          privateIp: i.privateIp,
          publicIp: i.publicIp,
          tags: { ...i.tags },
          volumeTags: { ...i.volumeTags },
          keyName: i.keyName,
          spot: i.spot,
          clientToken: i.clientToken,
          launchTime: i.launchTime,
        }));
    },
    peakInstances: () => cloud.peakInstances,
    peakServers: () => cloud.peakInstances,
    images: () => {
      cloud.refresh();
      return [...cloud.images.values()].map((img) => ({
        id: img.id,
        name: img.name,
        state: img.state,
        ownerId: img.ownerId,
        tags: { ...img.tags },
        snapshotId: img.snapshotId,
        sourceInstanceId: img.sourceInstanceId,
        created: img.created,
      }));
    },
    snapshots: () => {
      cloud.refresh();
      return [...cloud.snapshots.values()].map((s) => ({ id: s.id, state: s.state, volumeId: s.volumeId, tags: { ...s.tags } }));
    },
    inject: (action, fault, times = 1) => {
      injections.push({ action, fault, left: times });
    },
    clearInjections: () => {
      injections.length = 0;
    },
    setPaginationFault: (fault) => {
      pagination = fault;
    },
    failLaunches: (on) => {
      cloud.failLaunches = on;
    },
    setLimits: (l) => {
      for (const k of ['vcpuLimit', 'spotVcpuLimit', 'instanceLimit'] as const) if (l[k] !== undefined) limits[k] = l[k];
    },
    setCapacity: (key, n) => {
      if (n === null) delete limits.capacity[key];
      else limits.capacity[key] = n;
    },
    setBootTimeMs: (ms) => {
      cloud.bootTimeMs = ms;
    },
    setTerminateTimeMs: (ms) => {
      cloud.terminateTimeMs = ms;
    },
    setImageTimeMs: (ms) => {
      cloud.imageTimeMs = ms;
    },
    setImageOutcome: (o) => {
      cloud.imageOutcome = o;
    },
    setConsistencyLagMs: (ms) => {
      cloud.consistencyLagMs = ms;
    },
    settleImage: (id, state) => {
      const img = cloud.images.get(id);
      if (!img || img.state !== 'pending') return;
      img.settlesAs = state;
      img.settlesAt = clock.now();
      cloud.refresh();
    },
    interruptSpot: (id) => {
      cloud.refresh();
      const i = cloud.instances.get(id);
      if (!i) throw new Error(`no instance ${id}`);
      if (!i.spot) throw new Error(`${id} is not a Spot instance`);
      cloud.terminate(i, { code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination' }, 'Service initiated');
    },
    sync: async () => {
      cloud.refresh();
      await farm?.ready();
    },
    close,
  };
}

/** SigV4's URI encoding: everything but unreserved characters, uppercase hex. */
function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
