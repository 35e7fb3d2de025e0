// Keystone v3 password authentication: issues scoped tokens with a service catalog and
// validates them for Nova and Glance. Token lifetime follows the injected clock.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../../src/clock.js';
import { isObject, isoMicros, type Reply, type Req } from './http.js';
import { randomHex, type Rng } from '../../../src/prng.js';

export interface EmulatorUser {
  username: string;
  password: string;
  project: string;
  /** Domain name; "Default" has the id "default" as in a stock deployment. */
  domain: string;
}

interface Principal {
  userId: string;
  user: EmulatorUser;
  domainId: string;
  projectId: string;
}

export interface TokenInfo {
  principal: Principal;
  /** null for an unscoped token (no project, no catalog). */
  projectId: string | null;
  issuedAt: number;
  expiresAt: number;
}

export interface CatalogUrls {
  compute: string;
  image: string;
  network: string;
  identity: string;
}

export class Keystone {
  private readonly principals: Principal[];
  private readonly tokens = new Map<string, TokenInfo>();

  constructor(
    users: readonly EmulatorUser[],
    rng: Rng,
    private readonly clock: Clock,
    private readonly region: string,
    private readonly tokenTtlMs: number,
    private readonly urls: () => CatalogUrls,
  ) {
    const domainIds = new Map<string, string>();
    const projectIds = new Map<string, string>();
    this.principals = users.map((user) => {
      let domainId = domainIds.get(user.domain);
      if (!domainId) {
        domainId = user.domain === 'Default' ? 'default' : randomHex(rng, 32);
        domainIds.set(user.domain, domainId);
      }
      // Users naming the same project (and domain) share it, as in a real deployment.
      const projectKey = `${domainId}/${user.project}`;
      let projectId = projectIds.get(projectKey);
      if (!projectId) {
        projectId = randomHex(rng, 32);
        projectIds.set(projectKey, projectId);
      }
      return { userId: randomHex(rng, 32), user, domainId, projectId };
    });
  }

  /** The project of the first user. */
  firstProjectId(): string | null {
    return this.principals[0]?.projectId ?? null;
  }

  /** The token, if it exists and has not expired by the clock. */
  validate(token: string | undefined): TokenInfo | null {
    if (!token) return null;
    const info = this.tokens.get(token);
    if (!info) return null;
    if (this.clock.now() >= info.expiresAt) {
      this.tokens.delete(token);
      return null;
    }
    return info;
  }

  /** Forget every token, as if Keystone's keys were rotated: clients must authenticate again. */
  revokeAll(): void {
    this.tokens.clear();
  }

  handle(req: Req): Reply {
    if (req.path === '' || req.path === '/') {
      if (req.method !== 'GET') return this.error(405, 'Method Not Allowed', 'The method is not allowed for the requested URL.');
      return { status: 200, body: this.versionDocument() };
    }
    if (req.path === '/auth/tokens') {
      if (req.method === 'POST') return this.issue(req);
      if (req.method === 'GET') return this.show(req);
      return this.error(405, 'Method Not Allowed', 'The method is not allowed for the requested URL.');
    }
    return this.error(404, 'Not Found', 'The resource could not be found.');
  }

