// Account-level reads a driver's connect and provider checks use: DescribeInstanceTypes,
// DescribeAccountAttributes, DescribeAvailabilityZones, DescribeSubnets, DescribeKeyPairs,
// DescribeRegions, DescribeVolumes, and CreateTags / DeleteTags (API reference pages of the same names).
import { createHash } from 'node:crypto';
import { type Ec2InstanceType, type InstanceRec, type SubnetRec } from './cloud.js';
import { maxResults, page, seqKey, type ActionCtx, type Handler } from './context.js';
import { ec2Error } from './errors.js';
import { matchNamedFilter, matchTagFilter, tagSet, type Filter } from './query.js';
import { isoTime, type XmlNode } from './xml.js';

function filterBy(values: Record<string, () => (string | null | undefined)[]>, tags: Record<string, string> | null) {
  return (f: Filter): boolean => {
    if (tags) {
      const t = matchTagFilter(f, tags);
      if (t !== null) return t;
    }
    return matchNamedFilter(f, values);
  };
}

function typeXml(t: Ec2InstanceType): XmlNode {
  const cores = Math.max(1, t.vcpus / 2);
  return {
    instanceType: t.name,
    currentGeneration: true,
    freeTierEligible: t.name === 't3.micro',
    supportedUsageClasses: ['on-demand', 'spot'],
    supportedRootDeviceTypes: ['ebs'],
    supportedVirtualizationTypes: ['hvm'],
    bareMetal: false,
    hypervisor: 'nitro',
    processorInfo: { supportedArchitectures: ['x86_64'], sustainedClockSpeedInGhz: 3.1 },
    vCpuInfo: { defaultVCpus: t.vcpus, defaultCores: cores, defaultThreadsPerCore: t.vcpus > 1 ? 2 : 1 },
    memoryInfo: { sizeInMiB: t.memoryMiB },
    instanceStorageSupported: false,
    ebsInfo: { ebsOptimizedSupport: 'default', encryptionSupport: 'supported', nvmeSupport: 'required' },
    networkInfo: { networkPerformance: 'Up to 5 Gigabit', maximumNetworkInterfaces: 3, ipv4AddressesPerInterface: 6, ipv6Supported: true, enaSupport: 'required' },
    hibernationSupported: true,
    burstablePerformanceSupported: t.name.startsWith('t'),
    dedicatedHostsSupported: !t.name.startsWith('t'),
    autoRecoverySupported: true,
    supportedBootModes: ['legacy-bios', 'uefi'],
  };
}

export const describeInstanceTypes: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const names = p.list('InstanceType');
  const limit = maxResults(p, 5, 100, 'instanceTypes', names.length > 0);
  const unknown = names.filter((n) => !cloud.instanceTypes.some((t) => t.name === n));
  if (unknown.length > 0) throw ec2Error('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`);
  const filters = p.filters();
  const list = cloud.instanceTypes
    .filter((t) => names.length === 0 || names.includes(t.name))
    .filter((t) =>
      filters.every(
        filterBy(
          {
            'instance-type': () => [t.name],
            'vcpu-info.default-vcpus': () => [String(t.vcpus)],
            'memory-info.size-in-mib': () => [String(t.memoryMiB)],
            'current-generation': () => ['true'],
          },
          null,
        ),
      ),
    )
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const { items, nextToken } = page(p, 'instance-types', list, (t) => t.name, limit);
  return { instanceTypeSet: items.map(typeXml), nextToken };
};

export const describeAccountAttributes: Handler = (ctx) => {
  const { params: p, cloud, limits } = ctx;
  // Since vCPU-based limits, max-instances reports the On-Demand vCPU limit; an instance-count limit wins when set.
  const maxInstances = limits.instanceLimit ?? limits.vcpuLimit ?? 1152;
  const all: Record<string, string[]> = {
    'supported-platforms': ['VPC'],
    'default-vpc': [cloud.vpcId],
    'max-instances': [String(maxInstances)],
    'vpc-max-security-groups-per-interface': ['5'],
    'max-elastic-ip-addresses': ['5'],
    'vpc-max-elastic-ip-addresses': ['5'],
  };
  const names = p.list('AttributeName');
  for (const n of names) if (!(n in all)) throw ec2Error('InvalidParameterValue', `Value (${n}) for parameter attributeName is invalid. Unknown attribute.`);
  const chosen = names.length > 0 ? names : Object.keys(all);
  return {
    accountAttributeSet: chosen.map((attributeName) => ({ attributeName, attributeValueSet: all[attributeName].map((attributeValue) => ({ attributeValue })) })),
  };
};

