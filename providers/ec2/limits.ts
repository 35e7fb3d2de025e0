// The EC2 API token buckets the driver declares, so ManagedProvider paces us as EC2 meters us and
// throttling stays the exception. Figures from "Request throttling for the Amazon EC2 API",
// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html (bucket size / refill
// per second; each API action has its own request bucket, sized by its category):
//   request buckets   non-mutating actions (Describe*)                 100 / 20
//                     mutating actions (RunInstances, TerminateInstances,
//                       CreateImage, DeregisterImage, DeleteSnapshot)  200 / 5
//   resource buckets  RunInstances, one token per instance            1000 / 2
//                     TerminateInstances, one token per instance      1000 / 20
// The account shares these with every other tool in the region: `rate-limits` lowers them.
import type { ProviderConfig } from '../../src/config.js';
import type { DriverRateLimits, RateBucket } from '../provider.js';

export interface BucketFigures {
  burst: number;
  refill: number;
}

export const EC2_DEFAULT_BUCKETS = {
  'non-mutating': { burst: 100, refill: 20 },
  mutating: { burst: 200, refill: 5 },
  'run-instances': { burst: 200, refill: 5 },
  'run-instances-resource': { burst: 1000, refill: 2 },
  'terminate-instances-resource': { burst: 1000, refill: 20 },
} satisfies Record<string, BucketFigures>;

export type Ec2BucketKind = keyof typeof EC2_DEFAULT_BUCKETS;

/** The EC2 actions we call, with the kind of request bucket each has. */
const ACTIONS: Record<string, Ec2BucketKind> = {
  DescribeInstances: 'non-mutating',
  DescribeImages: 'non-mutating',
  DescribeInstanceTypes: 'non-mutating',
  DescribeAccountAttributes: 'non-mutating',
  DescribeSnapshots: 'non-mutating',
  RunInstances: 'run-instances',
  TerminateInstances: 'mutating',
  CreateImage: 'mutating',
  DeregisterImage: 'mutating',
  DeleteSnapshot: 'mutating',
};

const RUN_RESOURCE = 'RunInstances:resource';
const TERMINATE_RESOURCE = 'TerminateInstances:resource';

/**
 * EC2 actions one call of each driver method makes, at most (images: ours and the base images;
 * quota: the account attribute and the usage list; an image delete: describe, deregister, one
 * snapshot). Pages beyond the first are rare at MaxResults 1000 and are not charged ahead.
 */
const COSTS: Record<string, Record<string, number>> = {
  createServer: { RunInstances: 1, [RUN_RESOURCE]: 1 },
  listServers: { DescribeInstances: 1 },
  getServer: { DescribeInstances: 1 },
  deleteServer: { TerminateInstances: 1, [TERMINATE_RESOURCE]: 1 },
  listFlavors: { DescribeInstanceTypes: 1 },
  getQuota: { DescribeAccountAttributes: 1, DescribeInstances: 1 },
  listImages: { DescribeImages: 2 },
  createImage: { CreateImage: 1 },
  deleteImage: { DescribeImages: 1, DeregisterImage: 1, DeleteSnapshot: 1 },
  listImageArtifacts: { DescribeSnapshots: 1, DescribeImages: 1 },
  deleteImageArtifact: { DeleteSnapshot: 1 },
  // (DescribeSnapshots only when the AMI is already gone: not charged ahead)
};

export function ec2Buckets(overrides: ProviderConfig['rate-limits'] = {}): Record<Ec2BucketKind, BucketFigures> {
  return { ...EC2_DEFAULT_BUCKETS, ...Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined)) };
}

export function ec2RateLimits(overrides?: ProviderConfig['rate-limits']): DriverRateLimits {
  const figures = ec2Buckets(overrides);
  // One token of headroom: EC2's bucket starts at our first request's arrival, later than ours
  // starts, so without it the first token after a full burst would reach EC2 a little early.
  const bucket = (name: string, f: BucketFigures): RateBucket => ({ name, burst: Math.max(1, Math.floor(f.burst) - 1), refillPerSecond: f.refill });
  const buckets = [
    ...Object.entries(ACTIONS).map(([action, kind]) => bucket(action, figures[kind])),
    bucket(RUN_RESOURCE, figures['run-instances-resource']),
    bucket(TERMINATE_RESOURCE, figures['terminate-instances-resource']),
  ];
  return { buckets, cost: (op) => COSTS[op] ?? {} };
}
