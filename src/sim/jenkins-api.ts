// The Jenkins REST surface of the simulated master (node:http), answering as Jenkins 2.426.x does
// (status codes, headers, JSON shapes, error pages), for JenkinsTarget and for common client
// libraries (python-jenkins style calls). Each endpoint and its source of truth:
//
// | Endpoint (method)                          | Answer                                                              | Source of truth
// |--------------------------------------------|---------------------------------------------------------------------|------------------------------------------------------------
// | every response                             | X-Jenkins: <version>, X-Hudson: 1.395, X-Jenkins-Session: <8 hex>    | core Functions.advertiseHeaders; python-jenkins get_version reads X-Jenkins
// | GET /                                      | 200 HTML dashboard (+ X-Instance-Identity, X-Frame-Options, nosniff) | core Jenkins (root), InstanceIdentity module, FrameOptionsPageDecorator
// | GET /api/json                              | hudson.model.Hudson: mode, nodeDescription, numExecutors, jobs, views, useCrumbs, useSecurity, url | jenkins.io/doc/book/using/remote-access-api; core Jenkins @Exported getters
// | GET /me/api/json                           | hudson.model.User: absoluteUrl, description, fullName, id, property  | core Jenkins.getMe, User @Exported; python-jenkins get_whoami (me/api/json?depth=0)
// | GET /crumbIssuer/api/json                  | DefaultCrumbIssuer: crumb, crumbRequestField "Jenkins-Crumb"         | core hudson.security.csrf.DefaultCrumbIssuer
// | GET /computer/api/json?depth=N             | ComputerSet: busyExecutors, computer[] (inline, built-in node first), displayName "Nodes", totalExecutors | core hudson.model.ComputerSet (@Exported inline computer)
// | GET /computer/NAME/api/json?depth=N        | Computer: _class, actions, assignedLabels, description, displayName, executors, idle, numExecutors, offline, offlineCause, offlineCauseReason, temporarilyOffline, ... | core hudson.model.Computer, hudson.model.Executor, Stapler export depth rules
// | POST /computer/doCreateItem                | 302 Location …/computer/; name+type+json in query or form; type = descriptor id (hudson.slaves.DumbSlave) or class name (…DumbSlave$DescriptorImpl) | core ComputerSet.doDoCreateItem/checkName, Descriptor.find (class name, then id); python-jenkins create_node
// |   name missing / unsafe / taken            | 400 Jenkins "Error" page: Query parameter 'name' is required / ‘c’ is an unsafe character / Agent called ‘X’ already exists | core ComputerSet.checkName, Jenkins.checkGoodName, hudson/model/Messages.properties
// |   unknown type, no json, bad launcher      | 500 "Oops!" page (NullPointerException / ServletException "This page expects a form submission") | core NodeDescriptor.all().find(type) returns null; Stapler RequestImpl.getSubmittedForm
// | POST /computer/NAME/doDelete               | 302 Location …/computer/; the built-in node: 400                    | core Computer.doDoDelete (HttpRedirect ".."), Hudson$MasterComputer.doDoDelete
// | POST /computer/NAME/toggleOffline          | 302 Location …/computer/NAME/; online→offline with UserCause(user, trimmed message), offline→online | core Computer.doToggleOffline, OfflineCause.UserCause, Computer.getOfflineCauseReason
// | POST /computer/NAME/changeOfflineCause     | 302 Location …/computer/NAME/; always temporarily offline with the new cause | core Computer.doChangeOfflineCause
// | GET /computer/NAME/rssAll                  | 200 application/atom+xml Atom feed "Jenkins:NAME (all builds)", one <entry> per build run on the agent, newest first | core Computer.doRssAll (RSS.rss over getBuilds()), hudson/atom.jelly (not checked against a live Jenkins)
// | GET /computer/NAME/config.xml              | 200 application/xml, XStream form of the agent (<slave>…)            | core Computer.doConfigDotXml (Jenkins.XSTREAM2.toXMLUTF8)
// | POST /computer/NAME/config.xml             | 200 empty; root not <slave>: 400 "Node types do not match"; other methods: 400 | core Computer.doConfigDotXml/updateByXml, Nodes.replaceNode
// | GET on a @RequirePOST action               | 405, Allow: POST, "This URL requires POST"                          | core/Stapler @RequirePOST (RequirePOST.Processor)
// | POST to an api/json URL                    | 405 (kept from the earlier sim; not checked against core)           | (unverified)
// | unknown computer or URL                    | 404 Jetty error page (SERVLET: Stapler)                             | Stapler (getDynamic returns null) + Jetty 10 ErrorHandler
// | POST without (valid) crumb                 | 403 Jetty page "No valid crumb was included in the request"         | core hudson.security.csrf.CrumbFilter
// | wrong user/token                           | 401, WWW-Authenticate: Basic realm="Jenkins", "Invalid password/token for user: X" | core jenkins.security.BasicHeaderProcessor + BasicHeaderRealPasswordAuthenticator
//
// Known deviations, kept because tests owned elsewhere assert them (test/integration/jenkins-target.test.ts):
// - No credentials: Jenkins (anonymous lacking Overall/Read) answers 403 "Authentication required" from
//   HudsonAuthenticationEntryPoint with X-You-Are-Authenticated-As: anonymous; the sim answers 401.
// - Since 2.96 a POST authenticated with an API token needs no crumb (CrumbFilter skips it), and since
//   2.176.2 a crumb is only valid with the web session (JSESSIONID cookie) it was issued for; the sim
//   requires the crumb from every caller and binds it to no session.
// - Agents with a fake host would fail to launch in Jenkins (offline); the sim shows them online.
// - The Gearman plugin's own offline cause is shown as OfflineCause$ByCLI with its message (not checked).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { NodeDefinition } from './sim-node.js';

