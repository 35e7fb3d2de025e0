// YAML -> typed, validated Config. Keys follow the original Nodepool's nodepool.yaml where the
// concept is the same. Durations accept seconds (number) or "30s"/"5m"/"2h"/"1d" and are held in ms.
import { readFileSync } from 'node:fs';
import { LineCounter, isScalar, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { crossCheck } from './config/cross-check.js';
import { substituteEnv, type EnvRegion } from './config/env.js';
import { commentRanges, formatPath, keyNode, locate, pathAt, type KeyPath } from './config/locate.js';
import { suggest } from './config/suggest.js';
import { parseV0Config, type V0LoadOptions } from './config/v0/index.js';
import { parseDuration } from './duration.js';
import { ConfigError } from './errors.js';
import { DEPLOYMENT_ID_PATTERN } from './deployment-id.js';

// Each constraint carries one message saying what was expected; the loader appends what it found
// ("expected a non-negative integer, got -3"), so the schema never echoes a value (secrets).
const DURATION = 'expected a positive duration: seconds, or e.g. "30s", "5m", "2h", "1d"';
const duration = (def: string | number) =>
  z
    .union([z.number(), z.string()], { error: DURATION })
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: DURATION });
        return z.NEVER;
      }
      return ms;
    });

const int = (error: string) => z.number({ error }).int({ error });
const count = () => int('expected a non-negative integer').min(0, { error: 'expected a non-negative integer' });
const positiveInt = () => int('expected a positive integer').min(1, { error: 'expected a positive integer' });
const port = () => {
  const error = 'expected a port number from 1 to 65535';
  return int(error).min(1, { error }).max(65535, { error });
};
const positive = () => z.number({ error: 'expected a positive number' }).positive({ error: 'expected a positive number' });
const text = () => z.string().min(1);
const httpUrl = () => z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a name of letters, digits, "-", "_" or "." (starting with a letter or digit)');

const providerImage = z.strictObject({
  name,
  /** Name or id of the cloud image booted for this label (and baked from, once the builder runs). */
  'base-image': text(),
  'min-ram': count().default(0),
  'name-filter': z.string().optional(),
  /** Setup script under images/, run over SSH when baking. */
  setup: z.string().optional(),
  username: z.string().default('jenkins'),
  'private-key': z.string().default('/var/lib/jenkins/.ssh/id_rsa'),
  meta: z.record(z.string(), z.string()).default({}),
  /** false: do not wait for SSH; the node is ready once ACTIVE, with whatever address it has. */
  'host-key-checking': z.boolean().default(true),
  /** A bake of this image (boot, setup, snapshot) must finish within this. */
  'build-timeout': duration('1h'),
  /** Waiting for the snapshot to become active, within the build-timeout. */
  'snapshot-timeout': duration('30m'),
  /**
   * Script under scripts-dir run on a test server booted from a new image before it is promoted
   * (exit 0 = good). Absent: the test server must only come up and answer SSH.
   */
  'image-check': z.string().optional(),
  /** Name of the bake's template server; {image} and {timestamp} (Unix seconds) are replaced. */
  'template-hostname': z.string().default('template-{image}-{timestamp}'),
});

const openstackAuth = z.strictObject({
  'auth-url': httpUrl(),
  username: text(),
  password: text(),
  'project-name': text(),
  'user-domain-name': z.string().default('Default'),
  'project-domain-name': z.string().default('Default'),
});

/** One EC2 API token bucket: its size and tokens added per second. */
const ec2Bucket = z.strictObject({ burst: positiveInt(), refill: positive() });

/**
 * Keys of `driver: ec2` (providers/ec2/). The region is `region-name`, the key pair `keypair`.
 * Credentials: the SDK's default chain (environment, profile, instance role) unless both keys are given.
 */