export const describeAvailabilityZones: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const names = p.list('ZoneName');
  const filters = p.filters();
  const unknown = names.filter((n) => !cloud.subnets.some((s) => s.az === n));
  if (unknown.length > 0) throw ec2Error('InvalidParameterValue', `Invalid availability zone: [${unknown.join(', ')}]`);
  const zones = cloud.subnets
    .filter((s) => s.defaultForAz && (names.length === 0 || names.includes(s.az)))
    .filter((s) =>
      filters.every(
        filterBy({ 'zone-name': () => [s.az], 'zone-id': () => [s.azId], state: () => ['available'], 'region-name': () => [cloud.region], 'zone-type': () => ['availability-zone'] }, null),
      ),
    );
  return {
    availabilityZoneInfo: zones.map((s) => ({
      zoneName: s.az,
      zoneState: 'available',
      regionName: cloud.region,
      zoneId: s.azId,
      zoneType: 'availability-zone',
      optInStatus: 'opt-in-not-required',
      groupName: cloud.region,
      networkBorderGroup: cloud.region,
      messageSet: [],
    })),
  };
};

function subnetXml(s: SubnetRec, ctx: ActionCtx): XmlNode {
  const used = ctx.cloud.live().filter((i) => i.subnet === s).length;
  return {
    subnetId: s.id,
    subnetArn: `arn:aws:ec2:${ctx.cloud.region}:${ctx.cloud.accountId}:subnet/${s.id}`,
    state: 'available',
    vpcId: s.vpcId,
    cidrBlock: s.cidr,
    ipv6CidrBlockAssociationSet: [],
    availableIpAddressCount: 4091 - used,
    availabilityZone: s.az,
    availabilityZoneId: s.azId,
    defaultForAz: s.defaultForAz,
    mapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
    assignIpv6AddressOnCreation: false,
    ownerId: ctx.cloud.accountId,
    tagSet: tagSet(s.tags),
  };
}

export const describeSubnets: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const ids = p.list('SubnetId');
  const limit = maxResults(p, 5, 1000, 'subnetIds', ids.length > 0);
  const missing = ids.filter((id) => !cloud.subnets.some((s) => s.id === id));
  if (missing.length > 0) throw ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${missing.join(', ')}' does not exist`);
  const filters = p.filters();
  const list = cloud.subnets
    .filter((s) => ids.length === 0 || ids.includes(s.id))
    .filter((s) =>
      filters.every(
        filterBy(
          {
            'subnet-id': () => [s.id],
            'vpc-id': () => [s.vpcId],
            'availability-zone': () => [s.az],
            'availability-zone-id': () => [s.azId],
            'default-for-az': () => [String(s.defaultForAz)],
            'cidr-block': () => [s.cidr],
            state: () => ['available'],
          },
          s.tags,
        ),
      ),
    );
  const { items, nextToken } = page(p, 'subnets', list, (s) => s.id, limit);
  return { subnetSet: items.map((s) => subnetXml(s, ctx)), nextToken };
};