export interface RunningBuild {
  job: string;
  number: number;
  started: number;
  estimatedMs: number;
}

export interface ComputerInfo {
  name: string;
  description: string;
  labels: string[];
  idle: boolean;
  offline: boolean;
  temporarilyOffline: boolean;
  /** The message given to toggleOffline; null when online. */
  offlineMessage: string | null;
  /** The user who took it offline; null when online or for the Gearman plugin's cause. */
  offlineBy: string | null;
  offlineSince: number;
  numExecutors: number;
  mode: 'NORMAL' | 'EXCLUSIVE';
  remoteFs: string;
  host: string;
  port: number;
  credentialsId: string;
  launcher: string;
  currentBuild: RunningBuild | null;
}

/** What the REST layer needs from the master's node registry. */
export interface NodeRegistry {
  create(def: NodeDefinition): 'created' | 'exists';
  delete(name: string): Promise<boolean>;
  /** Jenkins' toggleOffline; false for an unknown node. */
  toggleOffline(name: string, message: string, by?: string): boolean;
  /** Jenkins' changeOfflineCause; false for an unknown node. */
  changeOfflineCause?(name: string, message: string, by: string): boolean;
  /** config.xml POST: replaces the agent's definition (a new name renames it). */
  reconfigure?(name: string, def: NodeDefinition): 'ok' | 'missing' | 'exists';
  get(name: string): ComputerInfo | undefined;
  list(): ComputerInfo[];
  /** Builds run (or running) on the agent, oldest first (Computer.getBuilds). */
  buildsOn?(name: string): { job: string; number: number; started: number; finished: number | null; result: string | null }[];
  /** Job names the master knows. */
  jobs?(): string[];
  now?(): number;
}

export interface JenkinsApiOptions {
  user: string;
  apiToken: string;
  registry: NodeRegistry;
  log: Logger;
}

export const JENKINS_VERSION = '2.426.3';
const CRUMB_FIELD = 'Jenkins-Crumb';
/** Characters Jenkins.checkGoodName refuses in a node name. */
const UNSAFE = /[?*/\\%!@#$^&|<>[\]:;]/;
const HTML = 'text/html;charset=utf-8';
const BUILT_IN = '(built-in)';
const SSH_LAUNCHER = 'hudson.plugins.sshslaves.SSHLauncher';
/** Launchers the sim's "installed plugins" provide: ssh-slaves, core's inbound agent, command-launcher. */
const LAUNCHERS = new Set([SSH_LAUNCHER, 'hudson.slaves.JNLPLauncher', 'hudson.slaves.CommandLauncher']);
/** DumbSlave's descriptor: Descriptor.find matches the descriptor class name, then the id. */
const NODE_TYPES = new Set(['hudson.slaves.DumbSlave$DescriptorImpl', 'hudson.slaves.DumbSlave']);
type ComputerAction = 'api/json' | 'doDelete' | 'toggleOffline' | 'changeOfflineCause' | 'config.xml' | 'rssAll';
const POST_ONLY = new Set<ComputerAction>(['doDelete', 'toggleOffline', 'changeOfflineCause']);

class Failure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly page: 'jetty' | 'error' | 'oops' = 'jetty',
  ) {
    super(message);
  }
}