const ec2Keys = {
  /** Another EC2 API endpoint (an EC2-compatible cloud, the emulator). */
  endpoint: httpUrl().optional(),
  'access-key-id': text().optional(),
  'secret-access-key': text().optional(),
  /** Subnet ids; launches are spread over them in turn (each subnet fixes its AZ). */
  subnets: z.array(text()).default([]),
  'security-groups': z.array(text()).default([]),
  /** Owners (account ids, `self`, `amazon`) a base image given by name may come from: anyone can publish any AMI name. */
  'image-owners': z.array(text()).default(['self', 'amazon']),
  /**
   * Instance types flavors are chosen from (by each image's min-ram and name-filter); default: every
   * current-generation type. Worth bounding: an x86 AMI cannot boot on a Graviton type.
   */
  'instance-types': z.array(text()).default([]),
  /** `spot`: launch spot instances; an interrupted one is a lost node and is replaced. */
  market: z.enum(['on-demand', 'spot']).default('on-demand'),
  /** Caps the vCPUs of all instances we hold (the account's own limit is read when it can be). */
  'max-vcpus': positiveInt().optional(),
  /** Overrides of the API token buckets the driver paces itself by (defaults: AWS's published figures). */
  'rate-limits': z
    .strictObject({
      'non-mutating': ec2Bucket.optional(),
      mutating: ec2Bucket.optional(),
      'run-instances': ec2Bucket.optional(),
      'run-instances-resource': ec2Bucket.optional(),
      'terminate-instances-resource': ec2Bucket.optional(),
    })
    .optional(),
};

const provider = z.strictObject({
  name,
  driver: z.enum(['openstack', 'ec2']).default('openstack'),
  /** OpenStack: Keystone v3 password credentials. */
  auth: openstackAuth.optional(),
  'region-name': z.string().optional(),
  /** Endpoint interface from the catalog. */
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  'max-servers': count(),
  /** As in the original Nodepool: seconds between API calls (0.05 = 20 calls a second). */
  rate: positive().default(1.0),
  /** Calls that may go out at once after a quiet spell (token bucket size). */
  'rate-burst': positiveInt().default(1),
  /** Launches in flight at once on this provider. */
  'max-concurrency': positiveInt().default(10),
  'boot-timeout': duration(120),
  'launch-timeout': duration(3600),
  'launch-retries': count().default(3),
  /** How often the shared server list is polled while something waits on it. */
  'poll-interval': duration('2s'),
  'availability-zones': z.array(z.string()).default([]),
  /**
   * `auto` (Nova picks; default), `none` (no network, no address) or a list of networks, each
   * `{name}` or `{id}` (Nodepool 0.x spellings `net-label` / `net-id` accepted too).
   */
  networks: z
    .union([
      z.literal('auto'),
      z.literal('none'),
      z.array(
        z
          .strictObject({ name: z.string().optional(), id: z.string().optional(), 'net-id': z.string().optional(), 'net-label': z.string().optional() })
          .transform((n) => ({ name: n.name ?? n['net-label'], id: n.id ?? n['net-id'] }))
          .refine((n) => n.name !== undefined || n.id !== undefined, 'each network needs a name or an id'),
      ),
    ])
    .default('auto'),
  /** Prefer an IPv6 address over an IPv4 one of the same kind (public/private). */
  'ipv6-preferred': z.boolean().default(false),
  /** Use the private (fixed) address even when the server also has a public/floating one. */
  'use-private-address': z.boolean().default(false),
  'keypair': z.string().optional(),
  'config-drive': z.boolean().default(false),
  /** Port SSH answers on in the VMs (22 in a real cloud; the emulator uses a high port). */
  'ssh-port': port().default(22),
  ...ec2Keys,
  images: z.array(providerImage).min(1),
});

const labelProvider = z.strictObject({ name });

const label = z.strictObject({
  name,
  image: name,
  'min-ready': count().default(0),
  providers: z.array(labelProvider).min(1),
  /** Target the label's nodes register with; defaults to the first target. */
  target: name.optional(),
  /** Why this label gets no nodes (e.g. a 0.x label we cannot serve); such labels are left out of Config.labels. */
  disabled: text().optional(),
});

const jenkinsTarget = z.strictObject({
  url: httpUrl(),
  user: text(),
  apikey: text(),
  'credentials-id': text(),
  /** Remote filesystem root of the agent. */
  'remote-fs': z.string().default('/home/jenkins'),
});

