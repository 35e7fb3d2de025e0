// RunInstances, DescribeInstances, TerminateInstances and the instance document they share
// (API reference: RunInstances, DescribeInstances, TerminateInstances, Instance, Reservation).
import { STATE_CODES, type InstanceRec, type SubnetRec } from './cloud.js';
import { checkId, maxResults, page, seqKey, type ActionCtx, type Handler } from './context.js';
import { ec2Error, MESSAGES, notFoundIds } from './errors.js';
import { matchNamedFilter, matchTagFilter, tagSet, type Filter } from './query.js';
import { isoTime, type XmlNode } from './xml.js';

function dnsPrivate(ip: string, region: string): string {
  const host = `ip-${ip.replace(/\./g, '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

function dnsPublic(ip: string, region: string): string {
  const host = `ec2-${ip.replace(/\./g, '-')}`;
  return region === 'us-east-1' ? `${host}.compute-1.amazonaws.com` : `${host}.${region}.compute.amazonaws.com`;
}

export function instanceXml(i: InstanceRec, ctx: ActionCtx): XmlNode {
  const { cloud } = ctx;
  const visible = i.state !== 'terminated';
  const groups = visible ? i.securityGroupIds.map((groupId) => ({ groupId, groupName: cloud.securityGroups.find((g) => g.id === groupId)?.name ?? groupId })) : [];
  const publicIp = visible ? i.publicIp : null;
  return {
    instanceId: i.id,
    imageId: i.imageId,
    instanceState: { code: STATE_CODES[i.state], name: i.state },
    privateDnsName: visible ? dnsPrivate(i.privateIp, cloud.region) : '',
    dnsName: publicIp ? dnsPublic(publicIp, cloud.region) : '',
    reason: i.stateTransitionReason,
    keyName: i.keyName ?? undefined,
    amiLaunchIndex: i.amiLaunchIndex,
    productCodes: undefined,
    instanceType: i.type.name,
    launchTime: isoTime(i.launchTime),
    placement: { availabilityZone: i.subnet.az, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: visible ? i.subnet.id : undefined,
    vpcId: visible ? i.subnet.vpcId : undefined,
    privateIpAddress: visible ? i.privateIp : undefined,
    ipAddress: publicIp ?? undefined,
    sourceDestCheck: visible ? true : undefined,
    groupSet: groups,
    stateReason: i.stateReason ? { ...i.stateReason } : undefined,
    architecture: 'x86_64',
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: visible
      ? [{ deviceName: '/dev/xvda', ebs: { volumeId: i.volumeId, status: 'attached', attachTime: isoTime(i.launchTime), deleteOnTermination: true } }]
      : [],
    instanceLifecycle: i.spot ? 'spot' : undefined,
    spotInstanceRequestId: i.spotRequestId ?? undefined,
    virtualizationType: 'hvm',
    clientToken: i.clientToken ?? '',
    tagSet: tagSet(i.tags),
    hypervisor: 'xen',
    networkInterfaceSet: visible
      ? [
          {
            networkInterfaceId: i.eniId,
            subnetId: i.subnet.id,
            vpcId: i.subnet.vpcId,
            description: '',
            ownerId: cloud.accountId,
            status: 'in-use',
            macAddress: i.mac,
            privateIpAddress: i.privateIp,
            privateDnsName: dnsPrivate(i.privateIp, cloud.region),
            sourceDestCheck: true,
            groupSet: groups,
            attachment: { attachmentId: `eni-attach-${i.eniId.slice(4)}`, deviceIndex: 0, status: 'attached', attachTime: isoTime(i.launchTime), deleteOnTermination: true, networkCardIndex: 0 },
            association: publicIp ? { publicIp, publicDnsName: dnsPublic(publicIp, cloud.region), ipOwnerId: 'amazon' } : undefined,
            privateIpAddressesSet: [
              {
                privateIpAddress: i.privateIp,
                privateDnsName: dnsPrivate(i.privateIp, cloud.region),
                primary: true,
                association: publicIp ? { publicIp, publicDnsName: dnsPublic(publicIp, cloud.region), ipOwnerId: 'amazon' } : undefined,
              },
            ],
            interfaceType: 'interface',
          },
        ]
      : [],
    ebsOptimized: false,
    enaSupport: true,
    cpuOptions: { coreCount: Math.max(1, i.type.vcpus / 2), threadsPerCore: i.type.vcpus > 1 ? 2 : 1 },
    capacityReservationSpecification: { capacityReservationPreference: 'open' },
    hibernationOptions: { configured: false },
    metadataOptions: { state: 'applied', httpTokens: 'required', httpPutResponseHopLimit: 2, httpEndpoint: 'enabled', httpProtocolIpv6: 'disabled', instanceMetadataTags: 'disabled' },
    enclaveOptions: { enabled: false },
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    usageOperationUpdateTime: isoTime(i.launchTime),
    privateDnsNameOptions: { hostnameType: 'ip-name', enableResourceNameDnsARecord: false, enableResourceNameDnsAAAARecord: false },
    maintenanceOptions: { autoRecovery: 'default' },
    currentInstanceBootMode: 'legacy-bios',
  };
}

function reservationXml(reservationId: string, instances: InstanceRec[], ctx: ActionCtx): XmlNode {
  return { reservationId, ownerId: ctx.cloud.accountId, groupSet: [], instancesSet: instances.map((i) => instanceXml(i, ctx)) };
}

/** Resolves the subnet a launch goes to: SubnetId (top level or the primary interface), else the zone's default. */
function pickSubnet(ctx: ActionCtx): SubnetRec {
  const { params: p, cloud } = ctx;
  const id = p.get('SubnetId') ?? p.get('NetworkInterface.1.SubnetId');
  const az = p.get('Placement.AvailabilityZone');
  if (id) {
    const s = cloud.subnets.find((x) => x.id === id);
    if (!s) throw ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
    if (az && s.az !== az) throw ec2Error('InvalidParameterValue', `The specified Availability Zone (${az}) and the subnet's Availability Zone (${s.az}) do not match.`);
    return s;
  }
  if (az) {
    const s = cloud.subnets.find((x) => x.az === az && x.defaultForAz);
    if (!s) throw ec2Error('InvalidParameterValue', `Invalid availability zone: [${az}]`);
    return s;
  }
  return cloud.subnets.find((x) => x.defaultForAz) ?? cloud.subnets[0];
}