export class JenkinsApi {
  private server: Server | null = null;
  private crumb = randomBytes(32).toString('hex');
  private readonly session = randomBytes(4).toString('hex');
  private identity: string | null = null;
  private closing: Promise<void> | null = null;
  private readonly counts = new Map<string, number>();
  url = '';

  constructor(private readonly opts: JenkinsApiOptions) {}

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (error instanceof Failure) return this.fail(req, res, error);
        this.opts.log.error({ error }, 'sim jenkins api error');
        if (!res.headersSent) this.fail(req, res, new Failure(500, 'Server Error', 'oops'));
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
    // Functions.advertiseHeaders: on every answer, errors included.
    res.setHeader('X-Hudson', '1.395');
    res.setHeader('X-Jenkins', JENKINS_VERSION);
    res.setHeader('X-Jenkins-Session', this.session);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const m = /^\/computer\/([^/]+)\/(api\/json|doDelete|toggleOffline|changeOfflineCause|config\.xml|rssAll)\/?$/.exec(path);
    const template = m ? `/computer/NAME/${m[2]}` : path;
    this.count(`${method} ${template}`);
    let computer: { name: string; action: ComputerAction } | null = null;
    if (m) {
      try {
        computer = { name: decodeURIComponent(m[1]), action: m[2] as ComputerAction };
      } catch {
        throw new Failure(400, 'Bad Request');
      }
    }

    const user = this.authenticate(req);
    if (user === 'bad') {
      res.setHeader('WWW-Authenticate', 'Basic realm="Jenkins"');
      throw new Failure(401, `Invalid password/token for user: ${basicUser(req) ?? ''}`);
    }
    if (user === 'anonymous') {
      // Deviation (see the table): Jenkins answers 403 "Authentication required" here.
      res.setHeader('WWW-Authenticate', 'Basic realm="Jenkins"');
      throw new Failure(401, 'Authentication required');
    }
    res.setHeader('X-You-Are-Authenticated-As', user);