const target = z.strictObject({
  name,
  /** Register nodes with a Jenkins master over its REST API. */
  jenkins: jenkinsTarget.optional(),
  /** Register nodes with any Gearman consumer through node_assign:<name>. */
  gearman: z.strictObject({}).optional(),
});

function isRegExp(v: string): boolean {
  try {
    new RegExp(`^(?:${v})$`);
    return true;
  } catch {
    return false;
  }
}

const job = z.strictObject({
  /** Job name, or a regular expression anchored at both ends. */
  name: text().refine(isRegExp, 'expected a job name or a valid regular expression'),
  'hold-on-failure': count().default(0),
});

const gearmanServer = z.strictObject({
  host: text(),
  port: port().default(4730),
});

export const configSchema = z
  .strictObject({
    /**
     * Names this installation in every server's metadata (and hostnames), so installations sharing
     * a cloud project never take each other's servers. Optional: generated once and kept in the store.
     */
    'deployment-id': z
      .string()
      .regex(DEPLOYMENT_ID_PATTERN, 'expected 1 to 16 lowercase letters, digits or "-", not starting or ending with "-"')
      .optional(),
    'gearman-servers': z.array(gearmanServer).default([]),
    'zmq-publishers': z.array(z.string().regex(/^tcp:\/\/[^:]+:\d+$/, 'expected tcp://HOST:PORT')).default([]),
    /** Cron schedules, as in the original Nodepool (image-update: when images are baked). */
    cron: z
      .strictObject({
        'image-update': z
          .string()
          .regex(/^\S+(\s+\S+){4}$/, 'expected a cron schedule of five fields, e.g. "14 2 * * *"')
          .default('14 2 * * *'),
      })
      .prefault({}),
    /**
     * The directory of setup and image-check scripts, copied to each template server (0.x
     * `script-dir`). Relative paths are relative to the config file.
     */
    'scripts-dir': z.string().default('images'),
    'demand-interval': duration('5s'),
    'cleanup-interval': duration('60s'),
    /** How often nodes ready or in use are checked against their master (lost build events). */
    'reconcile-interval': duration('60s'),
    /** Ready nodes above min-ready plus demand for this long are deleted, oldest first. */
    'surplus-grace': duration('10m'),
    /** Nodes older than this in a state are deleted: their events were lost. */
    'max-age': z
      .strictObject({
        ready: duration('24h'),
        'in-use': duration('24h'),
        used: duration('1h'),
        hold: duration('7d'),
      })
      .prefault({}),
    /** The daemon's web API. `token` (e.g. "${NODEPOOL_WEB_TOKEN}") enables hold and delete by bearer token; never logged. */
    web: z.strictObject({ token: text().optional() }).prefault({}),
    /** statsd, as Nodepool 0.x sends it (src/statsd.ts); without this key STATSD_HOST and STATSD_PORT are used. */
    statsd: z
      .strictObject({
        host: text(),
        port: port().default(8125),
        /** Put before every key, e.g. "ci" sends "ci.nodepool.nodes.ready". */
        prefix: z.string().optional(),
        /** How often the gauges (nodes by state, max-servers) are sent. */
        interval: duration('10s'),
      })
      .optional(),
    labels: z.array(label).min(1).transform((ls) => ls.filter((l) => l.disabled === undefined)),
    providers: z.array(provider).min(1),
    targets: z.array(target).default([]),
    jobs: z.array(job).default([]),
  });

export type Config = z.output<typeof configSchema>;
export type ProviderConfig = Config['providers'][number];
export type ProviderImageConfig = ProviderConfig['images'][number];
export type LabelConfig = Config['labels'][number];
export type TargetConfig = Config['targets'][number];
export type JobConfig = Config['jobs'][number];


// ---------------------------------------------------------------------------------------------
// The loader. Every problem becomes one line `FILE:LINE:COL: key.path: message`, and all of them
// are reported at once: env references, then (if the YAML parses) the schema and the checks across
// sections. Positions are those of the file as written, before substitution.

export type Env = Record<string, string | undefined>;