  private versionDocument(): unknown {
    return {
      version: {
        id: 'v3.14',
        status: 'stable',
        updated: '2020-04-07T00:00:00Z',
        links: [{ rel: 'self', href: `${this.urls().identity}/` }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
      },
    };
  }

  private error(code: number, title: string, message: string, headers?: Record<string, string>): Reply {
    return { status: code, headers, body: { error: { code, message, title } } };
  }

  private unauthorized(): Reply {
    const uri = this.urls().identity.replace(/\/v3$/, '');
    return this.error(401, 'Unauthorized', 'The request you have made requires authentication.', {
      'WWW-Authenticate': `Keystone uri="${uri}"`,
    });
  }

  private badRequest(message: string): Reply {
    return this.error(400, 'Bad Request', message);
  }

  private issue(req: Req): Reply {
    if (req.badJson) return this.badRequest('Malformed JSON in request body.');
    const auth = isObject(req.body) ? req.body.auth : undefined;
    if (!isObject(auth)) return this.badRequest("Invalid input for field 'auth': 'auth' is a required property");
    const identity = auth.identity;
    if (!isObject(identity) || !Array.isArray(identity.methods)) {
      return this.badRequest("Invalid input for field 'identity': 'methods' is a required property");
    }
    if (!identity.methods.includes('password')) return this.unauthorized();
    const password = isObject(identity.password) ? identity.password : undefined;
    const user = password && isObject(password.user) ? password.user : undefined;
    if (!user) return this.badRequest("Invalid input for field 'password': 'user' is a required property");
    const principal = this.findUser(user);
    if (!principal || principal.user.password !== user.password) return this.unauthorized();

    let projectId: string | null = null;
    const scope = auth.scope;
    if (isObject(scope)) {
      const project = scope.project;
      if (!isObject(project)) return this.badRequest('Only project scope is supported by this emulator.');
      if (!this.projectMatches(principal, project)) return this.unauthorized();
      projectId = principal.projectId;
    }

    const now = this.clock.now();
    const token = `gAAAAA${randomBytes(60).toString('base64url')}`;
    const info: TokenInfo = { principal, projectId, issuedAt: now, expiresAt: now + this.tokenTtlMs };
    this.tokens.set(token, info);
    return { status: 201, headers: { 'X-Subject-Token': token, Vary: 'X-Auth-Token' }, body: this.tokenBody(info) };
  }

  // GET /auth/tokens: validate X-Subject-Token with X-Auth-Token, as services do.
  private show(req: Req): Reply {
    const caller = this.validate(header(req, 'x-auth-token'));
    if (!caller) return this.unauthorized();
    const subjectToken = header(req, 'x-subject-token');
    const subject = this.validate(subjectToken);
    if (!subject || !subjectToken) return this.error(404, 'Not Found', `Could not find token: ${subjectToken ?? ''}.`);
    return { status: 200, headers: { 'X-Subject-Token': subjectToken, Vary: 'X-Auth-Token' }, body: this.tokenBody(subject) };
  }

  private findUser(user: Record<string, unknown>): Principal | undefined {
    if (typeof user.id === 'string') return this.principals.find((p) => p.userId === user.id);
    if (typeof user.name !== 'string') return undefined;
    const domain = isObject(user.domain) ? user.domain : undefined;
    if (!domain) return undefined;
    return this.principals.find((p) => p.user.username === user.name && domainMatches(p, domain));
  }

  private projectMatches(p: Principal, project: Record<string, unknown>): boolean {
    if (typeof project.id === 'string') return project.id === p.projectId;
    if (project.name !== p.user.project) return false;
    return isObject(project.domain) && domainMatches(p, project.domain);
  }

  private tokenBody(info: TokenInfo): unknown {
    const p = info.principal;
    const domain = { id: p.domainId, name: p.user.domain };
    const token: Record<string, unknown> = {
      methods: ['password'],
      user: { domain, id: p.userId, name: p.user.username, password_expires_at: null },
      audit_ids: [randomBytes(16).toString('base64url').slice(0, 22)],
      expires_at: isoMicros(info.expiresAt),
      issued_at: isoMicros(info.issuedAt),
    };
    if (info.projectId) {
      token.project = { domain, id: p.projectId, name: p.user.project };
      token.is_domain = false;
      token.roles = [
        { id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', name: 'member' },
        { id: '0f9e8d7c6b5a49382716f5e4d3c2b1a0', name: 'reader' },
      ];
      token.catalog = this.catalog();
    }
    return { token };
  }

  private catalog(): unknown[] {
    const urls = this.urls();
    const entry = (type: string, name: string, url: string, idPrefix: string) => ({
      type,
      name,
      id: `${idPrefix}00000000000000000000000000000000`.slice(0, 32),
      endpoints: (['public', 'internal', 'admin'] as const).map((iface, i) => ({
        id: `${idPrefix}${i + 1}0000000000000000000000000000000`.slice(0, 32),
        interface: iface,
        region: this.region,
        region_id: this.region,
        url,
      })),
    });
    return [
      entry('identity', 'keystone', urls.identity.replace(/\/v3$/, ''), 'a0'),
      entry('compute', 'nova', urls.compute, 'c0'),
      entry('image', 'glance', urls.image, 'e0'),
      entry('network', 'neutron', urls.network, 'b0'),
    ];
  }
}

function domainMatches(p: Principal, domain: Record<string, unknown>): boolean {
  if (typeof domain.id === 'string') return domain.id === p.domainId;
  return domain.name === p.user.domain;
}

export function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
