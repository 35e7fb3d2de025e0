// AMIs and their snapshots: DescribeImages, CreateImage, DeregisterImage, DescribeSnapshots,
// DeleteSnapshot (API reference pages of the same names; Image, Snapshot).
import type { ImageRec, SnapshotRec } from './cloud.js';
import { checkId, maxResults, page, type ActionCtx, type Handler } from './context.js';
import { ec2Error } from './errors.js';
import { matchNamedFilter, matchTagFilter, tagSet, type Filter } from './query.js';
import { isoTime, type XmlNode } from './xml.js';

function imageXml(img: ImageRec, ctx: ActionCtx): XmlNode {
  return {
    imageId: img.id,
    imageLocation: `${img.ownerAlias ?? img.ownerId}/${img.name}`,
    imageState: img.state,
    imageOwnerId: img.ownerId,
    creationDate: isoTime(img.created),
    isPublic: img.isPublic,
    architecture: 'x86_64',
    imageType: 'machine',
    imageOwnerAlias: img.ownerAlias ?? undefined,
    name: img.name,
    description: img.description || undefined,
    rootDeviceType: 'ebs',
    rootDeviceName: '/dev/xvda',
    blockDeviceMapping: [
      {
        deviceName: '/dev/xvda',
        ebs: { snapshotId: img.snapshotId ?? undefined, volumeSize: img.volumeSizeGb, deleteOnTermination: true, volumeType: 'gp3', iops: 3000, throughput: 125, encrypted: false },
      },
    ],
    virtualizationType: 'hvm',
    tagSet: tagSet(img.tags),
    hypervisor: 'xen',
    enaSupport: true,
    sriovNetSupport: 'simple',
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    bootMode: 'uefi-preferred',
    stateReason: img.stateReason ? { ...img.stateReason } : undefined,
    sourceInstanceId: img.sourceInstanceId ?? undefined,
    deregistrationProtection: 'disabled',
    imdsSupport: ctx.cloud.accountId === img.ownerId ? undefined : 'v2.0',
  };
}

/** `Owner.N` values: self, amazon, an account id. */
function ownerMatches(owners: string[], ownerId: string, alias: string | null, self: string): boolean {
  return owners.length === 0 || owners.some((o) => (o === 'self' ? ownerId === self : o === ownerId || (alias !== null && o === alias)));
}

function imageFilter(f: Filter, img: ImageRec): boolean {
  const tag = matchTagFilter(f, img.tags);
  if (tag !== null) return tag;
  const values: Record<string, () => (string | null | undefined)[]> = {
    'image-id': () => [img.id],
    name: () => [img.name],
    state: () => [img.state],
    'owner-id': () => [img.ownerId],
    'owner-alias': () => [img.ownerAlias],
    'is-public': () => [String(img.isPublic)],
    description: () => [img.description],
    architecture: () => ['x86_64'],
    'image-type': () => ['machine'],
    'root-device-type': () => ['ebs'],
    'virtualization-type': () => ['hvm'],
    'block-device-mapping.snapshot-id': () => [img.snapshotId],
  };
  return matchNamedFilter(f, values);
}

export const describeImages: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const ids = p.list('ImageId');
  for (const id of ids) checkId('ami', id, 'InvalidAMIID.Malformed');
  const limit = maxResults(p, 5, 1000, 'imagesSet', ids.length > 0);
  const missing = ids.filter((id) => !cloud.seenImage(id));
  if (missing.length > 0) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
  const owners = p.list('Owner');
  const filters = p.filters();
  const list = (ids.length > 0 ? [...new Set(ids)].map((id) => cloud.seenImage(id)!) : cloud.seenImages())
    // Without ids, an account sees public images and its own.
    .filter((img) => ids.length > 0 || img.isPublic || img.ownerId === cloud.accountId)
    .filter((img) => ownerMatches(owners, img.ownerId, img.ownerAlias, cloud.accountId))
    .filter((img) => filters.every((f) => imageFilter(f, img)))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const { items, nextToken } = page(p, 'images', list, (img) => img.id, limit);
  return { imagesSet: items.map((img) => imageXml(img, ctx)), nextToken };
};

// AMI names: 3-128 characters of letters, digits and ( ) [ ] space . / - ' @ _ (CreateImage reference).
const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;

