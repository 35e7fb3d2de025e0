// Nova microversion negotiation: `OpenStack-API-Version: compute X.Y`, or the legacy
// `X-OpenStack-Nova-API-Version: X.Y`; absent means the base 2.1; "latest" means the maximum.
import type { IncomingMessage } from 'node:http';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.96';

export interface Microversion {
  major: number;
  minor: number;
  text: string;
}

export type VersionResult = { ok: true; version: Microversion } | { ok: false; status: 400 | 406; message: string };

export function parseVersion(text: string): Microversion | null {
  const m = /^([1-9]\d*)\.(0|[1-9]\d*)$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), text: `${m[1]}.${m[2]}` } : null;
}

export function compare(a: Microversion, b: Microversion): number {
  return a.major - b.major || a.minor - b.minor;
}

const MIN = parseVersion(MIN_VERSION)!;
const MAX = parseVersion(MAX_VERSION)!;

/** True when the request's version is at least `v` ("2.47"). */
export function atLeast(version: Microversion, v: string): boolean {
  return compare(version, parseVersion(v)!) >= 0;
}

function requested(headers: IncomingMessage['headers']): string | null {
  const modern = headers['openstack-api-version'];
  const values = (Array.isArray(modern) ? modern.join(',') : (modern ?? '')).split(',');
  for (const item of values) {
    const [service, version] = item.trim().split(/\s+/, 2);
    if (service?.toLowerCase() === 'compute' && version) return version;
  }
  const legacy = headers['x-openstack-nova-api-version'];
  const v = Array.isArray(legacy) ? legacy[0] : legacy;
  return v ? v.trim() : null;
}

export function negotiate(headers: IncomingMessage['headers']): VersionResult {
  const text = requested(headers);
  if (text === null) return { ok: true, version: MIN };
  if (text.toLowerCase() === 'latest') return { ok: true, version: MAX };
  const v = parseVersion(text);
  if (!v) {
    return {
      ok: false,
      status: 400,
      message: `API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`,
    };
  }
  if (compare(v, MIN) < 0 || compare(v, MAX) > 0) {
    return {
      ok: false,
      status: 406,
      message: `Version ${v.text} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
    };
  }
  return { ok: true, version: v };
}

/** Headers Nova sends on every v2.1 answer once the version is known. */
export function versionHeaders(v: Microversion): Record<string, string> {
  return {
    'OpenStack-API-Version': `compute ${v.text}`,
    'X-OpenStack-Nova-API-Version': v.text,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}
