// A Jenkins master as a Target, over its REST API: basic auth with user + API token, a CSRF
// crumb from /crumbIssuer/api/json on every POST, agents created as hudson.slaves.DumbSlave with
// the SSH launcher through /computer/doCreateItem and removed through /computer/NAME/doDelete.
import { Agent, request, type Dispatcher } from 'undici';
import { TargetAuthError, TargetError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NodeRecord } from '../model.js';
import type { MasterNodeView } from '../target-reconcile.js';
import type { Registration, Target, TargetAgent, TargetNode, ViewOptions } from './target.js';

export interface JenkinsTargetOptions {
  name: string;
  /** Root URL of the master, e.g. https://jenkins.example.org/ (a path prefix is kept). */
  url: string;
  user: string;
  /** The user's API token (or password). Never logged. */
  apikey: string;
  /** Jenkins credentials id the SSH launcher logs in to the node with. */
  credentialsId: string;
  /** Agent root directory on the node. Default /home/jenkins. */
  remoteFs?: string;
  log: Logger;
  /** Per-request budget for headers and body. Default 30 s. */
  timeoutMs?: number;
}

interface Crumb {
  field: string;
  value: string;
}

/** The fields of /computer/NAME/api/json that view() reads. */
interface ComputerJson {
  idle?: unknown;
  temporarilyOffline?: unknown;
  executors?: unknown;
  oneOffExecutors?: unknown;
}

interface Answer {
  status: number;
  body: string;
}

const NODE_TYPE = 'hudson.slaves.DumbSlave';

/** The `json` form field of doCreateItem, shaped as Jenkins' "new node" form submits it. */
export function nodeFormJson(node: TargetNode, credentialsId: string, remoteFs: string): Record<string, unknown> {
  return {
    name: node.name,
    nodeDescription: node.description,
    numExecutors: 1,
    remoteFS: remoteFs,
    labelString: node.labels.join(' '),
    mode: 'EXCLUSIVE',
    type: NODE_TYPE,
    retentionStrategy: { 'stapler-class': 'hudson.slaves.RetentionStrategy$Always', $class: 'hudson.slaves.RetentionStrategy$Always' },
    nodeProperties: { 'stapler-class-bag': 'true' },
    launcher: {
      'stapler-class': 'hudson.plugins.sshslaves.SSHLauncher',
      $class: 'hudson.plugins.sshslaves.SSHLauncher',
      host: node.host,
      port: String(node.port),
      credentialsId,
      javaPath: '',
      jvmOptions: '',
      prefixStartSlaveCmd: '',
      suffixStartSlaveCmd: '',
      launchTimeoutSeconds: '',
      maxNumRetries: '',
      retryWaitTime: '',
      // Nodes are fresh single-use VMs whose host keys nobody has seen: nothing to verify against.
      sshHostKeyVerificationStrategy: {
        'stapler-class': 'hudson.plugins.sshslaves.verifiers.NonVerifyingKeyVerificationStrategy',
        $class: 'hudson.plugins.sshslaves.verifiers.NonVerifyingKeyVerificationStrategy',
      },
    },
  };
}

