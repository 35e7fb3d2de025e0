// The Jenkins REST surface of the simulated master (node:http): the crumb issuer and the node
// ("computer") endpoints Nodepool uses, answering with Jenkins' status codes, headers and bodies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { NodeDefinition } from './sim-node.js';

export interface ComputerInfo {
  name: string;
  description: string;
  labels: string[];
  idle: boolean;
  offline: boolean;
  temporarilyOffline: boolean;
  /** The message given to toggleOffline; null when online. */
  offlineMessage: string | null;
}

/** What the REST layer needs from the master's node registry. */
export interface NodeRegistry {
  create(def: NodeDefinition): 'created' | 'exists';
  delete(name: string): Promise<boolean>;
  /** Jenkins' toggleOffline; false for an unknown node. */
  toggleOffline(name: string, message: string): boolean;
  get(name: string): ComputerInfo | undefined;
  list(): ComputerInfo[];
}

export interface JenkinsApiOptions {
  user: string;
  apiToken: string;
  registry: NodeRegistry;
  log: Logger;
}

const JENKINS_VERSION = '2.426.3';
const CRUMB_FIELD = 'Jenkins-Crumb';
/** Characters Jenkins.checkGoodName refuses in a node name. */
const UNSAFE = /[?*/\\%!@#$^&|<>[\]:;]/;

export class JenkinsApi {
  private server: Server | null = null;
  private crumb = randomBytes(32).toString('hex');
  private closing: Promise<void> | null = null;
  private readonly counts = new Map<string, number>();
  url = '';

  constructor(private readonly opts: JenkinsApiOptions) {}

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        this.opts.log.error({ error }, 'sim jenkins api error');
        if (!res.headersSent) send(res, 500, 'text/html;charset=utf-8', errorPage(500, 'Server Error'));
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/`;
    return this.url;
  }

  /** Invalidates the issued crumb, as a master restart does: the next POST with the old one gets 403. */
  expireCrumb(): void {
    this.crumb = randomBytes(32).toString('hex');
  }

  /** Requests served, keyed "METHOD /path-template". */
  requests(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const server = this.server;
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return this.closing;
  }

  private count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Jenkins', JENKINS_VERSION);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const computer = /^\/computer\/([^/]+)\/(api\/json|doDelete|toggleOffline)\/?$/.exec(path);
    const template = computer ? `/computer/NAME/${computer[2]}` : path;
    this.count(`${method} ${template}`);

    const user = this.authenticate(req);
    if (user === 'bad') {
      res.setHeader('WWW-Authenticate', 'Basic realm="Jenkins"');
      const who = basicUser(req);
      return send(res, 401, 'text/html;charset=utf-8', errorPage(401, `Invalid password/token for user: ${who ?? ''}`));
    }
    if (user === 'anonymous') {
      // The sim grants anonymous nothing, so every resource asks for credentials.
      res.setHeader('WWW-Authenticate', 'Basic realm="Jenkins"');
      return send(res, 401, 'text/html;charset=utf-8', errorPage(401, 'Authentication required'));
    }
    res.setHeader('X-You-Are-Authenticated-As', user);

    if (method === 'POST') {
      const given = req.headers[CRUMB_FIELD.toLowerCase()];
      const body = await readBody(req);
      const form = new URLSearchParams(body);
      const crumb = typeof given === 'string' ? given : (form.get(CRUMB_FIELD) ?? '');
      if (!safeEqual(crumb, this.crumb)) {
        return send(res, 403, 'text/html;charset=utf-8', errorPage(403, 'No valid crumb was included in the request'));
      }
      if (path === '/computer/doCreateItem') return this.createItem(res, url.searchParams, form);
      if (computer && computer[2] === 'doDelete') return this.deleteNode(res, decodeURIComponent(computer[1]));
      if (computer && computer[2] === 'toggleOffline') {
        const message = form.get('offlineMessage') ?? url.searchParams.get('offlineMessage') ?? '';
        if (!this.opts.registry.toggleOffline(decodeURIComponent(computer[1]), message)) return send(res, 404, 'text/html;charset=utf-8', errorPage(404, 'Not Found'));
        // Jenkins redirects back to the computer page.
        res.setHeader('Location', `${this.url}computer/${computer[1]}/`);
        return send(res, 302, 'text/html;charset=utf-8', '');
      }
      if (path === '/crumbIssuer/api/json' || (computer && computer[2] === 'api/json')) return methodNotAllowed(res);
      return send(res, 404, 'text/html;charset=utf-8', errorPage(404, 'Not Found'));
    }
    if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res);
    if (path === '/crumbIssuer/api/json') {
      return sendJson(res, { _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb: this.crumb, crumbRequestField: CRUMB_FIELD });
    }
    if (path === '/computer/api/json') return sendJson(res, this.computerSet());
    if (computer && computer[2] === 'api/json') {
      const info = this.opts.registry.get(decodeURIComponent(computer[1]));
      if (!info) return send(res, 404, 'text/html;charset=utf-8', errorPage(404, 'Not Found'));
      return sendJson(res, computerJson(info));
    }
    if (path === '/computer/doCreateItem' || (computer && (computer[2] === 'doDelete' || computer[2] === 'toggleOffline'))) {
      // Jenkins' @RequirePOST answers a GET with 405 and a page explaining POST is required.
      return methodNotAllowed(res);
    }
    if (path === '/api/json') return sendJson(res, { _class: 'hudson.model.Hudson', mode: 'EXCLUSIVE', nodeDescription: 'the master Jenkins node', numExecutors: 0, useCrumbs: true, useSecurity: true });
    return send(res, 404, 'text/html;charset=utf-8', errorPage(404, 'Not Found'));
  }

  private authenticate(req: IncomingMessage): string | 'bad' | 'anonymous' {
    const header = req.headers.authorization;
    if (!header) return 'anonymous';
    const m = /^Basic\s+(\S+)$/i.exec(header);
    if (!m) return 'bad';
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'bad';
    const user = decoded.slice(0, colon);
    const token = decoded.slice(colon + 1);
    return user === this.opts.user && safeEqual(token, this.opts.apiToken) ? user : 'bad';
  }

  private createItem(res: ServerResponse, query: URLSearchParams, form: URLSearchParams): void {
    const param = (k: string) => form.get(k) ?? query.get(k);
    const name = (param('name') ?? '').trim();
    const type = param('type');
    const bad = (msg: string) => send(res, 400, 'text/html;charset=utf-8', errorPage(400, msg));
    if (!name) return bad('Query parameter ‘name’ is required');
    if (UNSAFE.test(name)) return bad(`‘${UNSAFE.exec(name)?.[0]}’ is an unsafe character`);
    if (this.opts.registry.get(name)) return bad(`Agent called ‘${name}’ already exists`);
    if (type !== 'hudson.slaves.DumbSlave') return bad(`No such agent type: ${type ?? ''}`);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(param('json') ?? '') as Record<string, unknown>;
      if (!json || typeof json !== 'object') throw new Error('not an object');
    } catch {
      return bad('This page expects a form submission but had only {}');
    }
    const launcher = (json.launcher ?? {}) as Record<string, unknown>;
    if (launcher['stapler-class'] !== 'hudson.plugins.sshslaves.SSHLauncher' && launcher.$class !== 'hudson.plugins.sshslaves.SSHLauncher') {
      return bad('Unsupported launcher: the sim knows hudson.plugins.sshslaves.SSHLauncher');
    }
    const def: NodeDefinition = {
      name,
      description: String(json.nodeDescription ?? ''),
      labels: String(json.labelString ?? '').split(/\s+/).filter(Boolean),
      host: String(launcher.host ?? ''),
      port: Number(launcher.port ?? 22) || 22,
      credentialsId: String(launcher.credentialsId ?? ''),
      remoteFs: String(json.remoteFS ?? ''),
      raw: json,
    };
    if (this.opts.registry.create(def) === 'exists') return bad(`Agent called ‘${name}’ already exists`);
    res.setHeader('Location', `${this.url}computer/`);
    send(res, 302, 'text/html;charset=utf-8', '');
  }

  private async deleteNode(res: ServerResponse, name: string): Promise<void> {
    if (!(await this.opts.registry.delete(name))) return send(res, 404, 'text/html;charset=utf-8', errorPage(404, 'Not Found'));
    res.setHeader('Location', `${this.url}computer/`);
    send(res, 302, 'text/html;charset=utf-8', '');
  }

  private computerSet(): unknown {
    const list = this.opts.registry.list();
    return {
      _class: 'hudson.model.ComputerSet',
      busyExecutors: list.filter((c) => !c.idle).length,
      computer: list.map(computerJson),
      displayName: 'Nodes',
      totalExecutors: list.filter((c) => !c.offline).length,
    };
  }
}

function computerJson(c: ComputerInfo): unknown {
  return {
    _class: 'hudson.slaves.SlaveComputer',
    actions: [],
    assignedLabels: [...c.labels, c.name].map((name) => ({ name })),
    description: c.description,
    displayName: c.name,
    executors: [{}],
    icon: 'symbol-computer',
    iconClassName: 'symbol-computer',
    idle: c.idle,
    jnlpAgent: false,
    launchSupported: true,
    manualLaunchAllowed: true,
    monitorData: {},
    numExecutors: 1,
    offline: c.offline,
    offlineCause: c.temporarilyOffline ? { _class: 'hudson.slaves.OfflineCause$UserCause', description: c.offlineMessage ?? '' } : null,
    offlineCauseReason: c.temporarilyOffline ? (c.offlineMessage ?? '') : '',
    oneOffExecutors: [],
    temporarilyOffline: c.temporarilyOffline,
    absoluteRemotePath: null,
  };
}

function basicUser(req: IncomingMessage): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? Buffer.from(m[1], 'base64').toString('utf8').split(':')[0] : undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function methodNotAllowed(res: ServerResponse): void {
  send(res, 405, 'text/html;charset=utf-8', errorPage(405, 'This URL requires POST'));
}

function sendJson(res: ServerResponse, body: unknown): void {
  send(res, 200, 'application/json;charset=utf-8', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

function errorPage(status: number, message: string): string {
  const esc = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<html><head><title>Error ${status} ${esc}</title></head><body><h2>HTTP ERROR ${status} ${esc}</h2><p>${esc}</p></body></html>`;
}