    if (method === 'POST') {
      const body = await readBody(req);
      // The servlet container parses a form body only for this content type.
      const isForm = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '');
      const form = new URLSearchParams(isForm ? body : '');
      const given = req.headers[CRUMB_FIELD.toLowerCase()];
      const crumb = typeof given === 'string' ? given : (form.get(CRUMB_FIELD) ?? url.searchParams.get(CRUMB_FIELD) ?? '');
      if (!safeEqual(crumb, this.crumb)) throw new Failure(403, 'No valid crumb was included in the request');
      const param = (k: string) => form.get(k) ?? url.searchParams.get(k);
      if (path === '/computer/doCreateItem') return this.createItem(res, param);
      if (computer) return this.computerPost(res, computer.name, computer.action, param, body, user);
      if (path === '/computer/createItem') throw new Failure(400, 'No mode given', 'error');
      if (path === '/crumbIssuer/api/json' || path === '/api/json' || path === '/me/api/json' || path === '/computer/api/json') throw new Failure(405, 'Method Not Allowed');
      throw new Failure(404, 'Not Found');
    }
    if (computer?.action === 'config.xml' && method !== 'GET' && method !== 'HEAD') {
      this.computer(computer.name); // 404 first for an unknown node
      throw new Failure(400, 'Bad Request');
    }
    if (path === '/computer/doCreateItem' || (computer && POST_ONLY.has(computer.action))) return requirePost(res);
    return this.get(res, url, path, user, computer);
  }

  private get(res: ServerResponse, url: URL, path: string, user: string, computer: { name: string; action: ComputerAction } | null): void {
    const depth = Math.max(0, Number.parseInt(url.searchParams.get('depth') ?? '0', 10) || 0);
    if (path === '/' || path === '') return this.dashboard(res);
    if (path === '/api/json' || path === '/api/json/') return sendJson(res, this.rootJson());
    if (path === '/me/api/json' || path === '/me/api/json/') return sendJson(res, this.userJson(user));
    if (path === '/crumbIssuer/api/json') {
      return sendJson(res, { _class: 'hudson.security.csrf.DefaultCrumbIssuer', crumb: this.crumb, crumbRequestField: CRUMB_FIELD });
    }
    if (path === '/computer/api/json' || path === '/computer/api/json/') return sendJson(res, this.computerSet(depth));
    if (computer?.action === 'api/json') return sendJson(res, computerJson(this.computer(computer.name), depth, this.url));
    if (computer?.action === 'rssAll') return this.rssAll(res, computer.name);
    if (computer?.action === 'config.xml') {
      const info = this.computer(computer.name);
      if (info.name === BUILT_IN) throw new Failure(404, 'Not Found');
      return send(res, 200, 'application/xml', configXml(info));
    }
    throw new Failure(404, 'Not Found');
  }

  private computer(name: string): ComputerInfo {
    const info = name === BUILT_IN ? builtIn() : this.opts.registry.get(name);
    if (!info) throw new Failure(404, 'Not Found');
    return info;
  }

  private computerPost(res: ServerResponse, name: string, action: ComputerAction, param: (k: string) => string | null, body: string, user: string): void {
    const info = this.computer(name);
    const here = `${this.url}computer/${encodeURIComponent(name)}/`;
    const message = (param('offlineMessage') ?? '').trim();
    switch (action) {
      case 'doDelete':
        if (name === BUILT_IN) throw new Failure(400, 'Bad Request');
        return void this.opts.registry.delete(name).then(() => redirect(res, `${this.url}computer/`), (e: unknown) => {
          this.opts.log.error({ error: e }, 'sim jenkins delete failed');
          this.fail(undefined, res, new Failure(500, 'Server Error', 'oops'));
        });
      case 'toggleOffline':
        if (name !== BUILT_IN) this.opts.registry.toggleOffline(name, message, user);
        return redirect(res, here);
      case 'changeOfflineCause':
        if (name !== BUILT_IN) this.opts.registry.changeOfflineCause?.(name, message, user);
        return redirect(res, here);
      case 'config.xml': {
        if (name === BUILT_IN) throw new Failure(404, 'Not Found');
        const def = parseConfigXml(body, info);
        const r = this.opts.registry.reconfigure?.(name, def) ?? 'missing';
        if (r === 'missing') throw new Failure(404, 'Not Found');
        if (r === 'exists') throw new Failure(400, `Agent called ‘${def.name}’ already exists`, 'error');
        return send(res, 200, HTML, '');
      }
      case 'rssAll':
        // A plain doXxx action: Stapler serves it for any method.
        return this.rssAll(res, name);
      case 'api/json':
        throw new Failure(405, 'Method Not Allowed');
    }
  }

  private rssAll(res: ServerResponse, name: string): void {
    const info = this.computer(name);
    const feed = atomFeed(info.name, `${this.url}computer/${encodeURIComponent(info.name)}/`, this.url, this.opts.registry.buildsOn?.(info.name) ?? []);
    send(res, 200, 'application/atom+xml;charset=UTF-8', feed);
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

  /** ComputerSet.doDoCreateItem: checkName, then getSubmittedForm, then the descriptor's newInstance. */
  private createItem(res: ServerResponse, param: (k: string) => string | null): void {
    const raw = param('name');
    if (raw === null || raw.trim() === '') throw new Failure(400, "Query parameter 'name' is required", 'error');
    const name = raw.trim();
    if (name === '.' || name === '..') throw new Failure(400, `‘${name}’ is not an allowed name`, 'error');
    const unsafe = UNSAFE.exec(name);
    if (unsafe) throw new Failure(400, `‘${unsafe[0]}’ is an unsafe character`, 'error');
    if (name === BUILT_IN || this.opts.registry.get(name)) throw new Failure(400, `Agent called ‘${name}’ already exists`, 'error');
    const text = param('json');
    if (!text) throw new Failure(500, 'javax.servlet.ServletException: This page expects a form submission', 'oops');
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
      if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not an object');
    } catch {
      throw new Failure(500, 'net.sf.json.JSONException: A JSONObject text must begin with \'{\'', 'oops');
    }
    // NodeDescriptor.all().find(type) is null for an unknown type: newInstance throws a NullPointerException.
    if (!NODE_TYPES.has(param('type') ?? '')) throw new Failure(500, 'java.lang.NullPointerException', 'oops');
    const launcher = (json.launcher && typeof json.launcher === 'object' ? json.launcher : {}) as Record<string, unknown>;
    const launcherClass = String(launcher['stapler-class'] ?? launcher.$class ?? 'hudson.slaves.JNLPLauncher');
    if (!LAUNCHERS.has(launcherClass)) throw new Failure(500, `java.lang.ClassNotFoundException: ${launcherClass}`, 'oops');
    const executors = Number(json.numExecutors ?? 1);
    const def: NodeDefinition = {
      name,
      description: String(json.nodeDescription ?? ''),
      labels: String(json.labelString ?? '').split(/\s+/).filter(Boolean),
      host: String(launcher.host ?? ''),
      port: Number(launcher.port ?? 22) || 22,
      credentialsId: String(launcher.credentialsId ?? ''),
      remoteFs: String(json.remoteFS ?? ''),
      numExecutors: Number.isInteger(executors) && executors > 0 ? executors : 1,
      mode: json.mode === 'NORMAL' ? 'NORMAL' : 'EXCLUSIVE',
      launcher: launcherClass,
      raw: json,
    };
    if (this.opts.registry.create(def) === 'exists') throw new Failure(400, `Agent called ‘${name}’ already exists`, 'error');
    redirect(res, `${this.url}computer/`);
  }

  private computerSet(depth: number): unknown {
    const list = [builtIn(), ...this.opts.registry.list()];
    const online = list.filter((c) => !c.offline);
    return {
      _class: 'hudson.model.ComputerSet',
      busyExecutors: online.filter((c) => c.currentBuild).length,
      computer: list.map((c) => computerJson(c, depth, this.url)),
      displayName: 'Nodes',
      totalExecutors: online.reduce((n, c) => n + c.numExecutors, 0),
    };
  }

  private rootJson(): unknown {
    const jobs = this.opts.registry.jobs?.() ?? [];
    return {
      _class: 'hudson.model.Hudson',
      assignedLabels: [{ name: 'built-in' }],
      mode: 'EXCLUSIVE',
      nodeDescription: "the Jenkins controller's built-in node",
      nodeName: '',
      numExecutors: 0,
      description: null,
      jobs: jobs.map((name) => ({ _class: 'hudson.model.FreeStyleProject', name, url: `${this.url}job/${encodeURIComponent(name)}/`, color: 'notbuilt' })),
      overallLoad: {},
      primaryView: { _class: 'hudson.model.AllView', name: 'all', url: this.url },
      quietDownReason: null,
      quietingDown: false,
      slaveAgentPort: -1,
      unlabeledLoad: { _class: 'jenkins.model.UnlabeledLoadStatistics' },
      url: this.url,
      useCrumbs: true,
      useSecurity: true,
      views: [{ _class: 'hudson.model.AllView', name: 'all', url: this.url }],
    };
  }

  private userJson(user: string): unknown {
    return {
      _class: 'hudson.model.User',
      absoluteUrl: `${this.url}user/${encodeURIComponent(user)}`,
      description: null,
      fullName: user,
      id: user,
      property: [
        { _class: 'jenkins.security.ApiTokenProperty' },
        { _class: 'hudson.model.MyViewsProperty' },
        { _class: 'hudson.model.PaneStatusProperties' },
        { _class: 'jenkins.security.seed.UserSeedProperty' },
        { _class: 'hudson.search.UserSearchProperty', insensitiveSearch: true },
        { _class: 'hudson.model.TimeZoneProperty' },
        { _class: 'hudson.security.HudsonPrivateSecurityRealm$Details' },
      ],
    };
  }

  private dashboard(res: ServerResponse): void {
    // The instance identity (an RSA public key, base64 DER) the root page advertises.
    this.identity ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    res.setHeader('X-Instance-Identity', this.identity);
    pageHeaders(res);
    const page = `<!DOCTYPE html><html class=""><head resURL="/static/${this.session}" data-rooturl="" data-resurl="/static/${this.session}"><title>Dashboard [Jenkins]</title></head><body id="jenkins" class="yui-skin-sam two-column jenkins-${JENKINS_VERSION}"><div id="page-body"><h1>Welcome to Jenkins!</h1></div><footer><a href="https://www.jenkins.io/">Jenkins ${JENKINS_VERSION}</a></footer></body></html>`;
    send(res, 200, HTML, page);
  }

  private fail(req: IncomingMessage | undefined, res: ServerResponse, f: Failure): void {
    const uri = req ? new URL(req.url ?? '/', 'http://localhost').pathname : '';
    if (f.page === 'error') {
      pageHeaders(res);
      return send(res, f.status, HTML, jenkinsErrorPage(f.message));
    }
    if (f.page === 'oops') {
      pageHeaders(res);
      return send(res, f.status, HTML, oopsPage(f.message));
    }
    send(res, f.status, HTML, errorPage(f.status, f.message, uri));
  }
}

