// A simulated CI master: ONE object behaving like a Jenkins master with the Gearman plugin and
// the ZMQ event publisher plugin. Nodes come in through the REST API (JenkinsTarget) or through
// `node_assign:<gearmanTargetName>` (the Gearman target); each runs one build and is done. As
// the manager it also answers `node_status:<manager>` ({name} -> {name, present, busy, offline,
// builds}) from its registry, unless told not to (a manager without it).
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { eventFrame, type BuildResult } from './event-frame.js';
import { gearmanode, payloadText, type GearmanServerAddress, type GmWorker } from './gearmanode.js';
import { JenkinsApi, type ComputerInfo, type NodeRegistry, type RunningBuild } from './jenkins-api.js';
import { EventPublisher } from './publisher.js';
import { keepRegistered } from './reconnect.js';
import { SimNode, type NodeDefinition, type SimBuild, type SimJob } from './sim-node.js';

export type { SimBuild, SimJob } from './sim-node.js';

export interface SimMasterOptions {
  gearman: GearmanServerAddress[];
  user: string;
  apiToken: string;
  /** 0 (default) = a free port. */
  zmqPort?: number;
  /** Default 1000 ms. */
  buildDurationMs?: number | ((job: string) => number);
  /** Default: every build succeeds. */
  buildResult?: (job: string, number: number) => 'SUCCESS' | 'FAILURE';
  /** Jobs the master knows; a node registers the ones whose labels it carries. Default: none. */
  jobs?: SimJob[];
  log: Logger;
  /** The Gearman target name it serves node_assign:<name> for. Default "sim-master". */
  gearmanTargetName?: string;
  /** The manager name it answers node_assign with and serves node_revoke:<name> for. Default "sim-master". */
  managerName?: string;
  /** Times builds; default the system clock. */
  clock?: Clock;
  /** Serve node_status:<manager>. Default true. */
  nodeStatus?: boolean;
}

export interface SimNodeInfo {
  name: string;
  labels: string[];
  description: string;
  host: string;
  /** SSH port it was given. */
  port: number;
  /** How it came in: the REST API or node_assign. */
  via: 'rest' | 'gearman';
  /** Offering build functions to Gearman right now. */
  registered: boolean;
  busy: boolean;
  /** Builds run on it: 0 or 1 for a single-use node. */
  buildsRun: number;
  /** Jobs offered after its one job and given back (should stay 0). */
  rejected: number;
  /** Jenkins' temporarilyOffline. */
  temporarilyOffline: boolean;
  functions: string[];
  created: number;
}

export interface SimMaster {
  /** Root URL of the Jenkins REST API, ending in "/". */
  readonly jenkinsUrl: string;
  /** tcp://127.0.0.1:PORT of the ZMQ event publisher. */
  readonly zmqUrl: string;
  readonly managerName: string;
  nodes(): SimNodeInfo[];
  builds(): SimBuild[];
  /** REST requests served, keyed "METHOD /path-template". */
  requests(): Record<string, number>;
  /** Makes the crumb handed out so far invalid (the next POST with it gets 403). */
  expireCrumb(): void;
  restartPublisher(): Promise<void>;
  /** Closes the ZMQ publisher (an outage: every event until startPublisher() is lost). */
  stopPublisher(): Promise<void>;
  /** Binds the publisher again on the same endpoint after stopPublisher(). */
  startPublisher(): Promise<void>;
  /** node_status requests served. */
  nodeStatusRequests(): number;
  /** Sends one raw frame on the publisher (tests: sync subscribers, malformed frames). */
  publish(rawFrame: string): Promise<void>;
  close(): Promise<void>;
}

export async function startSimMaster(opts: SimMasterOptions): Promise<SimMaster> {
  const master = new Master(opts);
  try {
    await master.start();
  } catch (error) {
    await master.close();
    throw error;
  }
  return master;
}