/** A problem located in the substituted text. */
interface Problem {
  offset: number;
  path: KeyPath;
  message: string;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Messages for constraints the schema did not word itself. */
export function defaultMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected a list with at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`;
      if (issue.origin === 'string') return issue.minimum === 1 ? 'expected a non-empty string' : `expected at least ${issue.minimum} characters`;
      return `expected a number ${issue.inclusive ? 'at least' : 'above'} ${issue.minimum}`;
    case 'too_big':
      return `expected ${issue.origin === 'array' ? 'a list of' : 'at most'} ${issue.maximum}${issue.origin === 'array' ? ' entries at most' : ''}`;
    case 'invalid_format':
      return `expected ${issue.format === 'url' ? 'a URL' : `a value of format ${issue.format}`}`;
    default:
      return undefined;
  }
}

export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length} entr${value.length === 1 ? 'y' : 'ies'}`;
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

/** Keys whose values are never shown in a problem, even when written in the file (a wrong type of secret is still a secret). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'apikey', 'token', 'secret-access-key', 'access-key-id', 'credentials']);

/** Describes the kind of a value without showing it, for values that came from the environment. */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value === 'number' ? 'a number' : 'a string';
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let v = data;
  for (const step of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[step];
  }
  return v;
}

/** Keys allowed by the schema at `path` (for "did you mean"). */
export function keysAt(schema: z.ZodType, path: KeyPath): string[] {
  let s: z.ZodType | undefined = schema;
  const unwrap = (t: z.ZodType | undefined): z.ZodType | undefined => {
    for (let i = 0; i < 10 && t; i++) {
      if (t instanceof z.ZodDefault || t instanceof z.ZodPrefault || t instanceof z.ZodOptional) t = t.def.innerType as z.ZodType;
      else if (t instanceof z.ZodPipe) t = t.def.in as z.ZodType;
      else break;
    }
    return t;
  };
  for (const step of path) {
    s = unwrap(s);
    if (s instanceof z.ZodArray && typeof step === 'number') s = s.element as z.ZodType;
    else if (s instanceof z.ZodObject) s = s.shape[step] as z.ZodType | undefined;
    else return [];
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

const overlaps = (node: Node | null, r: EnvRegion) =>
  !!node?.range && node.range[0] < r.end && Math.max(node.range[1], node.range[0] + 1) > r.start;

/** Offset to report for the value at `path`: its own, or its key's when the value is empty. */
function valueOffset(doc: Document, path: KeyPath): { offset: number; node: Node | null } {
  const at = locate(doc, path);
  const node = at.node;
  if (!node?.range) return { offset: 0, node: null };
  const empty = isScalar(node) && node.value === null && node.range[0] === node.range[1];
  return { offset: empty && at.key?.range ? at.key.range[0] : node.range[0], node };
}

function validate(doc: Document, data: unknown, regions: EnvRegion[]): { config?: Config; problems: Problem[] } {
  const result = configSchema.safeParse(data, { error: defaultMessage });
  if (result.success) return { config: result.data, problems: [] };
  const problems: Problem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const allowed = keysAt(configSchema, path);
      for (const key of issue.keys) {
        const hint = suggest(key, allowed);
        const offset = keyNode(doc, path, key)?.range?.[0] ?? valueOffset(doc, path).offset;
        problems.push({ offset, path: [...path, key], message: `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''}` });
      }
      continue;
    }
    const value = valueAt(data, path);
    if (value === undefined && path.length > 0) {
      const parent = locate(doc, path.slice(0, -1));
      const offset = parent.node?.range?.[0] ?? 0;
      problems.push({ offset, path, message: `missing required key "${String(path[path.length - 1])}"` });
      continue;
    }
    const { offset, node } = valueOffset(doc, path);
    // A value that could not be substituted is reported once, as the env problem.
    if (regions.some((r) => !r.resolved && overlaps(node, r))) continue;
    const fromEnv = regions.find((r) => r.resolved && overlaps(node, r));
    const got = fromEnv ? `${kindOf(value)} from \${${fromEnv.name}}` : SECRET_KEYS.has(String(path[path.length - 1])) ? kindOf(value) : describe(value);
    problems.push({ offset, path, message: `${issue.message}, got ${got}` });
  }
  return { problems };
}

