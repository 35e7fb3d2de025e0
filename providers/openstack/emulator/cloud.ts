// The emulated cloud's state: flavors, images, servers and quota. Time-driven transitions
// (BUILD -> ACTIVE/ERROR, deletion, snapshot progress) are evaluated lazily from clock.now()
// in refresh(), so a ManualClock drives them without timers.
import type { Clock } from '../../../src/clock.js';
import type { EmulatorNetwork } from './neutron.js';
import { randomHex, randomUuid, type Rng } from '../../../src/prng.js';

export interface EmulatorFlavor {
  id: string;
  name: string;
  ramMb: number;
  vcpus: number;
  diskGb: number;
}

export interface EmulatorImageSeed {
  id?: string;
  name: string;
  /** Glance status; default "active". */
  status?: string;
  /** Custom properties (shown top-level in Glance, as metadata in Nova). */
  properties?: Record<string, string>;
  minRamMb?: number;
  minDiskGb?: number;
  visibility?: 'public' | 'private' | 'shared' | 'community';
  /**
   * Default false: the image belongs to an operator's project, so a user may boot it (if public)
   * but deleting it answers 403. true: the first user's project owns it and may delete it.
   */
  owned?: boolean;
}

export interface QuotaLimits {
  /** Maximum servers; -1 or null = unlimited. */
  instances?: number | null;
  cores?: number | null;
  ramMb?: number | null;
}

export type NovaStatus = 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED';

export type BrokenPagination = 'repeat-marker' | 'page-404' | 'page-503' | 'repeat-item' | null;

export interface ServerRec {
  id: string;
  name: string;
  imageId: string;
  flavor: EmulatorFlavor;
  metadata: Record<string, string>;
  az: string;
  keyName: string | null;
  configDrive: boolean;
  /** The network its address is on (Nova's `addresses` key); null: booted with `networks: none`. */
  networkName: string | null;
  userId: string;
  projectId: string;
  hostId: string;
  /** 127.A.B.C (where the emulated SSH daemon listens once ACTIVE), fd00:A::N on an IPv6-only network, null without a network. */
  ip: string | null;
  /** Created in `quotaRecheck: 'conductor'` mode: the quota is checked at boot (ERROR with fault 413 when over). */
  recheckQuota: boolean;
  /** Creation order (ties of `created` under a manual clock). */
  seq: number;
  mac: string;
  created: number;
  updated: number;
  bootAt: number;
  willError: boolean;
  status: NovaStatus;
  taskState: string | null;
  vmState: string;
  launchedAt: number | null;
  fault: { code: number; message: string; created: number } | null;
  /** When it disappears; null until DELETE. */
  goneAt: number | null;
}

export interface ImageRec {
  id: string;
  name: string;
  status: string;
  visibility: string;
  properties: Record<string, string>;
  minRamMb: number;
  minDiskGb: number;
  owner: string | null;
  size: number | null;
  created: number;
  updated: number;
  /** Snapshots: when they reach "saving" and "active". */
  savingAt: number | null;
  activeAt: number | null;
  /** When an injected upload error ends it in `killed` (Cloud.snapshotFault). */
  killAt?: number | null;
}

export const DEFAULT_FLAVORS: EmulatorFlavor[] = [
  { id: '1', name: 'm1.tiny', ramMb: 512, vcpus: 1, diskGb: 1 },
  { id: '2', name: 'm1.small', ramMb: 2048, vcpus: 1, diskGb: 20 },
  { id: '3', name: 'm1.medium', ramMb: 4096, vcpus: 2, diskGb: 40 },
  { id: '4', name: 'm1.large', ramMb: 8192, vcpus: 4, diskGb: 80 },
  { id: '5', name: 'm1.xlarge', ramMb: 16384, vcpus: 8, diskGb: 160 },
];

export const DEFAULT_IMAGES: EmulatorImageSeed[] = [{ name: 'ubuntu-jammy' }, { name: 'cirros-0.6.2-x86_64-disk' }];

/** Nova's stock per-project defaults. */
export const DEFAULT_QUOTA: Required<QuotaLimits> = { instances: 10, cores: 20, ramMb: 51200 };

const MAX_TOMBSTONES = 10000;

export const BUILD_FAULT = 'No valid host was found. There are not enough hosts available.';

export interface CloudEvents {
  /** A server reached ACTIVE (called once, from refresh()). */
  onActive(s: ServerRec): void;
  /** A server was deleted (called once, when DELETE is accepted). */
  onDeleted(s: ServerRec): void;
  /** A snapshot of a server was taken (Nova createImage). */
  onSnapshot?(s: ServerRec, img: ImageRec): void;
  /** An image was deleted (Glance DELETE). */
  onImageDeleted?(img: ImageRec): void;
}

export interface QuotaUsage {
  instances: number;
  cores: number;
  ramMb: number;
}

