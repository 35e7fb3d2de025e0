// EC2's API throttling: token buckets per API action (request rate limiting) plus resource buckets
// for the actions that launch or stop instances (resource rate limiting), as "Request throttling
// for the Amazon EC2 API" describes them:
// https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
// (also https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html). Default figures
// (bucket maximum capacity / refill tokens per second):
//   request buckets, one per action, sized by its category:
//     non-mutating (Describe*, Get*, List*, Search*)              100 / 20
//     unfiltered and unpaginated non-mutating                      50 / 10
//     mutating (every other action, RunInstances, CreateImage...)  200 / 5
//     resource-intensive (CreateKeyPair, RequestSpotInstances...)   50 / 5
//   resource buckets, one token per instance:
//     RunInstances 1000 / 2, TerminateInstances 1000 / 20, StartInstances 1000 / 2, StopInstances 1000 / 20
// Over a bucket the answer is 503 RequestLimitExceeded. Refill is continuous here (AWS adds the
// tokens once a second), so a ManualClock advanced by 500 ms yields half a second's tokens.
import type { Clock } from '../../../src/clock.js';

export type BucketCategory = 'non-mutating' | 'unfiltered-non-mutating' | 'mutating' | 'resource-intensive';
export type ResourceAction = 'RunInstances' | 'TerminateInstances' | 'StartInstances' | 'StopInstances';

export interface BucketFigures {
  size: number;
  refillPerSecond: number;
}

export const REQUEST_BUCKETS: Record<BucketCategory, BucketFigures> = {
  'non-mutating': { size: 100, refillPerSecond: 20 },
  'unfiltered-non-mutating': { size: 50, refillPerSecond: 10 },
  mutating: { size: 200, refillPerSecond: 5 },
  'resource-intensive': { size: 50, refillPerSecond: 5 },
};

export const RESOURCE_BUCKETS: Record<ResourceAction, BucketFigures> = {
  RunInstances: { size: 1000, refillPerSecond: 2 },
  TerminateInstances: { size: 1000, refillPerSecond: 20 },
  StartInstances: { size: 1000, refillPerSecond: 2 },
  StopInstances: { size: 1000, refillPerSecond: 20 },
};

const RESOURCE_INTENSIVE = new Set([
  'AcceptVpcPeeringConnection',
  'AuthorizeSecurityGroupIngress',
  'CancelSpotFleetRequests',
  'CreateKeyPair',
  'CreateVpcPeeringConnection',
  'DeleteVpcPeeringConnection',
  'RejectVpcPeeringConnection',
  'RequestSpotFleet',
  'RequestSpotInstances',
  'RevokeSecurityGroupIngress',
]);

export function categoryOf(action: string, unfiltered: boolean): BucketCategory {
  if (/^(Describe|Get|List|Search)/.test(action)) return unfiltered ? 'unfiltered-non-mutating' : 'non-mutating';
  return RESOURCE_INTENSIVE.has(action) ? 'resource-intensive' : 'mutating';
}

export interface ThrottleOptions {
  /** Multiplies every bucket's size (at least 1) and refill rate (0.01: RunInstances' resource bucket holds 10 and refills 0.02/s). Default 1. */
  scale?: number;
  /** Figures per request category, replacing the defaults (before `scale`). */
  requestBuckets?: Partial<Record<BucketCategory, BucketFigures>>;
  /** Figures per resource bucket, replacing the defaults (before `scale`). */
  resourceBuckets?: Partial<Record<ResourceAction, BucketFigures>>;
}

class Bucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly figures: BucketFigures,
    now: number,
  ) {
    this.tokens = figures.size;
    this.at = now;
  }

  level(now: number): number {
    const elapsed = Math.max(0, now - this.at) / 1000;
    this.tokens = Math.min(this.figures.size, this.tokens + elapsed * this.figures.refillPerSecond);
    this.at = now;
    return this.tokens;
  }

  take(n: number, now: number): boolean {
    // A tiny epsilon: refills computed in floating point must not miss a whole token by 1e-12.
    if (this.level(now) + 1e-9 < n) return false;
    this.tokens = Math.max(0, this.tokens - n);
    return true;
  }
}

export class Throttle {
  private readonly request = new Map<string, Bucket>();
  private readonly resource = new Map<ResourceAction, Bucket>();
  private readonly requestFigures: Record<BucketCategory, BucketFigures>;
  private readonly resourceFigures: Record<ResourceAction, BucketFigures>;

  private readonly enabled: boolean;

  /** `false`: no throttling at all (every bucket bottomless). */
  constructor(
    private readonly clock: Clock,
    options: ThrottleOptions | false,
  ) {
    this.enabled = options !== false;
    const opts = options === false ? {} : options;
    const scale = opts.scale ?? 1;
    if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`throttle scale must be a positive number, got ${scale}`);
    // At least one token: a bucket smaller than one request would refuse every call for ever.
    const scaled = (f: BucketFigures): BucketFigures => ({ size: Math.max(1, f.size * scale), refillPerSecond: f.refillPerSecond * scale });
    this.requestFigures = Object.fromEntries(
      Object.entries({ ...REQUEST_BUCKETS, ...opts.requestBuckets }).map(([k, f]) => [k, scaled(f)]),
    ) as Record<BucketCategory, BucketFigures>;
    this.resourceFigures = Object.fromEntries(
      Object.entries({ ...RESOURCE_BUCKETS, ...opts.resourceBuckets }).map(([k, f]) => [k, scaled(f)]),
    ) as Record<ResourceAction, BucketFigures>;
  }

  /** Takes one request token of the action's own bucket; false when it is empty. */
  takeRequest(action: string, unfiltered: boolean): boolean {
    if (!this.enabled) return true;
    const category = categoryOf(action, unfiltered);
    const key = `${category}:${action}`;
    let b = this.request.get(key);
    if (!b) this.request.set(key, (b = new Bucket(this.requestFigures[category], this.clock.now())));
    return b.take(1, this.clock.now());
  }

  /** Whole resource tokens available now (Infinity for actions without a resource bucket). */
  resourceLevel(action: string): number {
    const b = this.resourceBucket(action);
    return b ? Math.floor(b.level(this.clock.now()) + 1e-9) : Infinity;
  }

  takeResource(action: string, n: number): boolean {
    const b = this.resourceBucket(action);
    return b ? b.take(n, this.clock.now()) : true;
  }

  private resourceBucket(action: string): Bucket | null {
    if (!this.enabled) return null;
    if (!(action in this.resourceFigures)) return null;
    const a = action as ResourceAction;
    let b = this.resource.get(a);
    if (!b) this.resource.set(a, (b = new Bucket(this.resourceFigures[a], this.clock.now())));
    return b;
  }
}