function crossProblems(doc: Document, data: unknown, regions: EnvRegion[]): Problem[] {
  const problems: Problem[] = [];
  for (const p of crossCheck(data)) {
    let offset: number;
    let node: Node | null = null;
    if (p.at === 'parent') {
      offset = locate(doc, p.path.slice(0, -1)).node?.range?.[0] ?? 0;
    } else if (p.at === 'key') {
      node = keyNode(doc, p.path.slice(0, -1), String(p.path[p.path.length - 1]));
      offset = node?.range?.[0] ?? 0;
    } else {
      ({ offset, node } = valueOffset(doc, p.path));
    }
    if (regions.some((r) => !r.resolved && overlaps(node, r))) continue;
    problems.push({ offset, path: p.path, message: p.message });
  }
  return problems;
}

/** Replaces substituted values that a message might quote with the reference that produced them. */
function redact(message: string, text: string, regions: EnvRegion[]): string {
  const values = regions
    .filter((r) => r.resolved && r.end - r.start >= 3)
    .map((r) => ({ value: text.slice(r.start, r.end), ref: `\${${r.name}}` }))
    .sort((a, b) => b.value.length - a.value.length);
  return values.reduce((m, { value, ref }) => m.split(value).join(ref), message);
}

/**
 * Parses and validates a nodepool.yaml text. `file` names it in messages. `${NAME}` references
 * are resolved from `env` only (the caller passes process.env at the entry point).
 * Throws ConfigError listing every problem found.
 */
export function parseConfig(text: string, file: string, env: Env = {}, opts: LoadOptions = {}): Config {
  // A Nodepool 0.x file is accepted as it is (src/config/v0/), with a warning per key read differently.
  const v0 = parseV0Config(text, file, env, opts);
  if (v0) {
    for (const w of v0.warnings) opts.onWarning?.(w);
    return v0.config;
  }
  const original = new LineCounter();
  original.addNewLine(0);
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) original.addNewLine(i + 1);

  const sub = substituteEnv(text, env, commentRanges(text));
  const doc = parseDocument(sub.text, { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: true });

  const problems: Problem[] = sub.problems.map((p) => ({ offset: p.offset, path: pathAt(doc, p.offset), message: p.message }));
  const syntax = [...doc.errors];
  for (const err of syntax) {
    const offset = err.pos[0];
    problems.push({ offset, path: pathAt(doc, offset), message: `YAML syntax error: ${redact(err.message, sub.text, sub.regions)}` });
  }
  // A tree that did not parse cleanly would only produce noise from the schema.
  let config: Config | undefined;
  if (syntax.length === 0) {
    const data: unknown = doc.toJS({ maxAliasCount: 1000 });
    const checked = validate(doc, data, sub.regions);
    config = checked.config;
    problems.push(...checked.problems);
    for (const p of crossProblems(doc, data, sub.regions)) problems.push({ ...p, message: redact(p.message, sub.text, sub.regions) });
  }

  if (problems.length > 0 || config === undefined) {
    const lines = problems
      .map((p, i) => ({ ...p, i, origin: sub.toOriginal(p.offset) }))
      .sort((a, b) => a.origin - b.origin || a.i - b.i)
      .map((p) => {
        const { line, col } = original.linePos(p.origin);
        return `${file}:${line}:${col}: ${formatPath(p.path)}: ${p.message}`;
      });
    throw new ConfigError([...new Set(lines)]);
  }
  return config;
}

/** Reads and parses a config file; an unreadable file is a ConfigError too. */
export interface LoadOptions extends V0LoadOptions {
  /** Receives each warning line of a 0.x file (`FILE:LINE:COL: key: what we do instead`). */
  onWarning?: (line: string) => void;
}

export function loadConfig(file: string, env: Env = {}, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([`${file}: cannot read the file (${code ?? (err as Error).message})`]);
  }
  return parseConfig(text, file, env, opts);
}