export class Cloud {
  readonly servers = new Map<string, ServerRec>();
  /** The most servers that existed at once (deleting ones included), for tests of max-servers. */
  peakServers = 0;
  /** Deleted servers, newest last: Nova still shows them to `changes-since` queries. */
  readonly deleted = new Map<string, ServerRec>();
  readonly images = new Map<string, ImageRec>();
  readonly flavors: EmulatorFlavor[];
  readonly networks: EmulatorNetwork[];
  quota: Required<QuotaLimits>;
  /**
   * Where Nova checks quota. 'api' (default): the create answers 403 (as for paced creates).
   * 'conductor': every create answers 202 and a server over the quota goes ERROR at boot with
   * fault 413 (as for a burst of creates, where the conductor's recheck catches it).
   */
  quotaRecheck: 'api' | 'conductor' = 'api';
  /**
   * An injected pagination fault for server, flavor and image lists: 'repeat-marker' makes a page
   * asked for with a marker link back to itself; 'page-404' / 'page-503' make it fail;
   * 'repeat-item' lists the previous page's last server again at the top of the next page, as
   * real Nova (Zed) did for servers created just before the list.
   */
  brokenPagination: BrokenPagination = null;
  /**
   * An injected fault for new snapshots: 'stuck' stays queued for ever (a stalled image upload),
   * 'killed' ends in Glance's `killed` state half-way (an upload error). Null: they go active.
   */
  snapshotFault: 'stuck' | 'killed' | null = null;
  bootTimeMs: number;
  errorRate: number;
  deleteTimeMs: number;
  imageTimeMs: number;
  private ipCounter = 0;
  private seq = 0;
  private readonly ipA: number;

  constructor(
    private readonly rng: Rng,
    private readonly clock: Clock,
    opts: {
      flavors: EmulatorFlavor[];
      images: EmulatorImageSeed[];
      networks: { id?: string; name: string; ipVersion?: 4 | 6 }[];
      quota: QuotaLimits;
      bootTimeMs: number;
      errorRate: number;
      deleteTimeMs: number;
      imageTimeMs: number;
      ipA: number;
      /** Owner of the start images... */
      operatorProject: string;
      /** ...except those seeded `owned: true`. */
      userProject: string | null;
    },
    readonly events: CloudEvents,
  ) {
    this.deleteTimeMs = opts.deleteTimeMs;
    this.imageTimeMs = opts.imageTimeMs;
    this.flavors = opts.flavors;
    this.networks = opts.networks.map((n) => ({ id: n.id ?? randomUuid(rng), name: n.name, ipVersion: n.ipVersion ?? 4 }));
    this.quota = { ...DEFAULT_QUOTA, ...stripUndefined(opts.quota) };
    this.bootTimeMs = opts.bootTimeMs;
    this.errorRate = opts.errorRate;
    this.ipA = opts.ipA;
    const now = clock.now();
    for (const seed of opts.images) this.addImage(seed, now).owner = seed.owned ? opts.userProject : opts.operatorProject;
  }

  addImage(seed: EmulatorImageSeed, now: number): ImageRec {
    const img: ImageRec = {
      id: seed.id ?? randomUuid(this.rng),
      name: seed.name,
      status: seed.status ?? 'active',
      visibility: seed.visibility ?? 'public',
      properties: { ...(seed.properties ?? {}) },
      minRamMb: seed.minRamMb ?? 0,
      minDiskGb: seed.minDiskGb ?? 0,
      owner: null,
      size: 1073741824,
      created: now,
      updated: now,
      savingAt: null,
      activeAt: null,
    };
    this.images.set(img.id, img);
    return img;
  }

  /** Applies every transition due by now. Cheap; called before each request and by a timer. */
  refresh(): void {
    const now = this.clock.now();
    for (const s of this.servers.values()) {
      if (s.goneAt !== null && now >= s.goneAt) {
        this.bury(s);
        continue;
      }
      if (s.status === 'BUILD' && now >= s.bootAt) {
        s.updated = s.bootAt;
        s.taskState = s.goneAt === null ? null : 'deleting';
        // Nova's conductor re-checks the quota after the API let the create through; what was
        // created before this server counts (ERROR ones too, as in Nova).
        const over = s.recheckQuota ? this.quotaProblem(s.projectId, s.flavor, (o) => o !== s && (o.created < s.created || (o.created === s.created && o.seq < s.seq))) : null;
        if (over !== null) {
          s.status = 'ERROR';
          s.vmState = 'error';
          s.fault = { code: 413, message: over, created: s.bootAt };
        } else if (s.willError) {
          s.status = 'ERROR';
          s.vmState = 'error';
          s.fault = { code: 500, message: BUILD_FAULT, created: s.bootAt };
        } else {
          s.status = 'ACTIVE';
          s.vmState = 'active';
          s.launchedAt = s.bootAt;
          if (s.goneAt === null) this.events.onActive(s);
        }
      }
    }
    for (const img of this.images.values()) {
      if (img.savingAt !== null && img.status === 'queued' && now >= img.savingAt) {
        img.status = 'saving';
        img.updated = img.savingAt;
      }
      if (img.killAt != null && img.status === 'saving' && now >= img.killAt) {
        img.status = 'killed';
        img.updated = img.killAt;
      }
      if (img.activeAt !== null && img.status === 'saving' && now >= img.activeAt) {
        img.status = 'active';
        img.updated = img.activeAt;
      }
    }
  }

