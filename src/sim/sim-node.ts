// One agent of the simulated master. Like a Jenkins agent driven by the Gearman plugin it
// registers `build:JOB` and `build:JOB:LABEL` for every job its labels can run, on every
// Gearman server. Like a real agent (RetentionStrategy$Always) it is NOT single use by itself:
// it drops every function while its one executor is busy, runs the build (onStarted, wait,
// onCompleted, onFinalized), answers the Gearman client and, unless it was taken offline
// (toggleOffline, or the build's OFFLINE_NODE_WHEN_COMPLETE parameter as the Gearman plugin
// honours it), offers itself for the next queued build. Taken offline, it is done. Like an agent with one executor it has at most one
// GRAB_JOB in flight (across all servers) and sends none once it took its job (grab-gate.ts).
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { BuildResult, EventTopic, FrameBuild } from './event-frame.js';
import { cantDo, gearmanode, payloadText, type GearmanServerAddress, type GmWorker, type GmWorkerJob } from './gearmanode.js';
import { grabOneAtATime } from './grab-gate.js';
import { keepRegistered } from './reconnect.js';

export interface SimJob {
  name: string;
  labels: string[];
}

export interface SimBuild {
  job: string;
  number: number;
  node: string;
  /** null while running. */
  result: BuildResult | null;
  started: number;
  finished: number | null;
  parameters: Record<string, string>;
}

export interface NodeDefinition {
  name: string;
  description: string;
  labels: string[];
  host: string;
  port: number;
  credentialsId: string;
  remoteFs: string;
  /** Jenkins' numExecutors (default 1); the sim still runs one build at a time. */
  numExecutors?: number;
  /** Jenkins' Node.Mode: NORMAL or EXCLUSIVE (default). */
  mode?: 'NORMAL' | 'EXCLUSIVE';
  /** The launcher's class (default hudson.plugins.sshslaves.SSHLauncher). */
  launcher?: string;
  /** Whatever the registration carried (the doCreateItem json, or the node_assign payload). */
  raw: unknown;
}

export type NodeState = 'idle' | 'busy' | 'used' | 'deleted';

/** What a node needs from its master. */
export interface NodeHost {
  servers: GearmanServerAddress[];
  jobs(): SimJob[];
  clock: Clock;
  managerName: string;
  rootUrl(): string;
  durationMs(job: string): number;
  result(job: string, number: number): BuildResult;
  nextBuildNumber(job: string): number;
  publish(topic: EventTopic, build: FrameBuild): void;
  recordBuild(build: SimBuild): void;
  log: Logger;
}

/** Gearman function names a node with these labels registers for these jobs. */
export function functionsFor(jobs: SimJob[], labels: string[]): Map<string, string> {
  const fns = new Map<string, string>();
  for (const job of jobs) {
    const matching = job.labels.filter((l) => labels.includes(l));
    if (matching.length === 0) continue;
    fns.set(`build:${job.name}`, job.name);
    for (const label of matching) fns.set(`build:${job.name}:${label}`, job.name);
  }
  return fns;
}

export class SimNode {
  state: NodeState = 'idle';
  buildsRun = 0;
  /** Jobs handed to this node after it had taken its one job (multi-server races); given back. */
  rejected = 0;
  /** Jenkins' temporarilyOffline: null = online; else the offline message. */
  offlineMessage: string | null = null;
  /** Who took it offline (Jenkins' OfflineCause.UserCause user); null for the Gearman plugin's own cause. */
  offlineBy: string | null = null;
  /** When it went offline (OfflineCause.timestamp). */
  offlineSince = 0;
  /** The build running on its executor, else null. */
  currentBuild: SimBuild | null = null;
  readonly created: number;
  private worker: GmWorker | null = null;
  private functions = new Map<string, string>();
  private stopReconnect: () => void = () => undefined;
  private abort = new AbortController();
  private running: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(
    readonly def: NodeDefinition,
    private readonly host: NodeHost,
  ) {
    this.created = host.clock.now();
    this.log = host.log.child({ simNode: def.name });
  }

  /** Functions currently offered to Gearman. */
  get registeredFunctions(): string[] {
    return this.state === 'idle' && this.worker && this.offlineMessage === null ? [...this.functions.keys()] : [];
  }

  /** Whether the agent may take a build: idle and online (not temporarily offline). */
  private get schedulable(): boolean {
    return this.state === 'idle' && this.offlineMessage === null;
  }

  /**
   * Jenkins' toggleOffline: an online agent goes temporarily offline (the Gearman plugin drops
   * its functions, so no build is scheduled on it); an offline one comes back online.
   */
  toggleOffline(message: string, by: string | null = null): void {
    if (this.offlineMessage === null) {
      this.setOffline(message, by);
    } else {
      this.offlineMessage = null;
      this.offlineBy = null;
      if (this.state === 'idle') this.register();
      this.log.info('agent back online');
    }
  }

  /** Jenkins' changeOfflineCause: temporarily offline with this cause, whatever the state before. */
  setOffline(message: string, by: string | null): void {
    const wasOnline = this.offlineMessage === null;
    this.offlineMessage = message;
    this.offlineBy = by;
    this.offlineSince = this.host.clock.now();
    if (wasOnline && this.state === 'idle') this.withdraw(null);
    this.log.info({ message }, 'agent temporarily offline');
  }

  start(): void {
    this.functions = functionsFor(this.host.jobs(), this.def.labels);
    if (this.functions.size === 0) {
      this.log.warn({ labels: this.def.labels }, 'no job matches the node labels; nothing registered');
      return;
    }
    const worker = gearmanode().worker({ servers: this.host.servers.map((s) => ({ ...s })) });
    this.worker = worker;
    grabOneAtATime(worker, () => this.schedulable);
    this.stopReconnect = keepRegistered(worker, () => this.register(), () => this.schedulable, this.log);
    this.register();
    this.log.debug({ functions: [...this.functions.keys()] }, 'node registered with gearman');
  }

