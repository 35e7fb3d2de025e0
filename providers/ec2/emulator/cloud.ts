// The emulated EC2 account's state: instances, AMIs, snapshots, subnets, key pairs, limits.
// Time-driven transitions (pending -> running, shutting-down -> terminated -> gone, AMI and
// snapshot progress) are evaluated lazily from clock.now() in refresh(), so a ManualClock
// drives them without timers.
import type { Clock } from '../../../src/clock.js';
import { randomHex, type Rng } from '../../../src/prng.js';

export type InstanceStateName = 'pending' | 'running' | 'shutting-down' | 'terminated';

/** EC2's instance state codes (API reference, InstanceState). */
export const STATE_CODES: Record<InstanceStateName, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 };

export interface Ec2InstanceType {
  name: string;
  vcpus: number;
  memoryMiB: number;
}

export const DEFAULT_INSTANCE_TYPES: Ec2InstanceType[] = [
  { name: 't3.micro', vcpus: 2, memoryMiB: 1024 },
  { name: 't3.small', vcpus: 2, memoryMiB: 2048 },
  { name: 't3.medium', vcpus: 2, memoryMiB: 4096 },
  { name: 't3.large', vcpus: 2, memoryMiB: 8192 },
  { name: 'm5.large', vcpus: 2, memoryMiB: 8192 },
  { name: 'm5.xlarge', vcpus: 4, memoryMiB: 16384 },
  { name: 'm5.2xlarge', vcpus: 8, memoryMiB: 32768 },
  { name: 'c5.xlarge', vcpus: 4, memoryMiB: 8192 },
];

export interface Ec2ImageSeed {
  id?: string;
  name: string;
  /** Default "available". */
  state?: 'pending' | 'available' | 'failed';
  /** Default false: a public image of Amazon's (owner alias "amazon"); true: the account's own. */
  owned?: boolean;
  tags?: Record<string, string>;
  description?: string;
}