export const describeKeyPairs: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const names = p.list('KeyName');
  const ids = p.list('KeyPairId');
  for (const n of names) if (!cloud.keyPairs.some((k) => k.name === n)) throw ec2Error('InvalidKeyPair.NotFound', `The key pair '${n}' does not exist`);
  for (const id of ids) if (!cloud.keyPairs.some((k) => k.id === id)) throw ec2Error('InvalidKeyPair.NotFound', `The key pair ID '${id}' does not exist`);
  const filters = p.filters();
  const list = cloud.keyPairs
    .filter((k) => (names.length === 0 && ids.length === 0) || names.includes(k.name) || ids.includes(k.id))
    .filter((k) => filters.every(filterBy({ 'key-name': () => [k.name], 'key-pair-id': () => [k.id], fingerprint: () => [k.fingerprint] }, k.tags)));
  const withKey = p.bool('IncludePublicKey') ?? false;
  return {
    keySet: list.map((k) => ({
      keyPairId: k.id,
      keyName: k.name,
      keyFingerprint: k.fingerprint,
      keyType: k.type,
      tagSet: tagSet(k.tags),
      publicKey: withKey && k.publicKey ? k.publicKey : undefined,
      createTime: isoTime(k.created),
    })),
  };
};

/** ImportKeyPair: PublicKeyMaterial is the base64 of an OpenSSH public key line (ssh-ed25519 or ssh-rsa). */
export const importKeyPair: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const name = p.required('KeyName');
  const material = Buffer.from(p.required('PublicKeyMaterial'), 'base64').toString('utf8').trim();
  const m = /^(ssh-ed25519|ssh-rsa) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/.exec(material);
  if (!m) throw ec2Error('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  if (cloud.keyPairs.some((k) => k.name === name)) throw ec2Error('InvalidKeyPair.Duplicate', `The keypair already exists`);
  const blob = Buffer.from(m[2], 'base64');
  const type = m[1] === 'ssh-rsa' ? ('rsa' as const) : ('ed25519' as const);
  // AWS: MD5 (of the DER key) for RSA, base64 SHA-256 for ED25519; the emulator hashes the OpenSSH blob.
  const fingerprint =
    type === 'rsa'
      ? createHash('md5').update(blob).digest('hex').replace(/(..)(?!$)/g, '$1:')
      : createHash('sha256').update(blob).digest('base64');
  const tags = p.tagSpecs().get('key-pair') ?? {};
  const rec = { id: cloud.newId('key'), name, fingerprint, type, created: ctx.clock.now(), tags, publicKey: material };
  cloud.keyPairs.push(rec);
  return { keyFingerprint: fingerprint, keyName: name, keyPairId: rec.id, tagSet: tagSet(tags) };
};

/** DeleteKeyPair answers true for a key that does not exist, as EC2 does. */
export const deleteKeyPair: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const name = p.get('KeyName');
  const id = p.get('KeyPairId');
  if (!name && !id) throw ec2Error('MissingParameter', 'The request must contain the parameter KeyName or KeyPairId');
  const at = cloud.keyPairs.findIndex((k) => (name !== undefined && k.name === name) || (id !== undefined && k.id === id));
  const gone = at >= 0 ? cloud.keyPairs.splice(at, 1)[0] : null;
  return { return: true, keyPairId: gone?.id };
};

const REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'];

export const describeRegions: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const all = [...new Set([cloud.region, ...REGIONS])].sort();
  const names = p.list('RegionName');
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length > 0) throw ec2Error('InvalidParameterValue', `Invalid region: ${unknown.join(', ')}`);
  const filters = p.filters();
  const list = all
    .filter((r) => names.length === 0 || names.includes(r))
    .filter((r) => filters.every(filterBy({ 'region-name': () => [r], endpoint: () => [`ec2.${r}.amazonaws.com`], 'opt-in-status': () => ['opt-in-not-required'] }, null)));
  return { regionInfo: list.map((regionName) => ({ regionName, regionEndpoint: `ec2.${regionName}.amazonaws.com`, optInStatus: 'opt-in-not-required' })) };
};

function volumeXml(i: InstanceRec, ctx: ActionCtx): XmlNode {
  const image = ctx.cloud.images.get(i.imageId);
  return {
    volumeId: i.volumeId,
    size: 8,
    snapshotId: image?.snapshotId ?? '',
    availabilityZone: i.subnet.az,
    status: i.state === 'shutting-down' ? 'deleting' : 'in-use',
    createTime: isoTime(i.launchTime),
    attachmentSet: [{ volumeId: i.volumeId, instanceId: i.id, device: '/dev/xvda', status: 'attached', attachTime: isoTime(i.launchTime), deleteOnTermination: true }],
    volumeType: 'gp3',
    iops: 3000,
    throughput: 125,
    encrypted: false,
    multiAttachEnabled: false,
    tagSet: tagSet(i.volumeTags),
  };
}