  private register(): void {
    const worker = this.worker;
    if (!worker || !this.schedulable) return;
    // The Jenkins Gearman plugin names its workers after the node: visible in gearmand's `workers`.
    worker.setWorkerId(this.def.name.replace(/\s/g, '_'));
    for (const fn of this.functions.keys()) {
      worker.addFunction(fn, (job) => this.onJob(job));
    }
  }

  private onJob(job: GmWorkerJob): void {
    if (!this.schedulable) {
      this.giveBack(job);
      return;
    }
    this.state = 'busy';
    this.withdraw(job);
    this.running = this.runBuild(job).catch((error) => this.log.error({ error }, 'simulated build failed'));
  }

  /**
   * Single use: stop offering anything before the build starts. gearmand requeues a running job
   * whose function is withdrawn on its connection (CANT_DO, RESET_ABILITIES), so that one function
   * stays on the job's own server until the connection closes after WORK_COMPLETE. It cannot
   * bring another job meanwhile because the grab gate sends no GRAB_JOB once the node is busy
   * (gearmanode itself would: it answers every NOOP with GRAB_JOB, and NO_JOB with PRE_SLEEP).
   */
  private withdraw(job: GmWorkerJob | null): void {
    for (const server of this.worker?.jobServers ?? []) {
      for (const fn of this.functions.keys()) {
        if (job && fn === job.name && server.getUid() === job.jobServerUid) continue;
        cantDo(server, fn);
      }
    }
  }

  /**
   * Gearman has no "give back" packet: dropping the connection makes gearmand queue the job again.
   * With the grab gate no second job should ever come; this is the safety net (and `rejected`
   * makes it visible). On the running job's own server a disconnect would requeue that job too,
   * so there the second one can only be failed (WORK_FAIL), which its client sees.
   */
  private giveBack(job: GmWorkerJob): void {
    this.rejected++;
    const server = this.worker?._getJobServerByUid(job.jobServerUid);
    if (server && this.busyServerUid !== job.jobServerUid) {
      this.log.warn({ fn: job.name, state: this.state }, 'second job offered to a single-use node; giving it back');
      server.disconnect();
    } else {
      this.log.error({ fn: job.name, state: this.state }, 'second job offered on the running job\'s server; failing it');
      job.reportError();
    }
  }

  private busyServerUid: string | null = null;

  private async runBuild(job: GmWorkerJob): Promise<void> {
    const h = this.host;
    this.busyServerUid = job.jobServerUid;
    const jobName = this.functions.get(job.name) ?? job.name.split(':')[1] ?? job.name;
    const parameters = parseParameters(payloadText(job.payload));
    const number = h.nextBuildNumber(jobName);
    const build: SimBuild = { job: jobName, number, node: this.def.name, result: null, started: h.clock.now(), finished: null, parameters };
    h.recordBuild(build);
    this.currentBuild = build;
    this.buildsRun++;
    const frame = (): FrameBuild => ({
      job: jobName,
      number,
      rootUrl: h.rootUrl(),
      nodeName: this.def.name,
      nodeDescription: this.def.description,
      hostName: this.def.host,
      parameters,
      result: build.result ?? undefined,
    });
    h.publish('onStarted', frame());
    const status = (result?: BuildResult) =>
      JSON.stringify({
        name: jobName,
        number,
        manager: h.managerName,
        worker: this.def.name,
        url: `${h.rootUrl()}job/${encodeURIComponent(jobName)}/${number}/`,
        ...(result ? { result } : {}),
      });
    job.sendWorkData(status());
    const duration = h.durationMs(jobName);
    job.reportStatus(0, Math.max(1, Math.round(duration)));
    let result: BuildResult;
    try {
      await h.clock.sleep(duration, this.abort.signal);
      result = h.result(jobName, number);
    } catch {
      result = 'ABORTED';
    }
    build.result = result;
    build.finished = h.clock.now();
    this.currentBuild = null;
    h.publish('onCompleted', frame());
    h.publish('onFinalized', frame());
    job.workComplete(status(result));
    this.log.debug({ job: jobName, number, result }, 'simulated build finished');
    if (this.state !== 'busy') return this.disconnect();
    // The Gearman plugin takes the agent offline after a build whose parameters ask for it (Zuul
    // sets OFFLINE_NODE_WHEN_COMPLETE for single-use nodes); builds without it leave it online.
    if (this.offlineMessage === null && /^(1|true)$/i.test(parameters.OFFLINE_NODE_WHEN_COMPLETE ?? '')) {
      this.offlineMessage = 'Offline due to Gearman request';
      this.offlineSince = h.clock.now();
    }
    if (this.offlineMessage === null) {
      // What a real Jenkins does with an online idle agent (RetentionStrategy$Always): it takes
      // the next queued build of its labels. Nodepool must take the agent offline before this.
      this.state = 'idle';
      this.busyServerUid = null;
      this.log.warn({ job: jobName, number }, 'agent still online after its build: offering it for the next one');
      this.register();
      return;
    }
    this.state = 'used';
    this.disconnect();
  }

  private disconnect(): void {
    this.stopReconnect();
    this.worker?.close();
    this.worker = null;
  }

  /** Deleting the node aborts a running build, as deleting a Jenkins agent does. */
  async delete(): Promise<void> {
    const wasBusy = this.state === 'busy';
    this.state = 'deleted';
    this.abort.abort(new Error('node deleted'));
    if (wasBusy && this.running) await this.running;
    this.disconnect();
  }
}

function parseParameters(text: string): Record<string, string> {
  if (!text) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  } catch {
    return {};
  }
}
