// Writes docs/config-reference.md from the zod schema in src/config.ts: every key with its type,
// default and description, so the reference cannot drift from the loader. Descriptions are the
// schema's own (.describe()/.meta()) or else the /** doc comment */ above the key in src/config.ts
// or src/config/**; a key's object literal is found by the keys around it, so new keys and new
// sub-schemas need nothing here. Run: `npx tsx scripts/gen-config-reference.ts` (`--check`: exit 1
// when the file is stale; test/unit/config-reference.test.ts does the same).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { configSchema } from '../src/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const REFERENCE_PATH = join(ROOT, 'docs/config-reference.md');

/** A zod v4 schema as far as this script looks at it. */
interface Schema {
  description?: string;
  _zod: { def: Record<string, unknown> & { type: string }; bag?: Record<string, unknown> };
}

export interface Row {
  path: string;
  type: string;
  default: string;
  description: string;
}

// --- doc comments from the source ---------------------------------------------------------

interface Literal {
  keys: Set<string>;
  docs: Map<string, string>;
}

function sourceFiles(): string[] {
  const out = [join(ROOT, 'src/config.ts')];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ts')) out.push(join(dir, e.name));
    }
  };
  walk(join(ROOT, 'src/config'));
  return out;
}

function docComment(text: string, node: ts.Node): string | undefined {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  const doc = ranges.filter((r) => text.startsWith('/**', r.pos)).at(-1);
  if (!doc) return undefined;
  return text
    .slice(doc.pos + 3, doc.end - 2)
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .filter(Boolean)
    .join(' ');
}

function literals(): Literal[] {
  const out: Literal[] = [];
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isObjectLiteralExpression(node)) {
        const lit: Literal = { keys: new Set(), docs: new Map() };
        for (const p of node.properties) {
          if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) continue;
          const name = ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) ? p.name.text : undefined;
          if (name === undefined) continue;
          lit.keys.add(name);
          const doc = docComment(text, p);
          if (doc) lit.docs.set(name, doc);
        }
        if (lit.keys.size) out.push(lit);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

/** The doc of `key` in the object literal that best matches a zod object's keys (the largest whose keys it all has). */
function docFor(lits: readonly Literal[], shapeKeys: Set<string>, key: string): string {
  const candidates = lits.filter((l) => l.keys.has(key) && [...l.keys].every((k) => shapeKeys.has(k))).sort((a, b) => b.keys.size - a.keys.size);
  return candidates.find((l) => l.docs.has(key))?.docs.get(key) ?? '';
}

// --- the schema ---------------------------------------------------------------------------

interface Unwrapped {
  core: Schema;
  optional: boolean;
  defaultValue: unknown;
  hasDefault: boolean;
  duration: boolean;
  description: string | undefined;
}

const def = (s: Schema) => s._zod.def;

function unwrap(schema: Schema): Unwrapped {
  const u: Unwrapped = { core: schema, optional: false, defaultValue: undefined, hasDefault: false, duration: false, description: schema.description };
  for (let s = schema; ; ) {
    u.description ??= s.description;
    const d = def(s);
    if (d.type === 'optional' || d.type === 'nullable' || d.type === 'readonly' || d.type === 'catch' || d.type === 'nonoptional') {
      if (d.type === 'optional') u.optional = true;
      s = d.innerType as Schema;
    } else if (d.type === 'default' || d.type === 'prefault') {
      if (!u.hasDefault) {
        u.hasDefault = true;
        u.defaultValue = d.defaultValue;
      }
      s = d.innerType as Schema;
    } else if (d.type === 'pipe') {
      // A transform after a union of number and string: the loader's durations.
      const input = d.in as Schema;
      let inner = input;
      while (def(inner).type === 'default' || def(inner).type === 'optional') inner = def(inner).innerType as Schema;
      const opts = def(inner).type === 'union' ? (def(inner).options as Schema[]).map((o) => def(o).type) : [];
      if (def(d.out as Schema).type === 'transform' && opts.includes('number') && opts.includes('string')) u.duration = true;
      s = def(input).type === 'transform' ? (d.out as Schema) : input;
    } else {
      u.core = s;
      return u;
    }
  }
}

function typeName(u: Unwrapped): string {
  if (u.duration) return 'duration';
  return coreType(u.core);
}