const INSTANCE_TAG_TYPES = new Set(['instance', 'volume', 'network-interface', 'spot-instances-request']);

export const runInstances: Handler = (ctx) => {
  const { params: p, cloud, limits } = ctx;
  const imageId = p.required('ImageId');
  const minCount = p.int('MinCount');
  const maxCount = p.int('MaxCount');
  if (minCount === undefined) throw ec2Error('MissingParameter', 'The request must contain the parameter MinCount');
  if (maxCount === undefined) throw ec2Error('MissingParameter', 'The request must contain the parameter MaxCount');
  if (minCount < 1) throw ec2Error('InvalidParameterValue', `Value (${minCount}) for parameter minCount is invalid. Expected a positive integer.`);
  if (maxCount < minCount) throw ec2Error('InvalidParameterValue', `Value (${maxCount}) for parameter maxCount is invalid. Expected a value greater than or equal to minCount (${minCount}).`);

  // Idempotency: the same token with the same arguments answers the first reservation again.
  const token = p.get('ClientToken') ?? null;
  // ClientToken: up to 64 ASCII characters (EC2 user guide, "Ensuring idempotency").
  if (token !== null && (token.length > 64 || !/^[\x20-\x7e]*$/.test(token))) {
    throw ec2Error('InvalidParameterValue', `Value (${token}) for parameter clientToken is invalid. The client token must be at most 64 ASCII characters.`);
  }
  const fingerprint = p.fingerprint(['Action', 'Version', 'ClientToken']);
  if (token !== null) {
    const seen = ctx.clientTokens.get(token);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        throw ec2Error('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
      }
      const instances = seen.instanceIds.map((id) => cloud.instances.get(id)).filter((i): i is InstanceRec => i !== undefined);
      return reservationXml(seen.reservationId, instances, ctx);
    }
  }

  checkId('ami', imageId, 'InvalidAMIID.Malformed');
  const image = cloud.images.get(imageId);
  if (!image) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  if (image.state !== 'available') throw ec2Error('InvalidAMIID.Unavailable', `The image id '[${imageId}]' is not available`);
  const typeName = p.get('InstanceType') ?? 'm1.small';
  const type = cloud.instanceTypes.find((t) => t.name === typeName);
  if (!type) throw ec2Error('InvalidParameterValue', `Invalid value '${typeName}' for InstanceType.`);
  const keyName = p.get('KeyName') ?? null;
  if (keyName !== null && !cloud.keyPairs.some((k) => k.name === keyName)) throw ec2Error('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);
  const subnet = pickSubnet(ctx);
  const groups = [...p.list('SecurityGroupId'), ...p.list('NetworkInterface.1.SecurityGroupId')];
  // SecurityGroup.N names groups (of the default VPC) by name.
  for (const name of p.list('SecurityGroup')) {
    const g = cloud.securityGroups.find((x) => x.name === name);
    if (!g) throw ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC '${cloud.vpcId}'`);
    groups.push(g.id);
  }
  for (const g of groups) if (!cloud.securityGroups.some((x) => x.id === g)) throw ec2Error('InvalidGroup.NotFound', `The security group '${g}' does not exist in VPC '${subnet.vpcId}'`);
  const specs = p.tagSpecs();
  for (const type of specs.keys()) {
    if (!INSTANCE_TAG_TYPES.has(type)) throw ec2Error('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`);
  }
  const spot = p.get('InstanceMarketOptions.MarketType') === 'spot';
  const publicIp = p.bool('NetworkInterface.1.AssociatePublicIpAddress') ?? subnet.mapPublicIpOnLaunch;

  // How many fit: the resource bucket, the instance and vCPU limits, the type's capacity.
  let count = maxCount;
  const tokens = ctx.throttle.resourceLevel('RunInstances');
  if (tokens < minCount) throw ec2Error('RequestLimitExceeded', MESSAGES.throttled);
  count = Math.min(count, tokens);
  const live = cloud.live();
  if (limits.instanceLimit !== null) {
    const room = limits.instanceLimit - live.length;
    if (room < minCount) throw ec2Error('InstanceLimitExceeded', `Your quota allows for ${Math.max(0, room)} more running instance(s). You requested at least ${minCount}.`);
    count = Math.min(count, room);
  }
  const vcpuLimit = spot ? limits.spotVcpuLimit : limits.vcpuLimit;
  if (vcpuLimit !== null) {
    const room = Math.floor((vcpuLimit - cloud.usedVcpus(spot)) / type.vcpus);
    if (room < minCount) {
      if (spot) throw ec2Error('MaxSpotInstanceCountExceeded', 'Max spot instance count exceeded');
      throw ec2Error(
        'VcpuLimitExceeded',
        `You have requested more vCPU capacity than your current vCPU limit of ${vcpuLimit} allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
      );
    }
    count = Math.min(count, room);
  }
  for (const key of [type.name, `${type.name}/${subnet.az}`]) {
    const cap = limits.capacity[key];
    if (cap === undefined) continue;
    const used = live.filter((i) => i.type.name === type.name && (key === type.name || i.subnet.az === subnet.az)).length;
    const room = cap - used;
    if (room < minCount) {
      const others = cloud.subnets.map((s) => s.az).filter((z) => z !== subnet.az);
      throw ec2Error(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${type.name} capacity in the Availability Zone you requested (${subnet.az}). Our system will be working on provisioning additional capacity. You can currently get ${type.name} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
      );
    }
    count = Math.min(count, room);
  }
  ctx.throttle.takeResource('RunInstances', count);

  const reservationId = cloud.newId('r');
  const instances: InstanceRec[] = [];
  for (let n = 0; n < count; n++) {
    instances.push(
      cloud.launch({
        reservationId,
        imageId,
        type,
        keyName,
        subnet,
        securityGroupIds: groups.length > 0 ? [...new Set(groups)] : [],
        tags: specs.get('instance') ?? {},
        volumeTags: specs.get('volume') ?? {},
        clientToken: token,
        publicIp,
        spot,
        amiLaunchIndex: n,
      }),
    );
  }
  if (token !== null) ctx.clientTokens.set(token, { fingerprint, reservationId, instanceIds: instances.map((i) => i.id) });
  return reservationXml(reservationId, instances, ctx);
};

function instanceFilter(f: Filter, i: InstanceRec): boolean {
  const tag = matchTagFilter(f, i.tags);
  if (tag !== null) return tag;
  const values: Record<string, () => (string | null | undefined)[]> = {
    'instance-id': () => [i.id],
    'instance-state-name': () => [i.state],
    'instance-state-code': () => [String(STATE_CODES[i.state])],
    'instance-type': () => [i.type.name],
    'image-id': () => [i.imageId],
    'availability-zone': () => [i.subnet.az],
    'subnet-id': () => [i.subnet.id],
    'vpc-id': () => [i.subnet.vpcId],
    'key-name': () => [i.keyName],
    'client-token': () => [i.clientToken],
    'reservation-id': () => [i.reservationId],
    'private-ip-address': () => [i.privateIp],
    'ip-address': () => [i.publicIp],
    'instance-lifecycle': () => [i.spot ? 'spot' : null],
    'instance.group-id': () => i.securityGroupIds,
    'state-reason-code': () => [i.stateReason?.code],
  };
  return matchNamedFilter(f, values);
}

/** The InstanceId list of a describe call (well-formed, each one the caller can see) and its MaxResults. */
function askedInstances({ params: p, cloud }: ActionCtx): { ids: string[]; limit: number | null } {
  const ids = p.list('InstanceId');
  for (const id of ids) checkId('i', id, 'InvalidInstanceID.Malformed');
  const limit = maxResults(p, 5, 1000, 'instancesSet', ids.length > 0);
  const missing = ids.filter((id) => !cloud.seenInstance(id));
  if (missing.length > 0) throw ec2Error('InvalidInstanceID.NotFound', notFoundIds('instance', missing));
  return { ids, limit };
}

export const describeInstances: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const { ids, limit } = askedInstances(ctx);
  const filters = p.filters();
  let list = ids.length > 0 ? [...new Set(ids)].map((id) => cloud.seenInstance(id)!) : cloud.seenInstances();
  list = list.filter((i) => filters.every((f) => instanceFilter(f, i))).sort((a, b) => a.seq - b.seq);
  const token = p.get('NextToken');
  const fault = token ? ctx.pagination : null;
  if (fault === 'invalid-token') throw ec2Error('InvalidPaginationToken', `The pagination token '${token}' is invalid.`);
  if (fault === 'page-error') throw ec2Error('InternalError', MESSAGES.internal);
  let { items, nextToken } = page(p, 'instances', list, (i) => seqKey(i.seq), limit);
  if (fault === 'repeat-token') nextToken = token;
  if (fault === 'repeat-item') {
    const previous = list.filter((i) => i.seq < (items[0]?.seq ?? Infinity)).at(-1);
    if (previous) items = [previous, ...items];
  }
  // One <item> per reservation, its instances in launch order.
  const byReservation = new Map<string, InstanceRec[]>();
  for (const i of items) byReservation.set(i.reservationId, [...(byReservation.get(i.reservationId) ?? []), i]);
  return {
    reservationSet: [...byReservation].map(([rid, is]) => reservationXml(rid, is, ctx)),
    nextToken,
  };
};

export const terminateInstances: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const ids = [...new Set(p.list('InstanceId'))];
  if (ids.length === 0) throw ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of ids) checkId('i', id, 'InvalidInstanceID.Malformed');
  const missing = ids.filter((id) => !cloud.instances.has(id));
  if (missing.length > 0) throw ec2Error('InvalidInstanceID.NotFound', notFoundIds('instance', missing));
  const instances = ids.map((id) => cloud.instances.get(id)!);
  if (!ctx.throttle.takeResource('TerminateInstances', instances.filter((i) => i.state !== 'terminated').length)) {
    throw ec2Error('RequestLimitExceeded', MESSAGES.throttled);
  }
  return {
    instancesSet: instances.map((i) => {
      const before = cloud.terminate(i, { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' }, 'User initiated');
      return {
        instanceId: i.id,
        currentState: { code: STATE_CODES[i.state], name: i.state },
        previousState: { code: STATE_CODES[before], name: before },
      };
    }),
  };
};

/** Status checks: "initializing" for statusChecksMs after running, then "ok" (DescribeInstanceStatus). */
export const describeInstanceStatus: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const { ids, limit } = askedInstances(ctx);
  const all = p.bool('IncludeAllInstances') ?? false;
  const now = ctx.clock.now();
  const status = (i: InstanceRec) => (i.state !== 'running' ? 'not-applicable' : now < i.runningAt + cloud.statusChecksMs ? 'initializing' : 'ok');
  const filters = p.filters();
  const list = (ids.length > 0 ? [...new Set(ids)].map((id) => cloud.seenInstance(id)!) : cloud.seenInstances())
    .filter((i) => all || i.state === 'running')
    .filter((i) =>
      filters.every((f) => {
        const values: Record<string, () => string[]> = {
          'instance-state-name': () => [i.state],
          'instance-state-code': () => [String(STATE_CODES[i.state])],
          'availability-zone': () => [i.subnet.az],
          'instance-status.status': () => [status(i)],
          'system-status.status': () => [status(i)],
        };
        return matchNamedFilter(f, values);
      }),
    )
    .sort((a, b) => a.seq - b.seq);
  const { items, nextToken } = page(p, 'instance-status', list, (i) => seqKey(i.seq), limit);
  return {
    instanceStatusSet: items.map((i) => {
      const s = status(i);
      const summary = { status: s, details: s === 'not-applicable' ? undefined : [{ name: 'reachability', status: s === 'ok' ? 'passed' : 'initializing' }] };
      return {
        instanceId: i.id,
        availabilityZone: i.subnet.az,
        availabilityZoneId: i.subnet.azId,
        instanceState: { code: STATE_CODES[i.state], name: i.state },
        systemStatus: summary,
        instanceStatus: summary,
        attachedEbsStatus: summary,
        eventsSet: undefined,
      };
    }),
    nextToken,
  };
};