/** Hudson$MasterComputer with 0 executors: Jenkins lists it first even so. */
function builtIn(): ComputerInfo {
  return {
    name: BUILT_IN,
    description: "the Jenkins controller's built-in node",
    labels: ['built-in'],
    idle: true,
    offline: false,
    temporarilyOffline: false,
    offlineMessage: null,
    offlineBy: null,
    offlineSince: 0,
    numExecutors: 0,
    mode: 'EXCLUSIVE',
    remoteFs: '',
    host: '',
    port: 0,
    credentialsId: '',
    launcher: '',
    currentBuild: null,
  };
}

/**
 * A Computer as Stapler exports it at this depth: nested objects' properties show one level
 * deeper each, and `_class` only where the value's class differs from the declared type.
 */
export function computerJson(c: ComputerInfo, depth: number, rootUrl: string): unknown {
  const master = c.name === BUILT_IN;
  const executors = Array.from({ length: c.numExecutors }, (_, i) => (depth >= 1 ? executorJson(c, i, depth, rootUrl) : {}));
  let offlineCause: unknown = null;
  if (c.temporarilyOffline) {
    const cls = c.offlineBy === null ? 'hudson.slaves.OfflineCause$ByCLI' : 'hudson.slaves.OfflineCause$UserCause';
    // UserCause reads "Disconnected by USER : MESSAGE"; getOfflineCauseReason strips the prefix.
    const description = c.offlineBy === null ? (c.offlineMessage ?? '') : `Disconnected by ${c.offlineBy}${c.offlineMessage ? ` : ${c.offlineMessage}` : ''}`;
    offlineCause = depth >= 1 ? { _class: cls, description, timestamp: c.offlineSince } : { _class: cls };
  }
  return {
    _class: master ? 'hudson.model.Hudson$MasterComputer' : 'hudson.slaves.SlaveComputer',
    actions: [],
    assignedLabels: (master ? c.labels : [...c.labels, c.name]).map((name) => ({ name })),
    description: c.description,
    displayName: master ? 'Built-In Node' : c.name,
    executors,
    icon: c.offline ? 'symbol-computer-x' : 'symbol-computer',
    iconClassName: c.offline ? 'symbol-computer-x' : 'symbol-computer',
    idle: c.currentBuild === null,
    jnlpAgent: c.launcher === 'hudson.slaves.JNLPLauncher',
    launchSupported: c.launcher !== 'hudson.slaves.JNLPLauncher',
    loadStatistics: { _class: 'hudson.model.Label$1' },
    manualLaunchAllowed: true,
    monitorData: {},
    numExecutors: c.numExecutors,
    offline: c.offline,
    offlineCause,
    offlineCauseReason: c.temporarilyOffline ? (c.offlineMessage ?? '') : '',
    oneOffExecutors: [],
    temporarilyOffline: c.temporarilyOffline,
    ...(master ? {} : { absoluteRemotePath: null }),
  };
}

