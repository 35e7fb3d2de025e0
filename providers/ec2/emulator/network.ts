// The default VPC and its security groups: DescribeVpcs, DescribeSecurityGroups (API reference
// pages of the same names). Their rules are fixed: the default group's own, all egress.
import type { SecurityGroupRec } from './cloud.js';
import { maxResults, page, type Handler } from './context.js';
import { ec2Error } from './errors.js';
import { matchNamedFilter, matchTagFilter, tagSet, type Filter } from './query.js';
import type { XmlNode } from './xml.js';

function by(values: Record<string, () => (string | null | undefined)[]>, tags: Record<string, string>) {
  return (f: Filter): boolean => {
    const t = matchTagFilter(f, tags);
    if (t !== null) return t;
    return matchNamedFilter(f, values);
  };
}

export const describeVpcs: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const ids = p.list('VpcId');
  const missing = ids.filter((id) => id !== cloud.vpcId);
  if (missing.length > 0) throw ec2Error('InvalidVpcID.NotFound', `The vpc ID '${missing[0]}' does not exist`);
  const filters = p.filters();
  const ok = filters.every(by({ 'vpc-id': () => [cloud.vpcId], 'is-default': () => ['true'], state: () => ['available'], 'cidr-block': () => ['172.31.0.0/16'] }, {}));
  return {
    vpcSet: ok
      ? [
          {
            vpcId: cloud.vpcId,
            ownerId: cloud.accountId,
            state: 'available',
            cidrBlock: '172.31.0.0/16',
            cidrBlockAssociationSet: [{ cidrBlock: '172.31.0.0/16', associationId: `vpc-cidr-assoc-${cloud.vpcId.slice(4)}`, cidrBlockState: { state: 'associated' } }],
            dhcpOptionsId: `dopt-${cloud.vpcId.slice(4)}`,
            instanceTenancy: 'default',
            isDefault: true,
          },
        ]
      : [],
  };
};

function groupXml(g: SecurityGroupRec, accountId: string, region: string): XmlNode {
  const self = g.name === 'default' ? [{ ipProtocol: '-1', groups: [{ groupId: g.id, userId: accountId }], ipRanges: [], ipv6Ranges: [], prefixListIds: [] }] : [];
  return {
    ownerId: accountId,
    groupId: g.id,
    groupName: g.name,
    groupDescription: g.description,
    vpcId: g.vpcId,
    securityGroupArn: `arn:aws:ec2:${region}:${accountId}:security-group/${g.id}`,
    ipPermissions: self,
    ipPermissionsEgress: [{ ipProtocol: '-1', groups: [], ipRanges: [{ cidrIp: '0.0.0.0/0' }], ipv6Ranges: [], prefixListIds: [] }],
    tagSet: tagSet(g.tags),
  };
}

export const describeSecurityGroups: Handler = (ctx) => {
  const { params: p, cloud } = ctx;
  const ids = p.list('GroupId');
  const names = p.list('GroupName');
  const limit = maxResults(p, 5, 1000, 'groupIds', ids.length > 0 || names.length > 0);
  for (const id of ids) if (!cloud.securityGroups.some((g) => g.id === id)) throw ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
  for (const n of names) {
    if (!cloud.securityGroups.some((g) => g.name === n)) throw ec2Error('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC '${cloud.vpcId}'`);
  }
  const filters = p.filters();
  const list = cloud.securityGroups
    .filter((g) => (ids.length === 0 && names.length === 0) || ids.includes(g.id) || names.includes(g.name))
    .filter((g) => filters.every(by({ 'group-id': () => [g.id], 'group-name': () => [g.name], 'vpc-id': () => [g.vpcId], description: () => [g.description] }, g.tags)))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const { items, nextToken } = page(p, 'security-groups', list, (g) => g.id, limit);
  return { securityGroupInfo: items.map((g) => groupXml(g, cloud.accountId, cloud.region)), nextToken };
};
