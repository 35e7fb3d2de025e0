// AWS Signature Version 4 as EC2 checks it: the Authorization header's shape
// (AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/ec2/aws4_request, SignedHeaders=..., Signature=...),
// the access key, the scope's region and service, and the signature itself over the canonical
// request (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
// The request time is not checked against the clock: a ManualClock would make every request stale.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ec2Error } from './errors.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9\-;]+),\s*Signature=([0-9a-f]{64})$/;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Throws the EC2 error a real endpoint answers for a missing, malformed or wrong signature. */
export function verifySigV4(
  req: { method: string; path: string; query: string; headers: IncomingHttpHeaders; body: Buffer },
  keys: readonly Credentials[],
  region: string,
): Credentials {
  const auth = header(req.headers, 'authorization');
  if (!auth) throw ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials');
  const m = AUTH_RE.exec(auth.trim());
  if (!m) throw ec2Error('IncompleteSignature', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=${auth.split(' ')[0]}`);
  const [, akid, date, scopeRegion, service, signedHeaders, signature] = m;
  const cred = keys.find((k) => k.accessKeyId === akid);
  if (!cred) throw ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials');
  if (service !== 'ec2') throw ec2Error('SignatureDoesNotMatch', `Credential should be scoped to correct service: 'ec2'.`);
  if (scopeRegion !== region) throw ec2Error('AuthFailure', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  const amzDate = header(req.headers, 'x-amz-date');
  if (!amzDate || !amzDate.startsWith(date)) throw ec2Error('IncompleteSignature', 'Date must be in ISO-8601 \'basic format\'. Got \'\'.');
  const names = signedHeaders.split(';');
  if (!names.includes('host')) throw ec2Error('SignatureDoesNotMatch', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  const canonicalHeaders = names.map((n) => `${n}:${(header(req.headers, n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = header(req.headers, 'x-amz-content-sha256') ?? sha256(req.body);
  const canonical = [req.method, req.path, req.query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${scopeRegion}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${cred.secretAccessKey}`, date), scopeRegion), service), 'aws4_request');
  const expected = Buffer.from(createHmac('sha256', key).update(toSign).digest('hex'));
  const given = Buffer.from(signature);
  if (payloadHash !== sha256(req.body) || !timingSafeEqual(expected, given)) {
    throw ec2Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return cred;
}
