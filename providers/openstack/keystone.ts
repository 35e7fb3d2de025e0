// Keystone v3 password authentication with a project scope, and the service catalog.
// One token per session, shared by every caller: concurrent callers wait on the same auth
// request; the token is renewed 60 s before `expires_at` (by the injected clock) and once after
// a 401 from any service, which covers tokens revoked early.
import type { Clock } from '../../src/clock.js';
import { AuthError, CloudError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { HttpClient, JsonRequest, JsonResponse } from './http.js';

/** Renew this long before the token's expires_at. */
export const TOKEN_RENEW_MARGIN_MS = 60_000;

export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface KeystoneCredentials {
  /** Identity URL, with or without the trailing /v3. */
  authUrl: string;
  username: string;
  password: string;
  userDomainName: string;
  projectName: string;
  projectDomainName: string;
}

export interface KeystoneOptions extends KeystoneCredentials {
  region?: string;
  interface?: EndpointInterface;
  http: HttpClient;
  clock: Clock;
  log: Logger;
}

interface CatalogEndpoint {
  interface?: string;
  region?: string | null;
  region_id?: string | null;
  url?: string;
}

interface CatalogEntry {
  type?: string;
  endpoints?: CatalogEndpoint[];
}

interface TokenState {
  id: string;
  expiresAt: number;
  catalog: CatalogEntry[];
}

/** POST body for password auth scoped to a project by name (Identity API v3). */
export function passwordAuthBody(c: KeystoneCredentials): unknown {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } },
      },
      scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
    },
  };
}

export function identityV3Url(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? base : `${base}/v3`;
}

/** Picks the URL of a service from a token's catalog; undefined when the catalog lacks it. */
export function findEndpoint(
  catalog: readonly CatalogEntry[],
  serviceType: string,
  iface: EndpointInterface,
  region?: string,
): string | undefined {
  for (const entry of catalog) {
    if (entry.type !== serviceType) continue;
    for (const ep of entry.endpoints ?? []) {
      if (ep.interface !== iface || !ep.url) continue;
      if (region && ep.region_id !== region && ep.region !== region) continue;
      return ep.url.replace(/\/+$/, '');
    }
  }
  return undefined;
}

export class KeystoneSession {
  private current: TokenState | null = null;
  private pending: Promise<TokenState> | null = null;
  private readonly iface: EndpointInterface;

  constructor(private readonly opts: KeystoneOptions) {
    this.iface = opts.interface ?? 'public';
  }

  /** A valid token id, authenticating first if there is none or it is about to expire. */
  async token(): Promise<string> {
    return (await this.state()).id;
  }

  /** Base URL of a service (no trailing slash), from the catalog of the current token. */
  async endpoint(serviceType: string): Promise<string> {
    const state = await this.state();
    const url = findEndpoint(state.catalog, serviceType, this.iface, this.opts.region);
    if (!url) {
      const where = this.opts.region ? ` in region ${this.opts.region}` : '';
      throw new CloudError(`the Keystone catalog has no ${this.iface} ${serviceType} endpoint${where}`);
    }
    return url;
  }

  /** Forgets `tokenId` if it is still the current token, so the next caller re-authenticates. */
  invalidate(tokenId: string): void {
    if (this.current?.id === tokenId) this.current = null;
  }

  /**
   * Calls a service: `path` is appended to its catalog URL (an absolute URL is used as is).
   * A 401 leads to one re-authentication and one retry.
   */
  async request<T = unknown>(serviceType: string, path: string, req: JsonRequest): Promise<JsonResponse<T>> {
    for (let attempt = 0; ; attempt++) {
      const url = /^https?:\/\//.test(path) ? path : `${await this.endpoint(serviceType)}${path}`;
      const state = await this.state();
      try {
        return await this.opts.http.json<T>(url, { ...req, headers: { ...req.headers, 'x-auth-token': state.id } });
      } catch (err) {
        if (attempt === 0 && err instanceof AuthError && err.status === 401) {
          this.opts.log.info({ service: serviceType }, 'token refused (401); authenticating again');
          this.invalidate(state.id);
          continue;
        }
        throw err;
      }
    }
  }

  private state(): Promise<TokenState> {
    const cur = this.current;
    if (cur && this.opts.clock.now() < cur.expiresAt - TOKEN_RENEW_MARGIN_MS) return Promise.resolve(cur);
    this.pending ??= this.authenticate().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async authenticate(): Promise<TokenState> {
    const url = `${identityV3Url(this.opts.authUrl)}/auth/tokens`;
    const res = await this.opts.http.json<{ token?: { expires_at?: string; catalog?: CatalogEntry[] } }>(url, {
      method: 'POST',
      body: passwordAuthBody(this.opts),
    });
    const raw = res.headers['x-subject-token'];
    const id = Array.isArray(raw) ? raw[0] : raw;
    if (!id) throw new AuthError(`POST ${new URL(url).pathname}: ${res.status} without an X-Subject-Token header`, res.status);
    const expires = Date.parse(res.body?.token?.expires_at ?? '');
    // No (or an unreadable) expiry: treat the token as good for an hour; a 401 still renews it.
    const expiresAt = Number.isNaN(expires) ? this.opts.clock.now() + 3_600_000 : expires;
    const state: TokenState = { id, expiresAt, catalog: res.body?.token?.catalog ?? [] };
    this.current = state;
    this.opts.log.debug({ expiresAt: new Date(expiresAt).toISOString() }, 'keystone token issued');
    return state;
  }
}
