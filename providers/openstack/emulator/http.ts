// Small HTTP helpers shared by the Keystone, Nova and Glance handlers of the emulator.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Headers = Record<string, string>;

/** One request as a handler sees it: parsed URL, headers, JSON body (undefined when absent). */
export interface Req {
  method: string;
  url: URL;
  /** Path below the service root, e.g. "/servers/abc" for /compute/v2.1/servers/abc. */
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** The body text was present but not valid JSON. */
  badJson: boolean;
}

export interface Reply {
  status: number;
  headers?: Headers;
  /** Objects are sent as JSON; strings as they are; undefined as an empty body. */
  body?: unknown;
}

export class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

export async function readBody(req: IncomingMessage, maxBytes = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) throw new HttpError({ status: 413, body: { error: 'request too large' } });
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJson(text: string): { body: unknown; badJson: boolean } {
  if (text.trim() === '') return { body: undefined, badJson: false };
  try {
    return { body: JSON.parse(text) as unknown, badJson: false };
  } catch {
    return { body: undefined, badJson: true };
  }
}

export function send(res: ServerResponse, reply: Reply): void {
  const headers: Headers = { ...(reply.headers ?? {}) };
  let payload: string | undefined;
  if (reply.body !== undefined) {
    if (typeof reply.body === 'string') {
      payload = reply.body;
      headers['Content-Type'] ??= 'text/plain; charset=UTF-8';
    } else {
      payload = JSON.stringify(reply.body);
      headers['Content-Type'] ??= 'application/json';
    }
  }
  headers['Content-Length'] = String(payload === undefined ? 0 : Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Nova and Glance print times without milliseconds: 2024-01-02T03:04:05Z. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Keystone prints microseconds: 2024-01-02T03:04:05.000000Z. */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** keystonemiddleware's answer when a token is missing, unknown or expired. */
export function unauthorized(identityUri: string): Reply {
  return {
    status: 401,
    headers: { 'WWW-Authenticate': `Keystone uri="${identityUri}"` },
    body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } },
  };
}