  /** Everything a project holds counts, servers in ERROR or being deleted included (as in Nova). */
  usage(projectId: string, only: (s: ServerRec) => boolean = () => true): QuotaUsage {
    const u = { instances: 0, cores: 0, ramMb: 0 };
    for (const s of this.servers.values()) {
      if (s.projectId !== projectId || !only(s)) continue;
      u.instances += 1;
      u.cores += s.flavor.vcpus;
      u.ramMb += s.flavor.ramMb;
    }
    return u;
  }

  /** Nova's TooManyInstances text, or null when the request fits. */
  quotaProblem(projectId: string, flavor: EmulatorFlavor, only?: (s: ServerRec) => boolean): string | null {
    const used = this.usage(projectId, only);
    const rows: { name: string; req: number; used: number; max: number }[] = [
      { name: 'cores', req: flavor.vcpus, used: used.cores, max: this.quota.cores ?? -1 },
      { name: 'instances', req: 1, used: used.instances, max: this.quota.instances ?? -1 },
      { name: 'ram', req: flavor.ramMb, used: used.ramMb, max: this.quota.ramMb ?? -1 },
    ];
    const overs = rows.filter((r) => r.max >= 0 && r.used + r.req > r.max);
    if (overs.length === 0) return null;
    const names = overs.map((r) => r.name).join(', ');
    const join = (f: (r: (typeof rows)[number]) => number) => overs.map(f).join(', ');
    return (
      `Quota exceeded for ${names}: Requested ${join((r) => r.req)}, ` +
      `but already used ${join((r) => r.used)} of ${join((r) => r.max)} ${names}`
    );
  }

  createServer(
    input: Pick<ServerRec, 'name' | 'imageId' | 'flavor' | 'metadata' | 'az' | 'keyName' | 'configDrive' | 'networkName' | 'userId' | 'projectId'> & {
      recheckQuota?: boolean;
    },
  ): ServerRec {
    const now = this.clock.now();
    const net = input.networkName === null ? undefined : this.networks.find((n) => n.name === input.networkName);
    const s: ServerRec = {
      ...input,
      recheckQuota: input.recheckQuota ?? false,
      seq: this.seq++,
      id: randomUuid(this.rng),
      hostId: randomHex(this.rng, 56),
      ip: input.networkName === null ? null : this.nextIp(net?.ipVersion ?? 4),
      mac: `fa:16:3e:${randomHex(this.rng, 6).replace(/(..)(..)(..)/, '$1:$2:$3')}`,
      created: now,
      updated: now,
      bootAt: now + this.bootTimeMs,
      willError: this.rng() < this.errorRate,
      status: 'BUILD',
      taskState: 'spawning',
      vmState: 'building',
      launchedAt: null,
      fault: null,
      goneAt: null,
    };
    this.servers.set(s.id, s);
    this.peakServers = Math.max(this.peakServers, this.servers.size);
    return s;
  }

  deleteServer(s: ServerRec): void {
    if (s.goneAt !== null) return;
    const now = this.clock.now();
    s.goneAt = now + this.deleteTimeMs;
    s.taskState = 'deleting';
    s.updated = now;
    this.events.onDeleted(s);
    if (this.deleteTimeMs <= 0) this.bury(s);
  }

  private bury(s: ServerRec): void {
    this.servers.delete(s.id);
    s.status = 'DELETED';
    s.vmState = 'deleted';
    s.taskState = null;
    s.updated = s.goneAt ?? this.clock.now();
    this.deleted.set(s.id, s);
    // Bounded: a long benchmark must not grow memory without end.
    if (this.deleted.size > MAX_TOMBSTONES) this.deleted.delete(this.deleted.keys().next().value as string);
  }

  snapshot(s: ServerRec, name: string, metadata: Record<string, string>): ImageRec {
    const now = this.clock.now();
    const base = this.images.get(s.imageId);
    const img = this.addImage({ name, status: 'queued', visibility: 'private' }, now);
    img.properties = {
      ...metadata,
      image_type: 'snapshot',
      instance_uuid: s.id,
      base_image_ref: s.imageId,
      user_id: s.userId,
      owner_project_name: '',
      ...(base ? { image_location: 'snapshot' } : {}),
    };
    img.owner = s.projectId;
    img.size = null;
    img.minRamMb = base?.minRamMb ?? 0;
    img.minDiskGb = s.flavor.diskGb;
    img.savingAt = this.snapshotFault === 'stuck' ? null : now + Math.floor(this.imageTimeMs / 2);
    img.activeAt = this.snapshotFault === null ? now + this.imageTimeMs : null;
    img.killAt = this.snapshotFault === 'killed' ? now + this.imageTimeMs : null;
    this.events.onSnapshot?.(s, img);
    return img;
  }

  private nextIp(version: 4 | 6): string {
    const n = this.ipCounter++;
    if (version === 6) return `fd00:${this.ipA.toString(16)}::${(n + 1).toString(16)}`;
    const c = (n % 254) + 1;
    const b = Math.floor(n / 254) % 256;
    return `127.${this.ipA}.${b}.${c}`;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