function executorJson(c: ComputerInfo, number: number, depth: number, rootUrl: string): unknown {
  const b = number === 0 ? c.currentBuild : null;
  let currentExecutable: unknown = null;
  if (b) {
    const url = `${rootUrl}job/${encodeURIComponent(b.job)}/${b.number}/`;
    currentExecutable =
      depth >= 2
        ? {
            _class: 'hudson.model.FreeStyleBuild',
            actions: [],
            artifacts: [],
            building: true,
            description: null,
            displayName: `#${b.number}`,
            duration: 0,
            estimatedDuration: b.estimatedMs,
            executor: {},
            fullDisplayName: `${b.job} #${b.number}`,
            id: String(b.number),
            keepLog: false,
            number: b.number,
            queueId: b.number,
            result: null,
            timestamp: b.started,
            url,
            builtOn: c.name,
            changeSet: { _class: 'hudson.scm.EmptyChangeLogSet', items: [], kind: null },
            culprits: [],
          }
        : { _class: 'hudson.model.FreeStyleBuild' };
  }
  const now = Date.now();
  return {
    currentExecutable,
    idle: b === null,
    likelyStuck: false,
    number,
    progress: b ? Math.min(99, Math.max(0, Math.floor(((now - b.started) * 100) / Math.max(1, b.estimatedMs)))) : -1,
  };
}

