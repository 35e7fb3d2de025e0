/**
 * Demand from Gearman: how many builds wait for a node of each label. Pure: no I/O.
 *
 * Wire format (Gearman administrative protocol): the answer to `status\n` is one line per
 * function, `FUNCTION\tTOTAL\tRUNNING\tAVAILABLE_WORKERS`, then a line holding a single `.`.
 * TOTAL counts queued and running jobs, so the builds still waiting are `max(0, TOTAL - RUNNING)`.
 *
 * The demand rule (Jenkins gearman-plugin naming, which Zuul submits to):
 * - Rows from several gearman servers are summed per function name first: a function known to
 *   two servers adds its totals, running counts and workers.
 * - `build:JOB:LABEL` waiting builds credit LABEL when LABEL is configured; for any other LABEL
 *   they are reported in `foreign` (another pool or static nodes serve it).
 * - A bare `build:JOB` carries no label. Workers register `build:JOB:LABEL` for every label they
 *   have, and gearmand keeps a function listed after its workers leave (single-use nodes come
 *   and go), so the `build:JOB:LABEL` functions present in the same status tell which labels JOB
 *   runs on, even with zero workers right now. The waiting builds go to one such label: among
 *   the configured ones, the one with the most workers for that job, ties broken by label name
 *   (one label, not a split, so a queue never launches more nodes than it has builds). When JOB
 *   is known only on labels we do not serve it goes to `foreign`; when it is known on no label
 *   at all it goes to `unassigned` (the daemon logs it: nothing can say which node it needs).
 * - Functions not starting with `build:` (node_assign, stop, set_description, ...) are ignored.
 * Job names cannot contain `:` in Jenkins, so the label is everything after the second colon.
 */

export interface GearmanStatusRow {
  function: string;
  /** Queued plus running jobs. */
  total: number;
  running: number;
  /** Workers currently registered for the function. */
  workers: number;
}

export interface StatusLineError {
  /** 1-based line number in the answer. */
  line: number;
  text: string;
  reason: string;
}

/**
 * The rows of a status answer. It is an array, so it can go straight to `demandByLabel`, and it
 * carries the lines that could not be read (never thrown: one odd line must not blind the pool).
 * `complete` is false when the terminating `.` line never came (a truncated answer).
 */
export type ParsedGearmanStatus = GearmanStatusRow[] & { errors: StatusLineError[]; complete: boolean };

const COUNT = /^\d+$/;

export function parseGearmanStatus(text: string): ParsedGearmanStatus {
  const rows: GearmanStatusRow[] = [];
  const errors: StatusLineError[] = [];
  let complete = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (complete) {
      if (line.trim() !== '') errors.push({ line: i + 1, text: line, reason: 'text after the terminating "."' });
      continue;
    }
    if (line === '.') {
      complete = true;
      continue;
    }
    if (line.trim() === '') continue;
    const row = parseRow(line);
    if (typeof row === 'string') errors.push({ line: i + 1, text: line, reason: row });
    else rows.push(row);
  }
  if (!complete) errors.push({ line: lines.length, text: '', reason: 'answer ended without the terminating "."' });
  return Object.assign(rows, { errors, complete });
}

/** A row, or the reason the line is not one. */
function parseRow(line: string): GearmanStatusRow | string {
  const fields = line.split('\t');
  if (fields.length !== 4) return `expected 4 tab-separated fields, got ${fields.length}`;
  const [name, total, running, workers] = fields;
  if (name === '') return 'empty function name';
  for (const [key, value] of [['total', total], ['running', running], ['workers', workers]] as const) {
    if (!COUNT.test(value)) return `${key} is not a non-negative integer: ${JSON.stringify(value)}`;
  }
  return { function: name, total: Number(total), running: Number(running), workers: Number(workers) };
}

