// A job-load generator: submits `build:JOB:LABEL` jobs to gearmand as Zuul does, either at a
// steady rate or following a trace. Jobs are submitted in the FOREGROUND (background=false): the
// Gearman client then hears WORK_COMPLETE / WORK_FAIL, so completed() counts builds that really
// finished (and a queued job dies with the generator instead of outliving it in gearmand).
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { gearmanode, type GearmanServerAddress, type GmClient } from './gearmanode.js';

export interface LoadJob {
  name: string;
  label: string;
}

export interface TraceEntry {
  /** Milliseconds after the start. */
  at: number;
  job: string;
  label: string;
}

export interface LoadOptions {
  gearman: GearmanServerAddress[];
  /** Jobs picked round-robin when no trace is given. */
  jobs: LoadJob[];
  /** Submissions per second without a trace. Default 1. */
  ratePerSecond?: number;
  /** Exact submission times; overrides jobs/rate. */
  trace?: TraceEntry[];
  /** How many jobs to submit (without a trace). Default jobs.length. */
  count?: number;
  clock?: Clock;
  log?: Logger;
  /** Extra build parameters sent with every job (JSON payload of strings). */
  parameters?: Record<string, string>;
  /** Send OFFLINE_NODE_WHEN_COMPLETE=1 (as Zuul does for single-use nodes). Default true; false
   * is a build from Jenkins' own queue, after which a real agent stays online. */
  offlineWhenComplete?: boolean;
}

export interface LoadOutcome {
  fn: string;
  submitted: number;
  finished: number;
  /** Gearman outcome: WORK_COMPLETE, WORK_FAIL or WORK_EXCEPTION. */
  outcome: 'complete' | 'failed' | 'exception' | 'error';
  /** The master's WORK_COMPLETE data (the Gearman plugin sends {name, number, result, ...}). */
  response: string;
}

export interface Load {
  submitted(): number;
  completed(): number;
  outcomes(): LoadOutcome[];
  /** Resolves when every planned job was submitted and has finished, or after stop(). */
  done: Promise<void>;
  /** Stops submitting, drops jobs still queued and closes the client. Idempotent. */
  stop(): Promise<void>;
}

export function startLoad(opts: LoadOptions): Load {
  const clock = opts.clock ?? systemClock;
  const log = (opts.log ?? silentLogger).child({ component: 'sim-load' });
  const plan = planSubmissions(opts);
  const client: GmClient = gearmanode().client({ servers: opts.gearman.map((s) => ({ ...s })) });
  client.on('error', (error: unknown) => log.warn({ error }, 'gearman client error'));
  client.on('socketError', (uid: string, error: unknown) => log.debug({ server: uid, error }, 'gearman socket error'));
  const abort = new AbortController();
  const results: LoadOutcome[] = [];
  let submitted = 0;
  let pending = 0;
  let stopped = false;
  let allSubmitted = false;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const maybeDone = () => {
    if (stopped || (allSubmitted && pending === 0)) resolveDone();
  };

  const submit = (fn: string, seq: number) => {
    const started = clock.now();
    const payload = JSON.stringify({ ...opts.parameters, ...(opts.offlineWhenComplete === false ? {} : { OFFLINE_NODE_WHEN_COMPLETE: '1' }), LOAD_SEQ: String(seq) });
    const job = client.submitJob(fn, payload, { background: false, toStringEncoding: 'utf8' });
    submitted++;
    pending++;
    let settled = false;
    const finish = (outcome: LoadOutcome['outcome'], response: string) => {
      if (settled) return;
      settled = true;
      pending--;
      results.push({ fn, submitted: started, finished: clock.now(), outcome, response });
      maybeDone();
    };
    job.on('complete', () => finish('complete', String(job.response ?? '')));
    job.on('failed', () => finish('failed', ''));
    job.on('exception', (data: unknown) => finish('exception', String(data ?? '')));
    job.on('error', (error: unknown) => {
      log.warn({ error, fn }, 'job submission failed');
      finish('error', String(error));
    });
  };

  const run = async () => {
    const start = clock.now();
    for (const [i, entry] of plan.entries()) {
      const wait = start + entry.at - clock.now();
      if (wait > 0) await clock.sleep(wait, abort.signal);
      if (stopped) return;
      submit(`build:${entry.job}:${entry.label}`, i + 1);
    }
    allSubmitted = true;
    maybeDone();
  };
  run().catch((error) => {
    if (!stopped) log.warn({ error }, 'load generator stopped');
    allSubmitted = true;
    maybeDone();
  });

  let stopping: Promise<void> | null = null;
  return {
    submitted: () => submitted,
    completed: () => results.filter((r) => r.outcome === 'complete').length,
    outcomes: () => results.map((r) => ({ ...r })),
    done,
    stop: () => {
      stopping ??= (async () => {
        stopped = true;
        abort.abort(new Error('load stopped'));
        client.close();
        maybeDone();
      })();
      return stopping;
    },
  };
}

/** Submission times: the trace as given (sorted), or `count` jobs round-robin at the rate. */
export function planSubmissions(opts: Pick<LoadOptions, 'jobs' | 'ratePerSecond' | 'trace' | 'count'>): TraceEntry[] {
  if (opts.trace) return [...opts.trace].sort((a, b) => a.at - b.at);
  if (opts.jobs.length === 0) return [];
  const rate = opts.ratePerSecond ?? 1;
  if (!(rate > 0)) throw new RangeError('ratePerSecond must be > 0');
  const count = opts.count ?? opts.jobs.length;
  const gap = 1000 / rate;
  return Array.from({ length: count }, (_, i) => {
    const j = opts.jobs[i % opts.jobs.length];
    return { at: Math.round(i * gap), job: j.name, label: j.label };
  });
}