class Master implements SimMaster, NodeRegistry {
  readonly managerName: string;
  private readonly targetName: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly publisher: EventPublisher;
  private readonly api: JenkinsApi;
  private readonly simNodes = new Map<string, { node: SimNode; via: 'rest' | 'gearman' }>();
  private readonly buildList: SimBuild[] = [];
  private readonly numbers = new Map<string, number>();
  private mgmt: GmWorker | null = null;
  private stopMgmtReconnect: () => void = () => undefined;
  private statusRequests = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: SimMasterOptions) {
    this.managerName = opts.managerName ?? 'sim-master';
    this.targetName = opts.gearmanTargetName ?? 'sim-master';
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log.child({ component: 'sim-master' });
    this.publisher = new EventPublisher(this.log);
    this.api = new JenkinsApi({ user: opts.user, apiToken: opts.apiToken, registry: this, log: this.log });
  }

  get jenkinsUrl(): string {
    return this.api.url;
  }

  get zmqUrl(): string {
    return this.publisher.url;
  }

  async start(): Promise<void> {
    await this.api.listen();
    await this.publisher.bind(this.opts.zmqPort ?? 0);
    if (this.opts.gearman.length > 0) this.startManagement();
    this.log.info({ jenkinsUrl: this.jenkinsUrl, zmqUrl: this.zmqUrl }, 'simulated master up');
  }

  /** The Gearman target's side: node_assign:<target> adds a node, node_revoke:<manager> removes one. */
  private startManagement(): void {
    const worker = gearmanode().worker({ servers: this.opts.gearman.map((s) => ({ ...s })) });
    this.mgmt = worker;
    const register = () => {
      worker.addFunction(`node_assign:${this.targetName}`, (job) => {
        const reply = this.nodeAssign(payloadText(job.payload));
        if (reply instanceof Error) {
          this.log.warn({ error: reply }, 'node_assign refused');
          job.reportError();
        } else job.workComplete(JSON.stringify(reply));
      });
      worker.addFunction(`node_revoke:${this.managerName}`, (job) => {
        void this.nodeRevoke(payloadText(job.payload)).then((done) => job.workComplete(JSON.stringify({ name: done.name, revoked: done.found })));
      });
      if (this.opts.nodeStatus ?? true) {
        worker.addFunction(`node_status:${this.managerName}`, (job) => job.workComplete(JSON.stringify(this.nodeStatus(payloadText(job.payload)))));
      }
    };
    this.stopMgmtReconnect = keepRegistered(worker, register, () => !this.closing, this.log);
    register();
  }

  private nodeAssign(text: string): { manager: string } | Error {
    let body: { name?: unknown; host?: unknown; description?: unknown; labels?: unknown; port?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return new Error('node_assign payload is not JSON');
    }
    if (typeof body?.name !== 'string' || !body.name) return new Error('node_assign payload has no name');
    const labels = Array.isArray(body.labels) ? body.labels.map(String) : typeof body.labels === 'string' ? body.labels.split(/\s+/).filter(Boolean) : [];
    const def: NodeDefinition = {
      name: body.name,
      description: typeof body.description === 'string' ? body.description : '',
      labels,
      host: typeof body.host === 'string' ? body.host : '',
      port: Number(body.port ?? 22) || 22,
      credentialsId: '',
      remoteFs: '',
      raw: body,
    };
    this.addNode(def, 'gearman');
    return { manager: this.managerName };
  }

  /** offline: takes no more builds (taken offline, or done after its one build). */
  private nodeStatus(text: string): { name: string; present: boolean; busy: boolean; offline: boolean; builds: number } {
    this.statusRequests++;
    let name = '';
    try {
      const body = JSON.parse(text) as { name?: unknown };
      name = typeof body?.name === 'string' ? body.name : '';
    } catch {
      name = text.trim();
    }
    const node = this.simNodes.get(name)?.node;
    if (!node) return { name, present: false, busy: false, offline: false, builds: 0 };
    return { name, present: true, busy: node.state === 'busy', offline: node.offlineMessage !== null || node.state === 'used', builds: node.buildsRun };
  }

  private async nodeRevoke(text: string): Promise<{ name: string; found: boolean }> {
    let name = '';
    try {
      const body = JSON.parse(text) as { name?: unknown };
      name = typeof body?.name === 'string' ? body.name : '';
    } catch {
      name = text.trim();
    }
    return { name, found: name ? await this.delete(name) : false };
  }

  // NodeRegistry (the REST API's view)
  create(def: NodeDefinition): 'created' | 'exists' {
    return this.addNode(def, 'rest');
  }

  private addNode(def: NodeDefinition, via: 'rest' | 'gearman'): 'created' | 'exists' {
    if (this.closing) throw new Error('simulated master is closed');
    if (this.simNodes.has(def.name)) return 'exists';
    const node = new SimNode(def, {
      servers: this.opts.gearman,
      jobs: () => this.opts.jobs ?? [],
      clock: this.clock,
      managerName: this.managerName,
      rootUrl: () => this.jenkinsUrl,
      durationMs: (job) => {
        const d = this.opts.buildDurationMs ?? 1000;
        return typeof d === 'function' ? d(job) : d;
      },
      result: (job, n) => this.opts.buildResult?.(job, n) ?? 'SUCCESS',
      nextBuildNumber: (job) => {
        const n = (this.numbers.get(job) ?? 0) + 1;
        this.numbers.set(job, n);
        return n;
      },
      publish: (topic, build) => void this.publisher.send(eventFrame(topic, build)),
      recordBuild: (b) => this.buildList.push(b),
      log: this.log,
    });
    this.simNodes.set(def.name, { node, via });
    this.log.info({ simNode: def.name, labels: def.labels, via }, 'node added');
    if (this.opts.gearman.length > 0) node.start();
    return 'created';
  }

  async delete(name: string): Promise<boolean> {
    const entry = this.simNodes.get(name);
    if (!entry) return false;
    this.simNodes.delete(name);
    await entry.node.delete();
    this.log.info({ simNode: name }, 'node deleted');
    return true;
  }

  toggleOffline(name: string, message: string, by?: string): boolean {
    const entry = this.simNodes.get(name);
    if (!entry) return false;
    entry.node.toggleOffline(message, by ?? null);
    return true;
  }

  changeOfflineCause(name: string, message: string, by: string): boolean {
    const entry = this.simNodes.get(name);
    if (!entry) return false;
    entry.node.setOffline(message, by);
    return true;
  }

  /** config.xml POST (Nodes.replaceNode): new fields in place; a new name renames the agent. */
  reconfigure(name: string, def: NodeDefinition): 'ok' | 'missing' | 'exists' {
    const entry = this.simNodes.get(name);
    if (!entry) return 'missing';
    if (def.name !== name && this.simNodes.has(def.name)) return 'exists';
    Object.assign(entry.node.def, def);
    if (def.name !== name) {
      this.simNodes.delete(name);
      this.simNodes.set(def.name, entry);
    }
    this.log.info({ simNode: name, newName: def.name }, 'node reconfigured');
    return 'ok';
  }

  get(name: string): ComputerInfo | undefined {
    const entry = this.simNodes.get(name);
    return entry ? this.computerInfo(entry.node) : undefined;
  }

  list(): ComputerInfo[] {
    return [...this.simNodes.values()].map((e) => this.computerInfo(e.node));
  }

  jobs(): string[] {
    return (this.opts.jobs ?? []).map((j) => j.name);
  }

  buildsOn(name: string): SimBuild[] {
    return this.buildList.filter((b) => b.node === name);
  }

  private computerInfo(node: SimNode): ComputerInfo {
    const d = this.opts.buildDurationMs ?? 1000;
    const b = node.currentBuild;
    return computerInfo(node, b ? { job: b.job, number: b.number, started: b.started, estimatedMs: typeof d === 'function' ? d(b.job) : d } : null);
  }

  // SimMaster
  nodes(): SimNodeInfo[] {
    return [...this.simNodes.values()].map(({ node, via }) => ({
      name: node.def.name,
      labels: [...node.def.labels],
      description: node.def.description,
      host: node.def.host,
      port: node.def.port,
      via,
      registered: node.registeredFunctions.length > 0,
      busy: node.state === 'busy',
      buildsRun: node.buildsRun,
      rejected: node.rejected,
      temporarilyOffline: node.offlineMessage !== null,
      functions: node.registeredFunctions,
      created: node.created,
    }));
  }

  builds(): SimBuild[] {
    return this.buildList.map((b) => ({ ...b, parameters: { ...b.parameters } }));
  }

  requests(): Record<string, number> {
    return this.api.requests();
  }

  expireCrumb(): void {
    this.api.expireCrumb();
  }

  restartPublisher(): Promise<void> {
    return this.publisher.restart();
  }

  stopPublisher(): Promise<void> {
    return this.publisher.stop();
  }

  startPublisher(): Promise<void> {
    return this.publisher.start();
  }

  nodeStatusRequests(): number {
    return this.statusRequests;
  }

  publish(rawFrame: string): Promise<void> {
    return this.publisher.send(rawFrame);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const steps: Promise<unknown>[] = [];
    this.stopMgmtReconnect();
    try {
      this.mgmt?.close();
    } catch (error) {
      this.log.warn({ error }, 'closing management worker failed');
    }
    this.mgmt = null;
    for (const { node } of this.simNodes.values()) steps.push(node.delete());
    this.simNodes.clear();
    steps.push(this.api.close(), this.publisher.close());
    const results = await Promise.allSettled(steps);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ error: r.reason }, 'sim master close step failed');
    this.log.info('simulated master closed');
  }
}

function computerInfo(node: SimNode, currentBuild: RunningBuild | null): ComputerInfo {
  // Jenkins shows an agent online once launched, and keeps it online after a build
  // (RetentionStrategy$Always) until somebody takes it offline (toggleOffline).
  const offline = node.offlineMessage !== null || node.state === 'deleted';
  return {
    name: node.def.name,
    description: node.def.description,
    labels: node.def.labels,
    idle: node.state !== 'busy',
    offline,
    temporarilyOffline: node.offlineMessage !== null,
    offlineMessage: node.offlineMessage,
    offlineBy: node.offlineBy,
    offlineSince: node.offlineSince,
    numExecutors: node.def.numExecutors ?? 1,
    mode: node.def.mode ?? 'EXCLUSIVE',
    remoteFs: node.def.remoteFs,
    host: node.def.host,
    port: node.def.port,
    credentialsId: node.def.credentialsId,
    launcher: node.def.launcher ?? 'hudson.plugins.sshslaves.SSHLauncher',
    currentBuild,
  };
}

export type { BuildResult };
