// What every action handler receives, and the pieces they share: id shapes, lists by id,
// MaxResults/NextToken pagination.
import type { Clock } from '../../../src/clock.js';
import type { Cloud } from './cloud.js';
import { ec2Error } from './errors.js';
import type { Params } from './query.js';
import type { Throttle } from './throttle.js';
import type { XmlNode } from './xml.js';

export interface Limits {
  /** vCPUs of running On-Demand instances (VcpuLimitExceeded beyond); null: unlimited. */
  vcpuLimit: number | null;
  /** vCPUs of running Spot instances (MaxSpotInstanceCountExceeded beyond); null: unlimited. */
  spotVcpuLimit: number | null;
  /** Instances not yet terminated (InstanceLimitExceeded beyond); null: unlimited. */
  instanceLimit: number | null;
  /** Instances of a type (key "t3.micro") or of a type in a zone ("t3.micro/us-east-1a") that may run at once (InsufficientInstanceCapacity beyond). */
  capacity: Record<string, number>;
}

/**
 * A fault in DescribeInstances' pages after the first: the request's NextToken answered again
 * (a chain that never ends), the token refused (InvalidPaginationToken, 400), the page failing
 * (InternalError, 500), or the previous page's last instance listed again (instances that come
 * and go while a list is taken).
 */
export type PaginationFault = 'repeat-token' | 'invalid-token' | 'page-error' | 'repeat-item';

export interface ActionCtx {
  params: Params;
  cloud: Cloud;
  clock: Clock;
  throttle: Throttle;
  limits: Limits;
  /** RunInstances ClientToken -> the request's fingerprint and the reservation it made. */
  clientTokens: Map<string, { fingerprint: string; reservationId: string; instanceIds: string[] }>;
  /** The injected pagination fault of DescribeInstances, if any. */
  pagination?: PaginationFault | null;
}

export type Handler = (ctx: ActionCtx) => XmlNode;

/** EC2 ids: prefix, dash, 8 (old form) or 17 hex digits. */
export function checkId(prefix: string, id: string, code: string): void {
  if (!new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id)) throw ec2Error(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
}

/** MaxResults (when given) within EC2's bounds, and not together with an id list. */
export function maxResults(p: Params, min: number, max: number, idParam: string, idsGiven: boolean): number | null {
  const n = p.int('MaxResults');
  if (n === undefined) return null;
  if (idsGiven) throw ec2Error('InvalidParameterCombination', `The parameter ${idParam} cannot be used with the parameter maxResults`);
  if (n < min || n > max) throw ec2Error('InvalidParameterValue', `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`);
  return n;
}

/** One page of `items` (sorted by `key`) after the NextToken, and the token of the next page. */
export function page<T>(p: Params, kind: string, items: T[], key: (t: T) => string, limit: number | null): { items: T[]; nextToken?: string } {
  const token = p.get('NextToken');
  let start = 0;
  if (token) {
    const after = decodeToken(kind, token);
    start = items.findIndex((t) => key(t) > after);
    if (start < 0) start = items.length;
  }
  if (limit === null) return { items: items.slice(start) };
  const slice = items.slice(start, start + limit);
  const more = start + limit < items.length;
  return { items: slice, nextToken: more ? encodeToken(kind, key(slice[slice.length - 1])) : undefined };
}

function encodeToken(kind: string, after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, k: kind, a: after })).toString('base64url');
}

function decodeToken(kind: string, token: string): string {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown; a?: unknown };
    if (t.k === kind && typeof t.a === 'string') return t.a;
  } catch {
    // falls through to the error below
  }
  throw ec2Error('InvalidPaginationToken', `The pagination token '${token}' is invalid.`);
}

/** A sortable key of a launch sequence number. */
export function seqKey(n: number): string {
  return n.toString().padStart(12, '0');
}