/**
 * RSS.rss renders hudson/atom.jelly (the default flavor): the feed, then one entry per run, newest
 * first, titled "JOB #N (status)" and identified by tag:hudson.dev.java.net,2008:JOB_URL:N.
 */
function atomFeed(name: string, link: string, rootUrl: string, builds: { job: string; number: number; started: number; finished: number | null; result: string | null }[]): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const status = (r: string | null) => (r === null ? '?' : r === 'SUCCESS' ? 'stable' : r === 'FAILURE' ? 'broken' : r.toLowerCase());
  const entries = [...builds].reverse().map((b) => {
    const jobUrl = `${rootUrl}job/${encodeURIComponent(b.job)}/`;
    return `<entry><title>${xmlEscape(`${b.job} #${b.number} (${status(b.result)})`)}</title><link rel="alternate" type="text/html" href="${xmlEscape(`${jobUrl}${b.number}/`)}"/><id>${xmlEscape(`tag:hudson.dev.java.net,2008:${jobUrl}:${b.number}`)}</id><published>${iso(b.started)}</published><updated>${iso(b.finished ?? b.started)}</updated></entry>`;
  });
  const updated = builds.length ? Math.max(...builds.map((b) => b.finished ?? b.started)) : Date.now();
  return `<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>${xmlEscape(`Jenkins:${name} (all builds)`)}</title><link rel="alternate" type="text/html" href="${xmlEscape(link)}"/><updated>${iso(updated)}</updated><author><name>Jenkins Server</name></author><id>urn:uuid:903deee0-7bfa-11db-9fe1-0800200c9a66</id>${entries.join('')}</feed>`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xmlUnescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** The agent as Jenkins.XSTREAM2.toXMLUTF8 writes a DumbSlave (aliased <slave>). */
function configXml(c: ComputerInfo): string {
  const launcher =
    c.launcher === SSH_LAUNCHER
      ? [
          `  <launcher class="${SSH_LAUNCHER}" plugin="ssh-slaves@2.948.vb_8050d697fec">`,
          `    <host>${xmlEscape(c.host)}</host>`,
          `    <port>${c.port}</port>`,
          `    <credentialsId>${xmlEscape(c.credentialsId)}</credentialsId>`,
          '    <launchTimeoutSeconds>60</launchTimeoutSeconds>',
          '    <maxNumRetries>10</maxNumRetries>',
          '    <retryWaitTime>15</retryWaitTime>',
          '    <sshHostKeyVerificationStrategy class="hudson.plugins.sshslaves.verifiers.NonVerifyingKeyVerificationStrategy"/>',
          '    <tcpNoDelay>true</tcpNoDelay>',
          '  </launcher>',
        ].join('\n')
      : `  <launcher class="${xmlEscape(c.launcher)}"/>`;
  return [
    '<?xml version="1.1" encoding="UTF-8"?>',
    '<slave>',
    `  <name>${xmlEscape(c.name)}</name>`,
    `  <description>${xmlEscape(c.description)}</description>`,
    `  <remoteFS>${xmlEscape(c.remoteFs)}</remoteFS>`,
    `  <numExecutors>${c.numExecutors}</numExecutors>`,
    `  <mode>${c.mode}</mode>`,
    '  <retentionStrategy class="hudson.slaves.RetentionStrategy$Always"/>',
    launcher,
    `  <label>${xmlEscape(c.labels.join(' '))}</label>`,
    '  <nodeProperties/>',
    '</slave>',
  ].join('\n');
}