/** Root volumes of instances not yet terminated (they are deleted on termination). */
export const describeVolumes: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const withVolume = [...cloud.instances.values()].filter((i) => i.state !== 'terminated');
  const ids = p.list('VolumeId');
  const limit = maxResults(p, 5, 500, 'volumeIds', ids.length > 0);
  const missing = ids.filter((id) => !withVolume.some((i) => i.volumeId === id));
  if (missing.length > 0) throw ec2Error('InvalidVolume.NotFound', `The volume '${missing.join(', ')}' does not exist.`);
  const filters = p.filters();
  const list = withVolume
    .filter((i) => ids.length === 0 || ids.includes(i.volumeId))
    .filter((i) =>
      filters.every(
        filterBy(
          {
            'volume-id': () => [i.volumeId],
            'attachment.instance-id': () => [i.id],
            'availability-zone': () => [i.subnet.az],
            status: () => [i.state === 'shutting-down' ? 'deleting' : 'in-use'],
          },
          i.volumeTags,
        ),
      ),
    )
    .sort((a, b) => a.seq - b.seq);
  const { items, nextToken } = page(p, 'volumes', list, (i) => seqKey(i.seq), limit);
  return { volumeSet: items.map((i) => volumeXml(i, ctx)), nextToken };
};

/** The tags record of a resource by id, or null when there is none such. */
function tagsOf(ctx: ActionCtx, id: string): Record<string, string> | null {
  const { cloud } = ctx;
  if (id.startsWith('i-')) return cloud.seenInstance(id)?.tags ?? null;
  if (id.startsWith('ami-')) return cloud.seenImage(id)?.tags ?? null;
  if (id.startsWith('snap-')) return cloud.snapshots.get(id)?.tags ?? null;
  if (id.startsWith('subnet-')) return cloud.subnets.find((s) => s.id === id)?.tags ?? null;
  if (id.startsWith('key-')) return cloud.keyPairs.find((k) => k.id === id)?.tags ?? null;
  if (id.startsWith('vol-')) return [...cloud.instances.values()].find((i) => i.volumeId === id && i.state !== 'terminated')?.volumeTags ?? null;
  return null;
}

function resolveTagTargets(ctx: ActionCtx): Record<string, string>[] {
  const ids = ctx.params.list('ResourceId');
  if (ids.length === 0) throw ec2Error('MissingParameter', 'The request must contain the parameter resourceIdSet');
  return ids.map((id) => {
    const tags = tagsOf(ctx, id);
    if (tags === null) {
      if (id.startsWith('i-')) throw ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
      if (id.startsWith('ami-')) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
      if (id.startsWith('snap-')) throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
      throw ec2Error('InvalidID', `The ID '${id}' is not valid`);
    }
    return tags;
  });
}

export const createTags: Handler = (ctx) => {
  const add = ctx.params.tags('Tag');
  const targets = resolveTagTargets(ctx);
  for (const tags of targets) {
    if (Object.keys({ ...tags, ...add }).length > 50) throw ec2Error('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
  }
  for (const tags of targets) Object.assign(tags, add);
  return { return: true };
};

export const deleteTags: Handler = (ctx) => {
  const p = ctx.params;
  const drop = p.indices('Tag').map((j) => ({ key: p.get(`Tag.${j}.Key`) ?? '', value: p.get(`Tag.${j}.Value`) }));
  for (const tags of resolveTagTargets(ctx)) {
    if (drop.length === 0) for (const k of Object.keys(tags)) delete tags[k];
    for (const d of drop) if (d.key in tags && (d.value === undefined || tags[d.key] === d.value)) delete tags[d.key];
  }
  return { return: true };
};
