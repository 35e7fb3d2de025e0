// Pure translations between EC2's records (as @aws-sdk/client-ec2 types them) and the Provider
// interface's: instance states, tags and metadata, addresses, instance types, AMIs.
import type { Image, Instance, InstanceTypeInfo, Snapshot, Tag } from '@aws-sdk/client-ec2';
import { chooseAddress, type AddressPolicy, type ServerAddress } from '../address.js';
import type { CloudImage, CloudServer, Flavor, ImageArtifact, ServerStatus } from '../provider.js';

/** The tag EC2 shows as an instance's or AMI's name; not part of our metadata. */
export const NAME_TAG = 'Name';

/**
 * EC2 instance state -> ServerStatus. `terminated` never reaches a caller: listServers leaves
 * terminated instances out (EC2 keeps listing them for about an hour) and getServer answers
 * NotFoundError for one, as the Provider contract asks of a deleted server, except a failed
 * launch (launchFailed), which is `error` until deleted. `stopping`/`stopped`
 * (a spot instance stopped by an interruption, an operator's stop) are `other`.
 */
export function serverStatus(state: string | undefined): ServerStatus {
  switch (state) {
    case 'pending':
      return 'building';
    case 'running':
      return 'active';
    case 'shutting-down':
    case 'terminated':
      return 'deleting';
    default:
      return 'other';
  }
}

export function isTerminated(i: Instance): boolean {
  return i.State?.Name === 'terminated';
}

/**
 * State reasons of a launch EC2 could not complete: the instance goes from pending straight to
 * terminated ("Instance terminates immediately" in EC2's launch troubleshooting guide). A spot
 * interruption (Server.SpotInstanceTermination) or our own terminate is not one.
 */
const LAUNCH_FAILURES = new Set(['Server.InternalError', 'Server.InsufficientInstanceCapacity', 'Client.InternalError', 'Client.VolumeLimitExceeded', 'Client.InvalidSnapshot.NotFound']);

/** A terminated instance whose launch failed: shown as `error` (with the reason as fault) until we delete it. */
export function launchFailed(i: Instance): boolean {
  return isTerminated(i) && LAUNCH_FAILURES.has(i.StateReason?.Code ?? '');
}

/** Tags -> metadata, without the Name tag and AWS's own `aws:` tags. */
export function tagsToMetadata(tags: readonly Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) {
    if (t.Key === undefined || t.Key === NAME_TAG || t.Key.startsWith('aws:')) continue;
    out[t.Key] = t.Value ?? '';
  }
  return out;
}

export function tagValue(tags: readonly Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** Metadata (plus the name as the Name tag) -> EC2 tags. */
export function metadataToTags(metadata: Record<string, string>, name?: string): Tag[] {
  const tags: Tag[] = name === undefined ? [] : [{ Key: NAME_TAG, Value: name }];
  for (const [Key, Value] of Object.entries(metadata)) if (Key !== NAME_TAG) tags.push({ Key, Value });
  return tags;
}

/** Every address EC2 reports: the private IPv4 (fixed), the public IPv4 (NAT, like a floating IP), and IPv6 (globally routable, on the ENI). */
export function instanceAddresses(i: Instance): ServerAddress[] {
  const out: ServerAddress[] = [];
  const subnet = i.SubnetId ?? null;
  if (i.PrivateIpAddress) out.push({ addr: i.PrivateIpAddress, version: 4, type: 'fixed', network: subnet });
  if (i.PublicIpAddress) out.push({ addr: i.PublicIpAddress, version: 4, type: 'floating', network: subnet });
  for (const eni of i.NetworkInterfaces ?? []) {
    for (const v6 of eni.Ipv6Addresses ?? []) if (v6.Ipv6Address) out.push({ addr: v6.Ipv6Address, version: 6, type: 'fixed', network: eni.SubnetId ?? subnet });
  }
  return out;
}

export function toCloudServer(i: Instance, policy: AddressPolicy, now: () => number): CloudServer {
  const addresses = instanceAddresses(i);
  // EC2 has no ERROR state: a failed launch goes to terminated with a StateReason, shown as
  // `error` with that reason as the fault, as a Nova server in ERROR.
  const status = launchFailed(i) ? 'error' : serverStatus(i.State?.Name);
  const reason = i.StateReason?.Message ?? null;
  return {
    id: i.InstanceId ?? '',
    name: tagValue(i.Tags, NAME_TAG) ?? '',
    status,
    rawStatus: i.State?.Name ?? 'unknown',
    ip: chooseAddress(addresses, policy),
    addresses,
    az: i.Placement?.AvailabilityZone ?? null,
    metadata: tagsToMetadata(i.Tags),
    fault: status === 'deleting' || status === 'other' || status === 'error' ? reason : null,
    faultCode: null,
    created: i.LaunchTime ? i.LaunchTime.getTime() : now(),
  };
}

export function toFlavor(t: InstanceTypeInfo): Flavor | null {
  const name = t.InstanceType;
  const vcpus = t.VCpuInfo?.DefaultVCpus;
  const ramMb = t.MemoryInfo?.SizeInMiB;
  if (!name || vcpus === undefined || ramMb === undefined) return null;
  return { id: name, name, ramMb, vcpus };
}

/** AMI state -> image status: pending building, available active, failed (and error) error. */
export function imageStatus(state: string | undefined): CloudImage['status'] {
  switch (state) {
    case 'pending':
      return 'building';
    case 'available':
      return 'active';
    case 'failed':
    case 'error':
    case 'invalid':
      return 'error';
    case 'deregistered':
    case 'disabled':
      return 'deleting';
    default:
      return 'other';
  }
}

export function toCloudImage(img: Image): CloudImage {
  const created = img.CreationDate ? Date.parse(img.CreationDate) : NaN;
  return {
    id: img.ImageId ?? '',
    name: img.Name ?? tagValue(img.Tags, NAME_TAG) ?? '',
    status: imageStatus(img.State),
    metadata: tagsToMetadata(img.Tags),
    created: Number.isFinite(created) ? created : 0,
  };
}

/** The EBS snapshots an AMI's block devices are made of (DeleteSnapshot after DeregisterImage). */
export function imageSnapshotIds(img: Image): string[] {
  return (img.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((id): id is string => !!id);
}

/** An EBS snapshot as an image artifact, with the AMIs that use it. */
export function toImageArtifact(s: Snapshot, usedBy: string[], now: () => number): ImageArtifact {
  return { id: s.SnapshotId ?? '', kind: 'snapshot', metadata: tagsToMetadata(s.Tags), usedBy, created: s.StartTime ? s.StartTime.getTime() : now() };
}

/** A `base-image` given as an AMI id rather than a name. */
export function isAmiId(v: string): boolean {
  return /^ami-[0-9a-f]{8,17}$/.test(v);
}
