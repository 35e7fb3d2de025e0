// The EC2 ProviderDriver over @aws-sdk/client-ec2. Thin on purpose: one SDK call (with its
// pages) per method, EC2's records mapped by mapping.ts, its errors by errors.ts. Retries are
// ManagedProvider's (the SDK's own are off) and pacing follows the buckets of limits.ts.
import { randomUUID } from 'node:crypto';
import {
  CreateImageCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeAccountAttributesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
  type AccountAttributeName,
  type Filter,
  type Image,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { systemClock, type Clock } from '../../src/clock.js';
import type { ProviderConfig } from '../../src/config.js';
import { AuthError, CloudServerError, ConfigError, IncompleteListError, NotFoundError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { META_OWNER, OWNER } from '../../src/model.js';
import type { AddressPolicy } from '../address.js';
import type { CloudImage, CloudServer, CreateServerRequest, Flavor, ImageArtifact, ProviderDriver, Quota } from '../provider.js';
import { Batcher } from './batcher.js';
import { mapEc2Error } from './errors.js';
import { RecentWrites } from './recent.js';
import { ec2RateLimits } from './limits.js';
import { imageSnapshotIds, isAmiId, isTerminated, launchFailed, metadataToTags, toCloudImage, toCloudServer, toFlavor, toImageArtifact } from './mapping.js';

export interface Ec2DriverOptions {
  clock?: Clock;
  log?: Logger;
  /** MaxResults per page of DescribeInstances and DescribeImages (EC2 allows 5..1000; default 1000). */
  pageSize?: number;
  /** Whole-request timeout. Default 30 s. */
  timeoutMs?: number;
  /** A client to use instead of one built from the config (tests). */
  client?: EC2Client;
}

/** Instance states that count against the account's limits (terminated and stopped ones do not). */
const LIVE_STATES = ['pending', 'running', 'shutting-down', 'stopping'];
/** How long a resource we made may stay invisible to reads (EC2's eventual consistency) before it counts as never made. */
const CONSISTENCY_WINDOW_MS = 2 * 60_000;
/** State reasons of a termination we did not ask for (spot interruption, a failed launch), logged once each. */
const USER_SHUTDOWN = new Set(['Client.UserInitiatedShutdown']);

/** Whether a snapshot's description says CreateImage made it for this AMI ("... for ami-X" or "... for ami-X from vol-Y"). */
export function madeFor(description: string | undefined, imageId: string): boolean {
  const d = description ?? '';
  return d.endsWith(`for ${imageId}`) || d.includes(`for ${imageId} from `);
}

export function createEc2Driver(cfg: ProviderConfig, opts: Ec2DriverOptions = {}): ProviderDriver {
  const region = cfg['region-name'];
  if (!region && !opts.client) throw new ConfigError([`providers.${cfg.name}.region-name: required for the ec2 driver`]);
  const clock = opts.clock ?? systemClock;
  const log = (opts.log ?? silentLogger).child({ provider: cfg.name, driver: 'ec2' });
  const pageSize = Math.min(1000, Math.max(5, opts.pageSize ?? 1000));
  const keyId = cfg['access-key-id'];
  const secret = cfg['secret-access-key'];
  const client =
    opts.client ??
    new EC2Client({
      region,
      endpoint: cfg.endpoint,
      // Absent: the SDK's default chain (environment, shared config, SSO, instance or task role).
      credentials: keyId && secret ? { accessKeyId: keyId, secretAccessKey: secret } : undefined,
      // ManagedProvider owns retries and backoff; SDK retries would multiply them and hide throttling.
      maxAttempts: 1,
      requestHandler: { requestTimeout: opts.timeoutMs ?? 30_000, connectionTimeout: 5_000 },
    });
  const policy: AddressPolicy = { ipv6Preferred: cfg['ipv6-preferred'], usePrivate: cfg['use-private-address'] };
  const ownerFilter: Filter = { Name: `tag:${META_OWNER}`, Values: [OWNER] };
  const now = () => clock.now();
  const flavorsByType = new Map<string, Flavor>();
  const reportedTerminations = new Set<string>();
  /** Failed launches we have deleted: from then on gone, as any terminated instance (EC2 keeps describing them). */
  const dismissed = new Set<string>();
  /** Listed: not terminated, or a failed launch not yet deleted (an `error` server). */
  const shown = (i: Instance) => !isTerminated(i) || (launchFailed(i) && !dismissed.has(i.InstanceId ?? ''));
  // Only what a tag-filtered read would show is remembered: the rest is never listed anyway.
  const recentServers = new RecentWrites<CloudServer>(CONSISTENCY_WINDOW_MS, now);
  const recentImages = new RecentWrites<CloudImage>(CONSISTENCY_WINDOW_MS, now);
  const listable = (metadata: Record<string, string>) => metadata[META_OWNER] === OWNER;
  /** EC2 has not shown this resource we just made yet: retry later rather than take it as gone. */
  const notYetVisible = (kind: string, id: string, err: unknown) =>
    new CloudServerError(`EC2: ${kind} ${id} is not visible to reads yet (eventual consistency); retry`, 503, { cause: err });
  let nextSubnet = 0;
  /** The subnet each create's client token went out with (bounded), so its retries repeat it. */
  const subnetOfToken = new Map<string, string>();
  let closed: Promise<void> | null = null;

  async function send<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapEc2Error(err, action);
    }
  }

  /** Every page of a paginated describe. A page after the first that fails, or a token that repeats, makes the whole list an IncompleteListError. */
  async function allPages<P, I>(action: string, page: (token: string | undefined) => Promise<P>, items: (p: P) => I[], next: (p: P) => string | undefined): Promise<I[]> {
    const out: I[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    for (let n = 0; ; n++) {
      let answer: P;
      try {
        answer = await send(action, () => page(token));
      } catch (err) {
        if (n === 0) throw err;
        throw new IncompleteListError(`EC2 ${action}: page ${n + 1} failed: ${(err as Error).message}`, undefined, { cause: err });
      }
      out.push(...items(answer));
      token = next(answer) || undefined;
      if (!token) return out;
      if (seen.has(token)) throw new IncompleteListError(`EC2 ${action}: NextToken repeated after ${n + 1} pages`);
      seen.add(token);
    }
  }

  async function describeInstances(filters: Filter[]): Promise<Instance[]> {
    const instances = await allPages(
      'DescribeInstances',
      (NextToken) => client.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: pageSize, NextToken })),
      (p) => (p.Reservations ?? []).flatMap((r) => r.Instances ?? []),
      (p) => p.NextToken,
    );
    // One instance on two pages (a list taken while instances come and go) is listed once.
    return [...new Map(instances.map((i) => [i.InstanceId, i])).values()];
  }

  function noteTerminations(instances: Instance[]): void {
    const listed = new Set<string>();
    for (const i of instances) {
      if (!isTerminated(i) || !i.InstanceId) continue;
      listed.add(i.InstanceId);
      const code = i.StateReason?.Code;
      if (code && !USER_SHUTDOWN.has(code) && !reportedTerminations.has(i.InstanceId)) {
        reportedTerminations.add(i.InstanceId);
        log.info({ server: i.InstanceId, reason: code, message: i.StateReason?.Message }, 'instance terminated by EC2');
      }
    }
    for (const id of reportedTerminations) if (!listed.has(id)) reportedTerminations.delete(id);
    for (const id of dismissed) if (!listed.has(id)) dismissed.delete(id);
  }

  /** Sizes of these instance types, from the list cache or one DescribeInstanceTypes. */
  async function sizes(types: string[]): Promise<Map<string, Flavor>> {
    const missing = [...new Set(types)].filter((t) => !flavorsByType.has(t));
    if (missing.length > 0) {
      const answer = await send('DescribeInstanceTypes', () => client.send(new DescribeInstanceTypesCommand({ InstanceTypes: missing as _InstanceType[] })));
      for (const t of answer.InstanceTypes ?? []) {
        const f = toFlavor(t);
        if (f) flavorsByType.set(f.id, f);
      }
    }
    return flavorsByType;
  }

  /**
   * The account's max-instances attribute; null when we may not read it (the limit is then
   * unknown). AWS documents it as no longer tracking the vCPU-based On-Demand limit (that one is in
   * Service Quotas); VcpuLimitExceeded answers shrink the estimate instead. The SDK's model lists
   * only two attribute names; EC2 takes this one too.
   */
  async function maxInstances(): Promise<number | null> {
    try {
      const answer = await send('DescribeAccountAttributes', () => client.send(new DescribeAccountAttributesCommand({ AttributeNames: ['max-instances' as AccountAttributeName] })));
      const raw = answer.AccountAttributes?.find((a) => a.AttributeName === 'max-instances')?.AttributeValues?.[0]?.AttributeValue;
      const n = raw === undefined ? NaN : Number(raw);
      return Number.isFinite(n) && n >= 0 ? n : null;
    } catch (err) {
      if (err instanceof AuthError) {
        log.debug({ err }, 'cannot read the account attribute max-instances; treating the instance limit as unknown');
        return null;
      }
      throw err;
    }
  }

  /**
   * Our snapshots CreateImage made for this AMI. EC2 describes them "Created by CreateImage(i-...)
   * for ami-..." or, for some volumes, "... for ami-... from vol-...": both are matched.
   */
  async function snapshotsLeftBy(imageId: string): Promise<string[]> {
    const answer = await send('DescribeSnapshots', () =>
      client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [ownerFilter, { Name: 'description', Values: [`*for ${imageId}`, `*for ${imageId} from *`] }] })),
    );
    return (answer.Snapshots ?? []).map((s) => s.SnapshotId).filter((s): s is string => !!s);
  }

  async function describeImage(id: string): Promise<Image> {
    const answer = await send('DescribeImages', () => client.send(new DescribeImagesCommand({ ImageIds: [id] })));
    const img = answer.Images?.find((i) => i.ImageId === id);
    if (!img || img.State === 'deregistered') throw new NotFoundError(`EC2 DescribeImages: InvalidAMIID.NotFound: image ${id} does not exist`, 404);
    recentImages.seen([id]);
    return img;
  }

  // Deletes that arrive together go out as one TerminateInstances.
  const terminations = new Batcher<string>(async (ids) => {
    try {
      await send('TerminateInstances', () => client.send(new TerminateInstancesCommand({ InstanceIds: ids })));
      return ids.map(() => null);
    } catch (err) {
      // EC2 refuses the whole call when one id is unknown: retry each on its own to say which.
      if (ids.length > 1 && err instanceof NotFoundError) {
        return Promise.all(
          ids.map((id) =>
            send('TerminateInstances', () => client.send(new TerminateInstancesCommand({ InstanceIds: [id] }))).then(
              () => null,
              (e: unknown) => e,
            ),
          ),
        );
      }
      return ids.map(() => err);
    }
  });

  return {
    name: cfg.name,
    rateLimits: ec2RateLimits(cfg['rate-limits']),

    async createServer(req: CreateServerRequest): Promise<CloudServer> {
      const subnets = cfg.subnets;
      const clientToken = req.clientToken ?? randomUUID();
      // A retry of this create (same client token) must name the same subnet: EC2 answers
      // IdempotentParameterMismatch, not the first instance, to a token repeated with other parameters.
      let subnet = subnetOfToken.get(clientToken);
      if (subnet === undefined && subnets.length > 0) {
        subnet = subnets[nextSubnet++ % subnets.length];
        if (subnetOfToken.size >= 1000) subnetOfToken.clear();
        subnetOfToken.set(clientToken, subnet);
      }
      const groups = cfg['security-groups'];
      const tags = metadataToTags(req.metadata, req.name);
      const input: RunInstancesCommandInput = {
        ImageId: req.imageId,
        InstanceType: req.flavorId as _InstanceType,
        // One instance per call: every instance carries its own node's name and id from its first
        // moment, which TagSpecifications can only do per call (see docs/architecture.md).
        MinCount: 1,
        MaxCount: 1,
        // Stable across ManagedProvider's retries of this create: a lost answer never makes a second instance.
        ClientToken: clientToken,
        KeyName: req.keyName ?? cfg.keypair,
        TagSpecifications: [
          { ResourceType: 'instance', Tags: tags },
          { ResourceType: 'volume', Tags: tags },
        ],
      };
      if (subnet) {
        // The subnet fixes the AZ; the interface form lets us ask for a public address or not.
        input.NetworkInterfaces = [
          { DeviceIndex: 0, SubnetId: subnet, Groups: groups.length ? groups : undefined, AssociatePublicIpAddress: !cfg['use-private-address'] },
        ];
      } else {
        if (groups.length) input.SecurityGroupIds = groups;
        if (req.az) input.Placement = { AvailabilityZone: req.az };
      }
      if (cfg.market === 'spot') {
        input.InstanceMarketOptions = { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } };
      }
      const answer = await send('RunInstances', () => client.send(new RunInstancesCommand(input)));
      subnetOfToken.delete(clientToken);
      const instance = answer.Instances?.[0];
      if (!instance?.InstanceId) throw new CloudServerError('EC2 RunInstances: the answer names no instance');
      log.debug({ server: instance.InstanceId, name: req.name, subnet, type: req.flavorId }, 'instance launched');
      const mapped = toCloudServer(instance, policy, now);
      // The answer has our tags; fill them in if an EC2-compatible cloud leaves them out.
      const server = { ...mapped, name: mapped.name || req.name, metadata: Object.keys(mapped.metadata).length ? mapped.metadata : { ...req.metadata } };
      if (listable(server.metadata)) recentServers.add(server.id, server);
      return server;
    },

    async listServers(): Promise<CloudServer[]> {
      const instances = await describeInstances([ownerFilter]);
      noteTerminations(instances);
      // EC2 lists a terminated instance for about an hour: one absent from the list is one the list cannot see yet.
      recentServers.seen(instances.map((i) => i.InstanceId ?? ''));
      return [...instances.filter(shown).map((i) => toCloudServer(i, policy, now)), ...recentServers.unseen()];
    },

    async getServer(id: string): Promise<CloudServer> {
      let answer;
      try {
        answer = await send('DescribeInstances', () => client.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
      } catch (err) {
        const made = err instanceof NotFoundError ? recentServers.get(id) : undefined;
        if (made) return made;
        throw err;
      }
      const instance = (answer.Reservations ?? []).flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
      if (!instance && recentServers.get(id)) return recentServers.get(id)!;
      recentServers.seen([id]);
      // EC2 keeps describing a terminated instance for a while; for us it is gone.
      if (!instance || !shown(instance)) throw new NotFoundError(`EC2 DescribeInstances: InvalidInstanceID.NotFound: instance ${id} does not exist (or is terminated)`, 404);
      return toCloudServer(instance, policy, now);
    },

    async deleteServer(id: string): Promise<void> {
      try {
        await terminations.add(id);
      } catch (err) {
        if (err instanceof NotFoundError && recentServers.get(id)) throw notYetVisible('instance', id, err);
        throw err;
      }
      dismissed.add(id);
      // Until a list shows it, one we just made and terminated is shutting down, not building.
      const made = recentServers.get(id);
      if (made) recentServers.add(id, { ...made, status: 'deleting', rawStatus: 'shutting-down' });
    },

    async listFlavors(): Promise<Flavor[]> {
      const allowed = cfg['instance-types'] as _InstanceType[];
      const types = await allPages(
        'DescribeInstanceTypes',
        (NextToken) =>
          client.send(
            new DescribeInstanceTypesCommand(
              allowed.length ? { InstanceTypes: allowed, NextToken } : { Filters: [{ Name: 'current-generation', Values: ['true'] }], MaxResults: 100, NextToken },
            ),
          ),
        (p) => p.InstanceTypes ?? [],
        (p) => p.NextToken,
      );
      const flavors = types.map(toFlavor).filter((f): f is Flavor => f !== null);
      for (const f of flavors) flavorsByType.set(f.id, f);
      return flavors;
    },

    async getQuota(): Promise<Quota> {
      const [max, live] = await Promise.all([maxInstances(), describeInstances([{ Name: 'instance-state-name', Values: LIVE_STATES }])]);
      const known = await sizes(live.map((i) => i.InstanceType ?? '').filter(Boolean));
      let usedCores = 0;
      let usedRamMb = 0;
      for (const i of live) {
        const f = known.get(i.InstanceType ?? '');
        const cpu = i.CpuOptions?.CoreCount !== undefined ? i.CpuOptions.CoreCount * (i.CpuOptions.ThreadsPerCore ?? 1) : undefined;
        usedCores += cpu ?? f?.vcpus ?? 0;
        usedRamMb += f?.ramMb ?? 0;
      }
      return { maxInstances: max, maxCores: cfg['max-vcpus'] ?? null, maxRamMb: null, usedInstances: live.length, usedCores, usedRamMb };
    },

    async listImages(): Promise<CloudImage[]> {
      const bases = [...new Set(cfg.images.map((i) => i['base-image']))];
      const ids = bases.filter(isAmiId);
      const names = bases.filter((b) => !isAmiId(b));
      const describe = (input: ConstructorParameters<typeof DescribeImagesCommand>[0]) =>
        allPages(
          'DescribeImages',
          (NextToken) => client.send(new DescribeImagesCommand({ ...input, MaxResults: pageSize, NextToken })),
          (p) => p.Images ?? [],
          (p) => p.NextToken,
        );
      const lists = await Promise.all([
        describe({ Owners: ['self'], Filters: [ownerFilter] }),
        // Base images by name only from the owners the config trusts: anyone may publish an AMI of any name.
        names.length ? describe({ Owners: cfg['image-owners'], Filters: [{ Name: 'name', Values: names }] }) : Promise.resolve([]),
        ids.length ? describe({ ImageIds: ids }) : Promise.resolve([]),
      ]);
      const byId = new Map<string, CloudImage>();
      for (const img of lists.flat()) if (img.ImageId && img.State !== 'deregistered') byId.set(img.ImageId, toCloudImage(img));
      recentImages.seen(lists.flat().map((i) => i.ImageId ?? ''));
      for (const img of recentImages.unseen()) if (!byId.has(img.id)) byId.set(img.id, img);
      return [...byId.values()];
    },

    async createImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
      const tags = metadataToTags(metadata, name);
      const answer = await send('CreateImage', () =>
        client.send(
          new CreateImageCommand({
            InstanceId: serverId,
            Name: name,
            Description: `nodepool-ts image ${name}`,
            TagSpecifications: [
              { ResourceType: 'image', Tags: tags },
              { ResourceType: 'snapshot', Tags: tags },
            ],
          }),
        ),
      );
      if (!answer.ImageId) throw new CloudServerError('EC2 CreateImage: the answer names no image');
      log.debug({ image: answer.ImageId, name, server: serverId }, 'image creation started');
      if (listable(metadata)) recentImages.add(answer.ImageId, { id: answer.ImageId, name, status: 'building', metadata: { ...metadata }, created: now() });
      return answer.ImageId;
    },

    async deleteImage(id: string): Promise<void> {
      let snapshots: string[];
      let registered = true;
      try {
        snapshots = imageSnapshotIds(await describeImage(id));
      } catch (err) {
        // The AMI is gone, but an earlier try may have deregistered it and then failed on a
        // snapshot: finish that job (the retry of this very delete, or cleanup's next pass).
        if (!(err instanceof NotFoundError)) throw err;
        if (recentImages.get(id)) throw notYetVisible('image', id, err);
        snapshots = await snapshotsLeftBy(id);
        if (snapshots.length === 0) throw err;
        registered = false;
        log.info({ image: id, snapshots }, 'deleting the snapshots a deregistered image left');
      }
      if (registered) await send('DeregisterImage', () => client.send(new DeregisterImageCommand({ ImageId: id })));
      for (const snap of snapshots) {
        await send('DeleteSnapshot', () => client.send(new DeleteSnapshotCommand({ SnapshotId: snap }))).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      }
    },

    async listImageArtifacts(): Promise<ImageArtifact[]> {
      // Snapshots before AMIs: an AMI registered between the two reads is seen using its snapshot.
      const snapshots = await allPages(
        'DescribeSnapshots',
        (NextToken) => client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [ownerFilter], MaxResults: pageSize, NextToken })),
        (p) => p.Snapshots ?? [],
        (p) => p.NextToken,
      );
      if (snapshots.length === 0) return [];
      // Every AMI of the account, ours or not: any of them using a snapshot keeps it.
      const images = await allPages(
        'DescribeImages',
        (NextToken) => client.send(new DescribeImagesCommand({ Owners: ['self'], MaxResults: pageSize, NextToken })),
        (p) => p.Images ?? [],
        (p) => p.NextToken,
      );
      const usedBy = new Map<string, string[]>();
      for (const img of images) {
        if (!img.ImageId || img.State === 'deregistered') continue;
        for (const snap of imageSnapshotIds(img)) usedBy.set(snap, [...(usedBy.get(snap) ?? []), img.ImageId]);
      }
      recentImages.seen(images.map((i) => i.ImageId ?? ''));
      // An AMI we just made that reads do not show yet uses its snapshot too (its description names it).
      const hidden = recentImages.unseen().map((i) => i.id);
      return snapshots.map((s) => {
        const used = usedBy.get(s.SnapshotId ?? '') ?? [];
        const maker = hidden.find((id) => madeFor(s.Description, id));
        return toImageArtifact(s, maker && !used.includes(maker) ? [...used, maker] : used, now);
      });
    },

    async deleteImageArtifact(id: string): Promise<void> {
      await send('DeleteSnapshot', () => client.send(new DeleteSnapshotCommand({ SnapshotId: id })));
    },

    close(): Promise<void> {
      closed ??= (async () => {
        terminations.close();
        client.destroy();
      })();
      return closed;
    },

    async connect() {
      const creds = await client.config.credentials();
      await maxInstances();
      const endpoint = cfg.endpoint ?? `ec2.${region}.amazonaws.com`;
      return { auth: `access key ${creds.accessKeyId.slice(0, 4)}... in ${region}`, catalog: `ec2 ${endpoint}` };
    },
  };
}