export class JenkinsTarget implements Target {
  readonly name: string;
  private readonly base: string;
  private readonly auth: string;
  private readonly agent: Agent;
  private readonly log: Logger;
  private readonly remoteFs: string;
  /** undefined = not fetched yet; null = the master issues no crumbs (CSRF protection off). */
  private crumb: Crumb | null | undefined;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: JenkinsTargetOptions) {
    this.name = opts.name;
    this.base = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
    this.auth = `Basic ${Buffer.from(`${opts.user}:${opts.apikey}`).toString('base64')}`;
    const timeout = opts.timeoutMs ?? 30_000;
    this.agent = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: timeout });
    this.log = opts.log.child({ target: opts.name });
    this.remoteFs = opts.remoteFs ?? '/home/jenkins';
  }

  async register(node: TargetNode): Promise<Registration> {
    const form = new URLSearchParams({
      name: node.name,
      type: NODE_TYPE,
      json: JSON.stringify(nodeFormJson(node, this.opts.credentialsId, this.remoteFs)),
    });
    const res = await this.post('computer/doCreateItem', form);
    // Jenkins redirects to the node list on success.
    if (res.status === 200 || res.status === 302 || res.status === 303) {
      this.log.info({ jenkinsNode: node.name, labels: node.labels }, 'node registered');
      return {};
    }
    if (res.status === 400 && /already exists/i.test(res.body)) {
      this.log.info({ jenkinsNode: node.name }, 'node already registered');
      return {};
    }
    throw this.failure(`create node ${node.name}`, res);
  }

  async unregister(node: Pick<NodeRecord, 'hostname' | 'manager'>): Promise<void> {
    const res = await this.post(`computer/${encodeURIComponent(node.hostname)}/doDelete`, new URLSearchParams());
    if (res.status === 200 || res.status === 302 || res.status === 303) {
      this.log.info({ jenkinsNode: node.hostname }, 'node unregistered');
      return;
    }
    if (res.status === 404) {
      this.log.debug({ jenkinsNode: node.hostname }, 'node already gone');
      return;
    }
    throw this.failure(`delete node ${node.hostname}`, res);
  }

  async exists(name: string): Promise<boolean> {
    const res = await this.call('GET', `computer/${encodeURIComponent(name)}/api/json`);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw this.failure(`look up node ${name}`, res);
  }

  /**
   * One GET of /computer/NAME/api/json. Busy: an executor (or one-off executor) runs something, or
   * Jenkins says the computer is not idle. Offline: temporarilyOffline (taken offline by us).
   * With `history`, an idle online agent (whose api/json keeps no trace of a build that came and
   * went) costs one more GET, of /computer/NAME/rssAll: its entries are the builds run on it.
   */
  async view(node: Pick<NodeRecord, 'hostname' | 'manager'>, opts: ViewOptions = {}): Promise<MasterNodeView> {
    const res = await this.call('GET', `computer/${encodeURIComponent(node.hostname)}/api/json`);
    if (res.status === 404) return { present: false, busy: false, offline: false };
    if (res.status !== 200) throw this.failure(`look up node ${node.hostname}`, res);
    let parsed: ComputerJson;
    try {
      parsed = JSON.parse(res.body) as ComputerJson;
    } catch (cause) {
      throw new TargetError(`Jenkins ${this.name}: computer ${node.hostname} api/json is not JSON`, true, { cause });
    }
    if (typeof parsed !== 'object' || parsed === null) throw new TargetError(`Jenkins ${this.name}: computer ${node.hostname} api/json is not an object`, true);
    const executors = [...(Array.isArray(parsed.executors) ? parsed.executors : []), ...(Array.isArray(parsed.oneOffExecutors) ? parsed.oneOffExecutors : [])];
    const running = executors.some((e) => typeof e === 'object' && e !== null && (e as { currentExecutable?: unknown }).currentExecutable != null);
    const view: MasterNodeView = { present: true, busy: running || parsed.idle === false, offline: parsed.temporarilyOffline === true };
    if (opts.history && !view.busy && !view.offline) {
      const builds = await this.buildsOn(node.hostname);
      if (builds !== null) view.builds = builds;
    }
    return view;
  }

  /** Entries in the agent's "all builds" Atom feed (Computer.doRssAll); null when it is gone meanwhile. */
  private async buildsOn(name: string): Promise<number | null> {
    const res = await this.call('GET', `computer/${encodeURIComponent(name)}/rssAll`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.failure(`read the build history of node ${name}`, res);
    if (!/<feed[\s>]/.test(res.body)) throw new TargetError(`Jenkins ${this.name}: computer ${name} rssAll is not an Atom feed`, true);
    return (res.body.match(/<entry[\s>]/g) ?? []).length;
  }

  /**
   * One GET of /computer/api/json (depth 0: Jenkins exports the computers inline). The built-in
   * node is not an agent and is left out; an agent's name is its displayName, and its own name is
   * dropped from its assigned labels (Jenkins lists it as a label).
   */
  async listAgents(): Promise<TargetAgent[]> {
    const res = await this.call('GET', 'computer/api/json');
    if (res.status !== 200) throw this.failure('list agents', res);
    let parsed: { computer?: unknown };
    try {
      parsed = JSON.parse(res.body) as typeof parsed;
    } catch (cause) {
      throw new TargetError(`Jenkins ${this.name}: computer/api/json is not JSON`, true, { cause });
    }
    if (!Array.isArray(parsed?.computer)) throw new TargetError(`Jenkins ${this.name}: computer/api/json has no computer list`, true);
    const agents: TargetAgent[] = [];
    for (const c of parsed.computer as Record<string, unknown>[]) {
      if (typeof c !== 'object' || c === null || c._class === 'hudson.model.Hudson$MasterComputer' || typeof c.displayName !== 'string') continue;
      const name = c.displayName;
      const labels = (Array.isArray(c.assignedLabels) ? c.assignedLabels : [])
        .map((l: unknown) => (typeof l === 'object' && l !== null ? (l as { name?: unknown }).name : undefined))
        .filter((l): l is string => typeof l === 'string' && l !== name);
      agents.push({ name, description: typeof c.description === 'string' ? c.description : '', labels, offline: c.offline === true, busy: c.idle === false });
    }
    return agents;
  }

  /**
   * Takes the agent temporarily offline, whatever the cause. toggleOffline is a toggle, so the computer's state is
   * read first and an agent already offline is left alone; an unknown agent is success.
   */
  async takeOffline(node: Pick<NodeRecord, 'hostname' | 'manager'>, reason: string): Promise<void> {
    const name = encodeURIComponent(node.hostname);
    const res = await this.call('GET', `computer/${name}/api/json`);
    if (res.status === 404) {
      this.log.debug({ jenkinsNode: node.hostname }, 'take offline: node already gone');
      return;
    }
    if (res.status !== 200) throw this.failure(`look up node ${node.hostname}`, res);
    let offline: unknown;
    try {
      offline = (JSON.parse(res.body) as { temporarilyOffline?: unknown }).temporarilyOffline;
    } catch (cause) {
      throw new TargetError(`Jenkins ${this.name}: computer ${node.hostname} api/json is not JSON`, true, { cause });
    }
    if (offline === true) {
      this.log.debug({ jenkinsNode: node.hostname }, 'node already temporarily offline');
      return;
    }
    const post = await this.post(`computer/${name}/toggleOffline?${new URLSearchParams({ offlineMessage: reason })}`, new URLSearchParams({ offlineMessage: reason }));
    if (post.status === 200 || post.status === 302 || post.status === 303) {
      this.log.info({ jenkinsNode: node.hostname, reason }, 'node taken offline');
      return;
    }
    if (post.status === 404) return;
    throw this.failure(`take node ${node.hostname} offline`, post);
  }

  close(): Promise<void> {
    this.closing ??= this.agent.close().catch((error) => this.log.warn({ error }, 'closing HTTP agent failed'));
    return this.closing;
  }

  /** POST with the crumb; a 403 for a stale crumb is retried once with a fresh one. */
  private async post(path: string, form: URLSearchParams): Promise<Answer> {
    const first = await this.postOnce(path, form, false);
    if (first.status !== 403 || !isCrumbRefusal(first.body)) return first;
    this.log.info({ path }, 'crumb refused; fetching a fresh one');
    return this.postOnce(path, form, true);
  }

  private async postOnce(path: string, form: URLSearchParams, freshCrumb: boolean): Promise<Answer> {
    const crumb = await this.getCrumb(freshCrumb);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (crumb) headers[crumb.field] = crumb.value;
    return this.call('POST', path, form.toString(), headers);
  }

  private async getCrumb(refresh: boolean): Promise<Crumb | null> {
    if (!refresh && this.crumb !== undefined) return this.crumb;
    const res = await this.call('GET', 'crumbIssuer/api/json');
    if (res.status === 404) {
      // No crumb issuer: CSRF protection is off on this master.
      this.crumb = null;
      return null;
    }
    if (res.status !== 200) throw this.failure('fetch CSRF crumb', res);
    let parsed: { crumb?: unknown; crumbRequestField?: unknown };
    try {
      parsed = JSON.parse(res.body) as typeof parsed;
    } catch (cause) {
      throw new TargetError(`Jenkins ${this.name}: crumb issuer answered non-JSON`, true, { cause });
    }
    if (typeof parsed.crumb !== 'string' || typeof parsed.crumbRequestField !== 'string') {
      throw new TargetError(`Jenkins ${this.name}: crumb issuer answer lacks crumb/crumbRequestField`, true);
    }
    this.crumb = { field: parsed.crumbRequestField, value: parsed.crumb };
    return this.crumb;
  }

  private async call(method: Dispatcher.HttpMethod, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const url = this.base + path;
    try {
      const res = await request(url, {
        method,
        body,
        dispatcher: this.agent,
        headers: { authorization: this.auth, accept: 'application/json', ...headers },
      });
      const text = await res.body.text();
      this.log.debug({ method, path, status: res.statusCode }, 'jenkins call');
      return { status: res.statusCode, body: text };
    } catch (cause) {
      throw new TargetError(`Jenkins ${this.name}: ${method} ${path} failed: ${(cause as Error).message}`, true, { cause });
    }
  }

  private failure(what: string, res: Answer): TargetError {
    const detail = summary(res.body);
    if (res.status === 401) {
      return new TargetAuthError(
        `Jenkins ${this.name} (${this.base}) refused the credentials of user "${this.opts.user}" (401) while trying to ${what}: check the user and API token${detail}`,
      );
    }
    if (res.status === 403) {
      return new TargetAuthError(
        `Jenkins ${this.name} (${this.base}) answered 403 while trying to ${what}: user "${this.opts.user}" lacks the permission, or the CSRF crumb was refused even after a refetch${detail}`,
      );
    }
    return new TargetError(`Jenkins ${this.name}: ${what} answered ${res.status}${detail}`, res.status >= 500 || res.status === 429);
  }
}

function isCrumbRefusal(body: string): boolean {
  return /no valid crumb/i.test(body);
}

/** The message of a Jenkins error page, short, for error texts. */
function summary(body: string): string {
  const text = body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text ? `: ${text.slice(0, 200)}` : '';
}