/** Sums rows that name the same function (the same function on several gearman servers). */
export function sumStatusRows(rows: readonly GearmanStatusRow[]): GearmanStatusRow[] {
  const byName = new Map<string, GearmanStatusRow>();
  for (const row of rows) {
    const seen = byName.get(row.function);
    if (seen) {
      seen.total += row.total;
      seen.running += row.running;
      seen.workers += row.workers;
    } else {
      byName.set(row.function, { ...row });
    }
  }
  return [...byName.values()].sort((a, b) => compare(a.function, b.function));
}

export interface LabelDemand {
  /** Waiting builds per configured label; every configured label is a key (0 when none). */
  demand: Record<string, number>;
  /** Bare `build:JOB` with waiting builds and no label known for JOB, sorted by job. */
  unassigned: { job: string; waiting: number }[];
  /** Waiting builds for labels this pool does not serve, sorted by label then job. */
  foreign: { job: string; label: string; waiting: number }[];
}

interface BuildFunction {
  job: string;
  label: string | null;
}

/** `build:JOB` or `build:JOB:LABEL`; null for any other function. */
export function parseBuildFunction(name: string): BuildFunction | null {
  if (!name.startsWith('build:')) return null;
  const rest = name.slice('build:'.length);
  const colon = rest.indexOf(':');
  const job = colon < 0 ? rest : rest.slice(0, colon);
  const label = colon < 0 ? null : rest.slice(colon + 1);
  if (job === '' || label === '') return null;
  return { job, label };
}

export function demandByLabel(rows: readonly GearmanStatusRow[], labels: readonly string[]): LabelDemand {
  const configured = new Set(labels);
  const demand: Record<string, number> = {};
  for (const label of labels) demand[label] = 0;
  const unassigned: LabelDemand['unassigned'] = [];
  const foreignByKey = new Map<string, { job: string; label: string; waiting: number }>();
  const addForeign = (job: string, label: string, waiting: number) => {
    const key = `${label}\n${job}`;
    const seen = foreignByKey.get(key);
    if (seen) seen.waiting += waiting;
    else foreignByKey.set(key, { job, label, waiting });
  };

  const summed = sumStatusRows(rows);
  // job -> label -> workers, from every build:JOB:LABEL present (with or without workers).
  const jobLabels = new Map<string, Map<string, number>>();
  const bare: { job: string; waiting: number }[] = [];
  for (const row of summed) {
    const fn = parseBuildFunction(row.function);
    if (!fn) continue;
    const waiting = Math.max(0, row.total - row.running);
    if (fn.label === null) {
      if (waiting > 0) bare.push({ job: fn.job, waiting });
      continue;
    }
    let known = jobLabels.get(fn.job);
    if (!known) jobLabels.set(fn.job, (known = new Map()));
    known.set(fn.label, (known.get(fn.label) ?? 0) + row.workers);
    if (waiting === 0) continue;
    if (configured.has(fn.label)) demand[fn.label] += waiting;
    else addForeign(fn.job, fn.label, waiting);
  }

  for (const { job, waiting } of bare) {
    const known = [...(jobLabels.get(job) ?? new Map<string, number>())];
    const ours = known.filter(([label]) => configured.has(label));
    const best = pickLabel(ours.length > 0 ? ours : known);
    if (best === null) unassigned.push({ job, waiting });
    else if (configured.has(best)) demand[best] += waiting;
    else addForeign(job, best, waiting);
  }

  const foreign = [...foreignByKey.values()].sort((a, b) => compare(a.label, b.label) || compare(a.job, b.job));
  return { demand, unassigned, foreign };
}

/** Most workers first, then label name. */
function pickLabel(candidates: [string, number][]): string | null {
  let best: [string, number] | null = null;
  for (const c of candidates) {
    if (!best || c[1] > best[1] || (c[1] === best[1] && compare(c[0], best[0]) < 0)) best = c;
  }
  return best ? best[0] : null;
}

/** Code-unit order, independent of the locale, so results are the same on every machine. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