/** Computer.updateByXml: XStream reads the posted node; its type must match the existing one. */
function parseConfigXml(body: string, was: ComputerInfo): NodeDefinition {
  const text = body.replace(/^\s*<\?xml[^>]*\?>/, '').trim();
  const root = /^<([A-Za-z_][\w.$-]*)[\s>/]/.exec(text);
  if (!root) throw new Failure(500, 'com.thoughtworks.xstream.io.StreamException: no root element', 'oops');
  if (root[1] !== 'slave' && root[1] !== 'hudson.slaves.DumbSlave') throw new Failure(400, 'Node types do not match');
  const field = (xml: string, tag: string): string | undefined => {
    const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
    return m ? xmlUnescape(m[1]) : undefined;
  };
  const launcherMatch = /<launcher(?:\s+class="([^"]*)")?[^>]*?(?:\/>|>([\s\S]*?)<\/launcher>)/.exec(text);
  const launcherXml = launcherMatch?.[2] ?? '';
  const executors = Number(field(text, 'numExecutors') ?? was.numExecutors);
  return {
    name: (field(text, 'name') ?? was.name).trim(),
    description: field(text, 'description') ?? '',
    labels: (field(text, 'label') ?? '').split(/\s+/).filter(Boolean),
    host: field(launcherXml, 'host') ?? '',
    port: Number(field(launcherXml, 'port') ?? 22) || 22,
    credentialsId: field(launcherXml, 'credentialsId') ?? '',
    remoteFs: field(text, 'remoteFS') ?? '',
    numExecutors: Number.isInteger(executors) && executors > 0 ? executors : 1,
    mode: field(text, 'mode') === 'NORMAL' ? 'NORMAL' : 'EXCLUSIVE',
    launcher: launcherMatch?.[1] ? xmlUnescape(launcherMatch[1]) : 'hudson.slaves.JNLPLauncher',
    raw: body,
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

/** @RequirePOST: 405 with Allow: POST and a page saying so. */
function requirePost(res: ServerResponse): void {
  res.setHeader('Allow', 'POST');
  pageHeaders(res);
  send(res, 405, HTML, '<html><head><title>This URL requires POST</title></head><body><h1>This URL requires POST</h1><p>The URL you\'re trying to access requires that requests be sent using POST (like a form submission). The button below allows you to retry accessing this URL using POST.</p><form method="POST"><input type="submit" value="Proceed"/></form></body></html>');
}

function redirect(res: ServerResponse, location: string): void {
  res.setHeader('Location', location);
  send(res, 302, HTML, '');
}

/** Headers Jenkins' own (Jelly) pages carry. */
function pageHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'sameorigin');
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

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Server Error' };

/** Jetty 10's ErrorHandler page, as HttpServletResponse.sendError(status, message) renders under Stapler. */
function errorPage(status: number, message: string, uri: string): string {
  const msg = esc(message || REASONS[status] || '');
  return `<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n<title>Error ${status} ${msg}</title>\n</head>\n<body><h2>HTTP ERROR ${status} ${msg}</h2>\n<table>\n<tr><th>URI:</th><td>${esc(uri)}</td></tr>\n<tr><th>STATUS:</th><td>${status}</td></tr>\n<tr><th>MESSAGE:</th><td>${msg}</td></tr>\n<tr><th>SERVLET:</th><td>Stapler</td></tr>\n</table>\n<hr/><a href="https://eclipse.org/jetty">Powered by Jetty:// 10.0.18</a><hr/>\n\n</body>\n</html>\n`;
}

/** hudson.model.Failure rendered by Jenkins' error.jelly (status 400). */
function jenkinsErrorPage(message: string): string {
  return `<!DOCTYPE html><html><head><title>Jenkins</title></head><body id="jenkins"><div id="main-panel"><h1>Error</h1><p>${esc(message)}</p></div></body></html>`;
}

/** Jenkins' "Oops!" page for an uncaught exception (500). */
function oopsPage(message: string): string {
  return `<!DOCTYPE html><html><head><title>Jenkins [Jenkins]</title></head><body id="jenkins"><div id="main-panel"><h1 style="text-align: center">Oops!</h1><div id="error-description"><h2 style="text-align: center">A problem occurred while processing the request</h2><p style="text-align: center">Logging ID=${randomBytes(16).toString('hex')}</p></div><!-- ${esc(message)} --></div></body></html>`;
}