export const DEFAULT_IMAGES: Ec2ImageSeed[] = [
  { name: 'debian-12-amd64-20261101-1920', description: 'Debian 12 (20261101-1920)' },
  { name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261105', description: 'Canonical, Ubuntu, 24.04, amd64 noble image' },
];

/** What becomes of an AMI created by CreateImage. */
export type ImageOutcome = 'available' | 'stuck-pending' | 'failed';

export interface StateReason {
  code: string;
  message: string;
}

export interface SubnetRec {
  id: string;
  vpcId: string;
  az: string;
  azId: string;
  cidr: string;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  tags: Record<string, string>;
}

export interface KeyPairRec {
  id: string;
  name: string;
  fingerprint: string;
  type: 'rsa' | 'ed25519';
  created: number;
  tags: Record<string, string>;
  /** The OpenSSH public key line, for imported keys. */
  publicKey: string | null;
}

export interface SecurityGroupRec {
  id: string;
  name: string;
  description: string;
  vpcId: string;
  tags: Record<string, string>;
}

export interface InstanceRec {
  id: string;
  reservationId: string;
  imageId: string;
  type: Ec2InstanceType;
  keyName: string | null;
  subnet: SubnetRec;
  securityGroupIds: string[];
  tags: Record<string, string>;
  volumeId: string;
  volumeTags: Record<string, string>;
  clientToken: string | null;
  privateIp: string;
  publicIp: string | null;
  eniId: string;
  mac: string;
  amiLaunchIndex: number;
  /** Launch order (ties of launchTime under a manual clock). */
  seq: number;
  launchTime: number;
  runningAt: number;
  state: InstanceStateName;
  stateReason: StateReason | null;
  stateTransitionReason: string;
  spot: boolean;
  spotRequestId: string | null;
  /** When shutting-down ends (terminated); null until terminated. */
  terminatedAt: number | null;
  /** When a terminated instance stops being listed. */
  goneAt: number | null;
  /** The launch fails: pending -> terminated (Server.InternalError) at runningAt, never running. */
  failsLaunch: boolean;
}

export interface ImageRec {
  id: string;
  name: string;
  description: string;
  ownerId: string;
  ownerAlias: string | null;
  isPublic: boolean;
  state: 'pending' | 'available' | 'failed';
  stateReason: StateReason | null;
  created: number;
  /** When a pending image settles; null: never (stuck). */
  settlesAt: number | null;
  settlesAs: 'available' | 'failed';
  tags: Record<string, string>;
  snapshotId: string | null;
  sourceInstanceId: string | null;
  volumeSizeGb: number;
}

export interface SnapshotRec {
  id: string;
  volumeId: string;
  ownerId: string;
  state: 'pending' | 'completed' | 'error';
  started: number;
  completesAt: number;
  description: string;
  sizeGb: number;
  tags: Record<string, string>;
}

export interface CloudEvents {
  /** An instance reached running (called once, from refresh()). */
  onRunning(i: InstanceRec): void;
  /** An instance began shutting down (TerminateInstances or a spot interruption). */
  onStopping(i: InstanceRec): void;
  onImageCreated?(i: InstanceRec, img: ImageRec): void;
  onImageDeregistered?(img: ImageRec): void;
}

const AMAZON_OWNER = '137112412989';

/** The state reason of a launch that failed (EC2's "Server.InternalError: Internal error on launch"). */
export const LAUNCH_FAILURE: StateReason = { code: 'Server.InternalError', message: 'Server.InternalError: Internal error on launch' };

export class Cloud {
  readonly instances = new Map<string, InstanceRec>();
  readonly images = new Map<string, ImageRec>();
  readonly snapshots = new Map<string, SnapshotRec>();
  readonly subnets: SubnetRec[];
  readonly keyPairs: KeyPairRec[];
  readonly instanceTypes: Ec2InstanceType[];
  readonly vpcId: string;
  readonly defaultSecurityGroup: string;
  readonly securityGroups: SecurityGroupRec[];
  /** Instances not yet terminated, at most, since the start (for max-servers tests). */
  peakInstances = 0;
  bootTimeMs: number;
  terminateTimeMs: number;
  terminatedVisibleMs: number;
  imageTimeMs: number;
  imageOutcome: ImageOutcome = 'available';
  /** New instances fail to launch (pending -> terminated with Server.InternalError) while set. */
  failLaunches = false;
  /** Status checks stay "initializing" this long after an instance is running. */
  statusChecksMs = 0;
  /**
   * EC2's eventual consistency: a new instance or AMI is missing from Describe calls (and
   * CreateTags) for this long after it was made, so reads right after a write may answer NotFound.
   */
  consistencyLagMs = 0;
  private seq = 0;
  private ipCounter = 0;

  constructor(
    private readonly rng: Rng,
    private readonly clock: Clock,
    readonly accountId: string,
    readonly region: string,
    opts: {
      zones: string[];
      instanceTypes: Ec2InstanceType[];
      images: Ec2ImageSeed[];
      keyPairs: string[];
      /** Security groups besides the default one: ids (sg-...) or names (ids then generated). */
      securityGroups: string[];
      bootTimeMs: number;
      terminateTimeMs: number;
      terminatedVisibleMs: number;
      imageTimeMs: number;
      /** First octet after 127 of the private addresses; public ones use the next. */
      ipA: number;
    },
    readonly events: CloudEvents,
  ) {
    this.instanceTypes = opts.instanceTypes;
    this.bootTimeMs = opts.bootTimeMs;
    this.terminateTimeMs = opts.terminateTimeMs;
    this.terminatedVisibleMs = opts.terminatedVisibleMs;
    this.imageTimeMs = opts.imageTimeMs;
    this.ipA = opts.ipA;
    const now = clock.now();
    this.vpcId = this.newId('vpc');
    this.defaultSecurityGroup = this.newId('sg');
    this.securityGroups = [
      { id: this.defaultSecurityGroup, name: 'default', description: 'default VPC security group', vpcId: this.vpcId, tags: {} },
      // An entry shaped like a group id is that id (named after it); any other is a name.
      ...opts.securityGroups.map((g) => ({ id: /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/.test(g) ? g : this.newId('sg'), name: g, description: g, vpcId: this.vpcId, tags: {} })),
    ];
    // A default VPC with one default subnet per zone, as every account has.
    this.subnets = opts.zones.map((az, i) => ({
      id: this.newId('subnet'),
      vpcId: this.vpcId,
      az,
      azId: `${regionShort(region)}-az${i + 1}`,
      cidr: `172.31.${i * 16}.0/20`,
      defaultForAz: true,
      mapPublicIpOnLaunch: true,
      tags: {},
    }));
    this.keyPairs = opts.keyPairs.map((name) => ({
      id: this.newId('key'),
      name,
      fingerprint: randomHex(rng, 40).replace(/(..)(?!$)/g, '$1:'),
      type: 'ed25519' as const,
      created: now,
      tags: {},
      publicKey: null,
    }));
    for (const seed of opts.images) this.seedImage(seed, now);
  }

  private readonly ipA: number;

  /** A seeded id of EC2's long form: prefix, dash, 17 hex digits. */
  newId(prefix: string): string {
    return `${prefix}-${randomHex(this.rng, 17)}`;
  }

  seedImage(seed: Ec2ImageSeed, now: number): ImageRec {
    const state = seed.state ?? 'available';
    const img: ImageRec = {
      id: seed.id ?? this.newId('ami'),
      name: seed.name,
      description: seed.description ?? '',
      ownerId: seed.owned ? this.accountId : AMAZON_OWNER,
      ownerAlias: seed.owned ? null : 'amazon',
      isPublic: !seed.owned,
      state,
      stateReason: state === 'failed' ? { code: 'Server.InternalError', message: 'Server.InternalError: Internal error' } : null,
      created: now,
      settlesAt: null,
      settlesAs: 'available',
      tags: { ...(seed.tags ?? {}) },
      snapshotId: null,
      sourceInstanceId: null,
      volumeSizeGb: 8,
    };
    if (seed.owned) {
      const snap = this.addSnapshot(this.newId('vol'), `Seeded image ${img.id}`, 8, 'completed', now);
      img.snapshotId = snap.id;
    }
    this.images.set(img.id, img);
    return img;
  }

  /** Applies every transition due by now. Cheap; called before each request and by a timer. */
  refresh(): void {
    const now = this.clock.now();
    for (const i of this.instances.values()) {
      if (i.state === 'pending' && now >= i.runningAt && i.failsLaunch) {
        // A launch EC2 could not complete: straight from pending to terminated, with the reason.
        i.state = 'terminated';
        i.stateReason = { ...LAUNCH_FAILURE };
        i.stateTransitionReason = `Server.InternalError (${gmt(i.runningAt)})`;
        i.terminatedAt = i.runningAt;
        i.goneAt = i.runningAt + this.terminatedVisibleMs;
        i.publicIp = null;
      }
      if (i.state === 'pending' && now >= i.runningAt) {
        i.state = 'running';
        i.stateReason = null;
        this.events.onRunning(i);
      }
      if (i.state === 'shutting-down' && i.terminatedAt !== null && now >= i.terminatedAt) {
        i.state = 'terminated';
        i.goneAt = i.terminatedAt + this.terminatedVisibleMs;
        i.publicIp = null;
      }
      if (i.state === 'terminated' && i.goneAt !== null && now >= i.goneAt) this.instances.delete(i.id);
    }
    for (const img of this.images.values()) {
      if (img.state === 'pending' && img.settlesAt !== null && now >= img.settlesAt) {
        img.state = img.settlesAs;
        if (img.state === 'failed') img.stateReason = { code: 'Server.InternalError', message: 'Server.InternalError: Internal error' };
      }
    }
    for (const s of this.snapshots.values()) {
      if (s.state === 'pending' && now >= s.completesAt) s.state = 'completed';
    }
  }

  /** An instance as reads see it (undefined while the consistency lag hides it). */
  seenInstance(id: string): InstanceRec | undefined {
    const i = this.instances.get(id);
    return i && this.clock.now() >= i.launchTime + this.consistencyLagMs ? i : undefined;
  }

  seenInstances(): InstanceRec[] {
    const now = this.clock.now();
    return [...this.instances.values()].filter((i) => now >= i.launchTime + this.consistencyLagMs);
  }

  /** An AMI as reads see it: seeded ones always, CreateImage's after the lag. */
  seenImage(id: string): ImageRec | undefined {
    const img = this.images.get(id);
    return img && this.imageSeen(img, this.clock.now()) ? img : undefined;
  }

  seenImages(): ImageRec[] {
    const now = this.clock.now();
    return [...this.images.values()].filter((img) => this.imageSeen(img, now));
  }

  private imageSeen(img: ImageRec, now: number): boolean {
    return img.sourceInstanceId === null || now >= img.created + this.consistencyLagMs;
  }

  /** Instances that hold capacity: everything not yet terminated. */
  live(): InstanceRec[] {
    return [...this.instances.values()].filter((i) => i.state !== 'terminated');
  }

  usedVcpus(spot: boolean): number {
    return this.live()
      .filter((i) => i.spot === spot)
      .reduce((n, i) => n + i.type.vcpus, 0);
  }

  launch(
    input: Pick<InstanceRec, 'reservationId' | 'imageId' | 'type' | 'keyName' | 'subnet' | 'securityGroupIds' | 'tags' | 'volumeTags' | 'clientToken' | 'spot' | 'amiLaunchIndex'> & {
      /** Whether the instance gets a public address. */
      publicIp: boolean;
    },
  ): InstanceRec {
    const now = this.clock.now();
    const n = this.ipCounter++;
    const b = Math.floor(n / 254) % 256;
    const c = (n % 254) + 1;
    const i: InstanceRec = {
      id: this.newId('i'),
      reservationId: input.reservationId,
      imageId: input.imageId,
      type: input.type,
      keyName: input.keyName,
      subnet: input.subnet,
      securityGroupIds: input.securityGroupIds.length > 0 ? input.securityGroupIds : [this.defaultSecurityGroup],
      tags: { ...input.tags },
      volumeId: this.newId('vol'),
      volumeTags: { ...input.volumeTags },
      clientToken: input.clientToken,
      privateIp: `127.${this.ipA}.${b}.${c}`,
      publicIp: input.publicIp ? `127.${this.ipA + 1}.${b}.${c}` : null,
      eniId: this.newId('eni'),
      mac: `0e:${randomHex(this.rng, 10).replace(/(..)(?!$)/g, '$1:')}`,
      amiLaunchIndex: input.amiLaunchIndex,
      seq: this.seq++,
      launchTime: now,
      runningAt: now + this.bootTimeMs,
      state: 'pending',
      stateReason: { code: 'pending', message: 'pending' },
      stateTransitionReason: '',
      spot: input.spot,
      spotRequestId: input.spot ? `sir-${randomHex(this.rng, 8)}` : null,
      terminatedAt: null,
      goneAt: null,
      failsLaunch: this.failLaunches,
    };
    this.instances.set(i.id, i);
    this.peakInstances = Math.max(this.peakInstances, this.live().length);
    return i;
  }

  /** Starts shutting an instance down; returns its state before. */
  terminate(i: InstanceRec, reason: StateReason, transition: string): InstanceStateName {
    const before = i.state;
    if (before === 'terminated' || before === 'shutting-down') return before;
    const now = this.clock.now();
    i.state = 'shutting-down';
    i.stateReason = reason;
    i.stateTransitionReason = `${transition} (${gmt(now)})`;
    i.terminatedAt = now + this.terminateTimeMs;
    this.events.onStopping(i);
    if (this.terminateTimeMs <= 0) this.refresh();
    return before;
  }

  createImage(i: InstanceRec, name: string, description: string, imageTags: Record<string, string>, snapshotTags: Record<string, string>): ImageRec {
    const now = this.clock.now();
    const img: ImageRec = {
      id: this.newId('ami'),
      name,
      description,
      ownerId: this.accountId,
      ownerAlias: null,
      isPublic: false,
      state: 'pending',
      stateReason: null,
      created: now,
      settlesAt: this.imageOutcome === 'stuck-pending' ? null : now + this.imageTimeMs,
      settlesAs: this.imageOutcome === 'failed' ? 'failed' : 'available',
      tags: { ...imageTags },
      snapshotId: null,
      sourceInstanceId: i.id,
      volumeSizeGb: 8,
    };
    const snap = this.addSnapshot(i.volumeId, `Created by CreateImage(${i.id}) for ${img.id}`, 8, 'pending', now);
    snap.tags = { ...snapshotTags };
    img.snapshotId = snap.id;
    this.images.set(img.id, img);
    this.events.onImageCreated?.(i, img);
    return img;
  }

  deregister(img: ImageRec): void {
    this.images.delete(img.id);
    this.events.onImageDeregistered?.(img);
  }

  private addSnapshot(volumeId: string, description: string, sizeGb: number, state: SnapshotRec['state'], now: number): SnapshotRec {
    const s: SnapshotRec = {
      id: this.newId('snap'),
      volumeId,
      ownerId: this.accountId,
      state,
      started: now,
      completesAt: now + this.imageTimeMs,
      description,
      sizeGb,
      tags: {},
    };
    this.snapshots.set(s.id, s);
    return s;
  }
}

/** us-east-1 -> use1, eu-west-2 -> euw2 (the zone-id prefix). */
export function regionShort(region: string): string {
  const [geo, dir, n] = region.split('-');
  return `${geo}${(dir ?? '').replace(/(north|south|east|west|central)/g, (d) => d[0])}${n ?? ''}`;
}

/** "2026-12-02 00:38:00 GMT", as EC2 writes the time into StateTransitionReason. */
export function gmt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} GMT`;
}
