// A small JSON-over-HTTP helper on undici: one Agent per client (connection reuse across the
// Keystone, Nova and Glance hosts), a per-request timeout, and the cloud's error answers turned
// into the typed errors of src/errors.ts so that policy above the driver can act on `code`.
import { Agent, request, type Dispatcher } from 'undici';
import {
  AuthError,
  BadRequestError,
  CloudError,
  CloudNetworkError,
  CloudServerError,
  ConflictError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
} from '../../src/errors.js';

export interface HttpOptions {
  /** Whole-request budget (connect, headers, body). Default 30 s. */
  timeoutMs?: number;
  /** Connections kept per origin. Default 8. */
  connections?: number;
  /** Wall-clock "now" for HTTP-date Retry-After values. Default Date.now. */
  now?: () => number;
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  headers?: Record<string, string>;
  /** Sent as JSON when defined. */
  body?: unknown;
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or undefined for an empty body (202/204). */
  body: T;
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private closing: Promise<void> | null = null;

  constructor(opts: HttpOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.agent = new Agent({
      connections: opts.connections ?? 8,
      connect: { timeout: this.timeoutMs },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /** Sends one request; resolves on 2xx, throws a CloudError subclass otherwise. */
  async json<T = unknown>(url: string, req: JsonRequest): Promise<JsonResponse<T>> {
    const path = pathOf(url);
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(url, {
        method: req.method,
        headers,
        body: payload,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.body.text();
    } catch (err) {
      throw networkError(req.method, path, err, this.timeoutMs);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) {
      let body: unknown = undefined;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch (err) {
          throw new CloudServerError(`${req.method} ${path}: ${res.statusCode} with a body that is not JSON`, res.statusCode, { cause: err });
        }
      }
      return { status: res.statusCode, headers: res.headers, body: body as T };
    }
    throw httpError(req.method, path, res.statusCode, res.headers, text, this.now());
  }

  /** Idempotent: the same promise on every call. */
  close(): Promise<void> {
    this.closing ??= this.agent.close().catch(() => this.agent.destroy());
    return this.closing;
  }
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

function networkError(method: string, path: string, err: unknown, timeoutMs: number): CloudNetworkError {
  const e = err as { name?: string; code?: string; message?: string };
  const timedOut = e?.name === 'TimeoutError' || /TIMEOUT/.test(e?.code ?? '');
  const why = timedOut ? `timed out after ${timeoutMs} ms` : `${e?.code ?? e?.name ?? 'error'}: ${e?.message ?? String(err)}`;
  return new CloudNetworkError(`${method} ${path}: ${why}`, undefined, { cause: err });
}

const QUOTA_TEXT = /quota exceeded|exceeds? .*quota|over quota/i;

/**
 * Maps a non-2xx answer to a typed error. Pure (exported for tests).
 * Nova wraps errors as {"<kind>": {"message", "code", "retryAfter"?}}, Keystone as
 * {"error": {"message", "code", "title"}}, Glance answers plain text or HTML.
 */
export function httpError(
  method: string,
  path: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
  now: number,
): CloudError {
  const { message, retryAfter } = cloudMessage(bodyText);
  const text = `${method} ${path}: ${status}${message ? ` ${message}` : ''}`;
  const headerRetry = retryAfterMs(header(headers, 'retry-after'), now);
  const bodyRetry = retryAfterMs(retryAfter, now);
  const quota = QUOTA_TEXT.test(message);

  if (status === 404) return new NotFoundError(text, status);
  if ((status === 403 || status === 413) && quota) return new QuotaExceededError(text, status);
  if (status === 429 || (status === 413 && (headerRetry !== null || bodyRetry !== null))) {
    return new RateLimitedError(text, status, headerRetry ?? bodyRetry);
  }
  if (status === 409) return new ConflictError(text, status);
  if (status >= 500) return new CloudServerError(text, status);
  if (status === 401 || status === 403) return new AuthError(text, status);
  if (status >= 400) return new BadRequestError(text, status);
  return new CloudError(text, status);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 10.2.3); null when absent or unreadable. */
export function retryAfterMs(value: string | number | undefined | null, now: number): number | null {
  if (value === undefined || value === null) return null;
  const text = String(value).trim();
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The cloud's own words from an error body, whatever service wrote it. */
export function cloudMessage(bodyText: string): { message: string; retryAfter?: string | number } {
  const trimmed = bodyText.trim();
  if (trimmed === '') return { message: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // Glance and proxies: plain text or a small HTML page.
    return { message: squash(trimmed) };
  }
  if (parsed && typeof parsed === 'object') {
    const obj = parsed as Record<string, unknown>;
    if (typeof obj.message === 'string') return { message: squash(obj.message), retryAfter: asRetry(obj.retryAfter) };
    for (const v of Object.values(obj)) {
      if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).message === 'string') {
        const inner = v as Record<string, unknown>;
        return { message: squash(inner.message as string), retryAfter: asRetry(inner.retryAfter) };
      }
    }
  }
  return { message: squash(trimmed) };
}

function asRetry(v: unknown): string | number | undefined {
  return typeof v === 'string' || typeof v === 'number' ? v : undefined;
}

/** One line without markup: Glance puts "<br />" even inside its JSON messages. */
function squash(s: string): string {
  const one = s.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}...` : one;
}