export const createImage: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const instanceId = p.required('InstanceId');
  const name = p.required('Name');
  checkId('i', instanceId, 'InvalidInstanceID.Malformed');
  const inst = cloud.instances.get(instanceId);
  if (!inst) throw ec2Error('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  if (inst.state !== 'running') throw ec2Error('IncorrectInstanceState', `The instance '${instanceId}' is not in a state from which it can be imaged.`);
  if (!AMI_NAME.test(name)) {
    throw ec2Error('InvalidAMIName.Malformed', `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`);
  }
  const dup = [...cloud.images.values()].find((img) => img.ownerId === cloud.accountId && img.name === name);
  if (dup) throw ec2Error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${dup.id}`);
  const specs = p.tagSpecs();
  for (const type of specs.keys()) {
    if (type !== 'image' && type !== 'snapshot') throw ec2Error('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`);
  }
  const img = cloud.createImage(inst, name, p.get('Description') ?? '', specs.get('image') ?? {}, specs.get('snapshot') ?? {});
  return { imageId: img.id };
};

export const deregisterImage: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const id = p.required('ImageId');
  checkId('ami', id, 'InvalidAMIID.Malformed');
  const img = cloud.images.get(id);
  if (!img) throw ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
  if (img.ownerId !== cloud.accountId) throw ec2Error('AuthFailure', `Not authorized for image:${id}`);
  cloud.deregister(img);
  const results: XmlNode[] = [];
  if (p.bool('DeleteAssociatedSnapshots') && img.snapshotId) {
    cloud.snapshots.delete(img.snapshotId);
    results.push({ snapshotId: img.snapshotId, returnCode: 'success' });
  }
  return { return: true, deleteSnapshotResultSet: results.length > 0 ? results : undefined };
};

function snapshotXml(s: SnapshotRec, now: number, imageTimeMs: number): XmlNode {
  const done = s.state === 'completed' ? 100 : Math.min(99, Math.floor(((now - s.started) / Math.max(1, imageTimeMs)) * 100));
  return {
    snapshotId: s.id,
    volumeId: s.volumeId,
    status: s.state,
    startTime: isoTime(s.started),
    progress: `${done}%`,
    ownerId: s.ownerId,
    volumeSize: s.sizeGb,
    description: s.description,
    encrypted: false,
    tagSet: tagSet(s.tags),
    storageTier: 'standard',
    completionTime: s.state === 'completed' ? isoTime(s.completesAt) : undefined,
  };
}

function snapshotFilter(f: Filter, s: SnapshotRec): boolean {
  const tag = matchTagFilter(f, s.tags);
  if (tag !== null) return tag;
  const values: Record<string, () => (string | null | undefined)[]> = {
    'snapshot-id': () => [s.id],
    status: () => [s.state],
    'volume-id': () => [s.volumeId],
    'owner-id': () => [s.ownerId],
    description: () => [s.description],
    'volume-size': () => [String(s.sizeGb)],
  };
  return matchNamedFilter(f, values);
}

export const describeSnapshots: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const ids = p.list('SnapshotId');
  for (const id of ids) checkId('snap', id, 'InvalidSnapshotID.Malformed');
  const limit = maxResults(p, 5, 1000, 'snapshotSet', ids.length > 0);
  const missing = ids.filter((id) => !cloud.snapshots.has(id));
  if (missing.length > 0) throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${missing.join(', ')}' does not exist.`);
  const owners = p.list('Owner');
  const filters = p.filters();
  const list = (ids.length > 0 ? [...new Set(ids)].map((id) => cloud.snapshots.get(id)!) : [...cloud.snapshots.values()])
    .filter((s) => ownerMatches(owners, s.ownerId, null, cloud.accountId))
    .filter((s) => filters.every((f) => snapshotFilter(f, s)))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const { items, nextToken } = page(p, 'snapshots', list, (s) => s.id, limit);
  const now = ctx.clock.now();
  return { snapshotSet: items.map((s) => snapshotXml(s, now, cloud.imageTimeMs)), nextToken };
};

export const deleteSnapshot: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const id = p.required('SnapshotId');
  checkId('snap', id, 'InvalidSnapshotID.Malformed');
  if (!cloud.snapshots.has(id)) throw ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  const user = [...cloud.images.values()].find((img) => img.snapshotId === id);
  if (user) throw ec2Error('InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${user.id}`);
  cloud.snapshots.delete(id);
  return { return: true };
};