function coreType(s: Schema): string {
  const d = def(s);
  switch (d.type) {
    case 'string':
      return s._zod.bag?.format === 'url' ? 'URL' : 'string';
    case 'number': {
      const checks = ((d.checks ?? []) as Schema[]).map((c) => def(c) as Record<string, unknown>);
      const int = checks.some((c) => typeof c.format === 'string' && /int/.test(c.format));
      const min = checks.find((c) => c.check === 'greater_than');
      const max = checks.find((c) => c.check === 'less_than');
      const range = [min ? `${min.inclusive ? '≥' : '>'} ${String(min.value)}` : '', max ? `${max.inclusive ? '≤' : '<'} ${String(max.value)}` : ''].filter(Boolean).join(', ');
      return `${int ? 'integer' : 'number'}${range ? ` (${range})` : ''}`;
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal':
      return (d.values as unknown[]).map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
    case 'array':
      return `list of ${typeName(unwrap(d.element as Schema))}`;
    case 'object':
      return 'mapping';
    case 'record':
      return `mapping to ${typeName(unwrap(d.valueType as Schema))}`;
    case 'union':
      return (d.options as Schema[]).map((o) => typeName(unwrap(o))).join(' or ');
    default:
      return d.type;
  }
}

function defaultText(u: Unwrapped): string {
  if (!u.hasDefault) return u.optional ? '' : '**required**';
  const v = u.defaultValue;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return '(each key\'s default)';
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
}

/** Arrays and objects inside a key: where the rows below it come from. */
function children(core: Schema): Schema | null {
  const d = def(core);
  if (d.type === 'object') return core;
  if (d.type === 'array') {
    const el = unwrap(d.element as Schema).core;
    return def(el).type === 'object' ? el : null;
  }
  if (d.type === 'union') {
    const objs = (d.options as Schema[]).map((o) => unwrap(o).core).filter((o) => def(o).type === 'object');
    return objs[0] ?? null;
  }
  return null;
}

function walk(obj: Schema, prefix: string, lits: readonly Literal[], rows: Row[]): void {
  const shape = def(obj).shape as Record<string, Schema>;
  const keys = new Set(Object.keys(shape));
  for (const [key, schema] of Object.entries(shape)) {
    const u = unwrap(schema);
    const path = `${prefix}${key}`;
    rows.push({ path, type: typeName(u), default: defaultText(u), description: (u.description ?? docFor(lits, keys, key)).trim() });
    const sub = children(u.core);
    if (sub) walk(sub, `${path}${def(u.core).type === 'array' ? '[]' : ''}.`, lits, rows);
  }
}

/**
 * Descriptions of keys that have no doc comment in the schema's source (a doc comment there wins:
 * put new descriptions in src/config.ts). Matched by path; `*` matches one key.
 */
const FALLBACK: [string, string][] = [
  ['gearman-servers', 'Gearman servers polled with the admin `status` command for demand (waiting `build:JOB[:LABEL]` functions).'],
  ['gearman-servers[].host', 'Host name or address of the Gearman server.'],
  ['gearman-servers[].port', 'Its port.'],
  ['zmq-publishers', 'ZeroMQ event publishers of the Jenkins masters (`tcp://host:8888`): onStarted / onFinalized of builds on our nodes.'],
  ['cron.image-update', 'When images are rebuilt: five cron fields, in UTC.'],
  ['demand-interval', 'How often Gearman demand is polled (and the planner runs without events).'],
  ['cleanup-interval', 'How often each cloud is reconciled with the store (leaked and lost servers, stuck nodes, quota).'],
  ['max-age.*', 'A node this long in this state is deleted (its events were lost); `hold` counts from the hold unless the hold has its own expiry.'],
  ['web.token', 'Bearer token for hold and delete through the web API (e.g. `${NODEPOOL_WEB_TOKEN}`); without it those are refused (403).'],
  ['statsd.host', 'statsd server host.'],
  ['statsd.port', 'statsd server UDP port.'],
  ['labels', 'The kinds of node the masters ask for.'],
  ['labels[].name', 'Label name, as the masters use it (Jenkins label, `build:JOB:LABEL`).'],
  ['labels[].image', 'Image (a `providers[].images[].name`) its nodes boot.'],
  ['labels[].min-ready', 'Nodes kept ready beyond the waiting builds.'],
  ['labels[].providers', 'Providers its nodes may launch in, in order of preference.'],
  ['labels[].providers[].name', 'A `providers[].name`.'],
  ['providers', 'The clouds.'],
  ['providers[].name', 'Provider name (in metrics, hostnames and metadata).'],
  ['providers[].driver', 'Cloud API: OpenStack (Keystone, Nova, Glance) or AWS EC2.'],
  ['providers[].auth.*', 'Keystone v3 password credentials (`${ENV}` for secrets).'],
  ['providers[].region-name', 'Region in the service catalog (OpenStack) or AWS region.'],
  ['providers[].max-servers', 'Never more servers than this here (nor than the cloud\'s quota).'],
  ['providers[].boot-timeout', 'One budget per attempt for the server to be ACTIVE and answer SSH.'],
  ['providers[].launch-timeout', 'Deadline for a launch, all attempts, from the node row\'s creation.'],
  ['providers[].launch-retries', 'Attempts per launch before the node is given up.'],
  ['providers[].availability-zones', 'Availability zones used in turn; empty: the cloud chooses.'],
  ['providers[].keypair', 'Nova keypair (EC2 key pair) installed in the servers.'],
  ['providers[].config-drive', 'Boot with a config drive.'],
  ['providers[].access-key-id', 'EC2 access key id (`${ENV}`); absent: the SDK\'s default credential chain.'],
  ['providers[].secret-access-key', 'EC2 secret access key (`${ENV}`).'],
  ['providers[].security-groups', 'Security groups of the servers.'],
  ['providers[].rate-limits', 'EC2 API request buckets (as AWS throttles them); absent: the defaults.'],
  ['providers[].rate-limits.*', 'One EC2 API bucket: `burst` tokens, `refill` tokens per second.'],
  ['providers[].rate-limits.*.burst', 'Bucket size.'],
  ['providers[].rate-limits.*.refill', 'Tokens added per second.'],
  ['providers[].images', 'Images booted here (by labels) and baked here.'],
  ['providers[].images[].name', 'Image name, referred to by `labels[].image`.'],
  ['providers[].images[].min-ram', 'The smallest flavor with at least this much RAM (MB) is used.'],
  ['providers[].images[].name-filter', 'Only flavors whose name contains this.'],
  ['providers[].images[].username', 'User the SSH check and the bake log in as.'],
  ['providers[].images[].private-key', 'Private key file for that user.'],
  ['providers[].images[].meta', 'Extra server metadata (ours is added on top).'],
  ['targets', 'The masters nodes are registered with.'],
  ['targets[].name', 'Target name, referred to by `labels[].target`.'],
  ['targets[].jenkins.url', 'Jenkins base URL.'],
  ['targets[].jenkins.user', 'Jenkins user.'],
  ['targets[].jenkins.apikey', 'Its API token (`${ENV}`).'],
  ['targets[].jenkins.credentials-id', 'Jenkins credentials id the agents are launched over SSH with.'],
  ['jobs', 'Per-job rules, matched by name or regular expression.'],
  ['jobs[].hold-on-failure', 'Hold up to this many nodes of failed builds of the job for inspection.'],
];

function fallback(path: string): string {
  const hit = FALLBACK.find(([pattern]) => new RegExp(`^${pattern.replace(/[.[\]]/g, (c) => `\\${c}`).replace(/\*/g, '[^.]+')}$`).test(path));
  return hit?.[1] ?? '';
}

export function configRows(): Row[] {
  const rows: Row[] = [];
  walk(unwrap(configSchema as unknown as Schema).core, '', literals(), rows);
  return rows.map((r) => (r.description ? r : { ...r, description: fallback(r.path) }));
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderConfigReference(): string {
  const rows = configRows();
  const out = [
    '# Configuration reference',
    '',
    `<!-- Generated by scripts/gen-config-reference.ts from the schema in src/config.ts. Do not edit: run \`npx tsx scripts/gen-config-reference.ts\`. -->`,
    '',
    'Every key the daemon and the CLI accept, with its type and default. Keys follow the original Nodepool\'s',
    '`nodepool.yaml` where the concept is the same; unknown keys are an error ("did you mean"). A **duration** is',
    'seconds (a number) or a string such as `30s`, `5m`, `2h`, `1d`. `${VAR}` in any value takes it from the',
    'environment (for secrets; never logged). `nodepool config-validate -c FILE` checks a file.',
    '`key[].sub` is a key of each entry of the list `key`.',
    '',
  ];
  const top = rows.filter((r) => !r.path.includes('.'));
  for (const t of top) {
    out.push(`## \`${t.path}\``, '');
    if (t.description) out.push(t.description, '');
    out.push('| Key | Type | Default | Description |', '| --- | --- | --- | --- |');
    for (const r of rows.filter((x) => x.path === t.path || x.path.startsWith(`${t.path}.`) || x.path.startsWith(`${t.path}[].`))) {
      out.push(`| \`${cell(r.path)}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = renderConfigReference();
  const rel = relative(process.cwd(), REFERENCE_PATH);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(REFERENCE_PATH, 'utf8');
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${rel} is stale: run npx tsx scripts/gen-config-reference.ts`);
      process.exit(1);
    }
    console.log(`${rel} is up to date`);
  } else {
    writeFileSync(REFERENCE_PATH, text);
    const rows = configRows();
    console.log(`wrote ${rel} (${rows.length} keys)`);
    for (const r of rows.filter((x) => !x.description)) console.warn(`no description for ${r.path}: add a /** doc comment */ above it in the schema`);
  }
}
