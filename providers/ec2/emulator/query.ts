// EC2 Query parameters as @aws-sdk/client-ec2 sends them: a form body of `Name=value` pairs,
// lists flattened as `Name.N` (1-based), structures as `Name.N.Member` (e.g. `Filter.1.Name`,
// `Filter.1.Value.2`, `TagSpecification.1.Tag.1.Key`).
import { ec2Error } from './errors.js';

export class Params {
  constructor(readonly map: Map<string, string>) {}

  static parse(body: string): Params {
    return new Params(new Map(new URLSearchParams(body)));
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  required(name: string): string {
    const v = this.map.get(name);
    if (v === undefined || v === '') throw ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw ec2Error('InvalidParameterValue', `Invalid value '${v}' for ${name}`);
    return Number(v);
  }

  bool(name: string): boolean | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    return v.toLowerCase() === 'true';
  }

  /** `Prefix.1`, `Prefix.2`, ... in index order. */
  list(prefix: string): string[] {
    return this.indices(prefix).map((i) => this.map.get(`${prefix}.${i}`)!).filter((v) => v !== undefined);
  }

  /** The indices N present under `Prefix.N` or `Prefix.N.*`, sorted. */
  indices(prefix: string): number[] {
    const seen = new Set<number>();
    const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.|$)`);
    for (const k of this.map.keys()) {
      const m = re.exec(k);
      if (m) seen.add(Number(m[1]));
    }
    return [...seen].sort((a, b) => a - b);
  }

  /** Everything below `Prefix.` as its own Params (for one structure of a list). */
  sub(prefix: string): Params {
    const out = new Map<string, string>();
    for (const [k, v] of this.map) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
    return new Params(out);
  }

  /** `Filter.N.Name` / `Filter.N.Value.M`. */
  filters(): Filter[] {
    return this.indices('Filter').map((i) => {
      const f = this.sub(`Filter.${i}`);
      return { name: f.get('Name') ?? '', values: f.list('Value') };
    });
  }

  /** `TagSpecification.N.ResourceType` with `Tag.M.Key/Value`, by resource type. */
  tagSpecs(): Map<string, Record<string, string>> {
    const out = new Map<string, Record<string, string>>();
    for (const i of this.indices('TagSpecification')) {
      const spec = this.sub(`TagSpecification.${i}`);
      const type = spec.get('ResourceType') ?? '';
      if (out.has(type)) throw ec2Error('InvalidParameterValue', `The tag specification resource type ${type} is specified more than once`);
      out.set(type, spec.tags('Tag'));
    }
    return out;
  }

  /** `Tag.N.Key` / `Tag.N.Value` as a record, within EC2's tag restrictions. */
  tags(prefix: string): Record<string, string> {
    const tags: Record<string, string> = {};
    for (const j of this.indices(prefix)) {
      const key = this.get(`${prefix}.${j}.Key`);
      if (key === undefined) continue;
      const value = this.get(`${prefix}.${j}.Value`) ?? '';
      checkTag(key, value);
      tags[key] = value;
    }
    if (Object.keys(tags).length > 50) throw ec2Error('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
    return tags;
  }

  /** A stable text of every parameter except those named, for ClientToken comparisons. */
  fingerprint(except: readonly string[]): string {
    return [...this.map.entries()]
      .filter(([k]) => !except.includes(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
  }
}

export interface Filter {
  name: string;
  values: string[];
}

/** EC2 filter values take `*` (any run) and `?` (one character) wildcards. */
export function matchesValue(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(value);
}

/** True when any of the values matches any of the filter's patterns. */
export function matchesAny(f: Filter, values: readonly (string | null | undefined)[]): boolean {
  return values.some((v) => v !== null && v !== undefined && f.values.some((p) => matchesValue(p, v)));
}

/** Whether `f` matches the resource's `values` for its name; a name the resource has none for is invalid. */
export function matchNamedFilter(f: Filter, values: Record<string, () => readonly (string | null | undefined)[]>): boolean {
  const get = values[f.name];
  if (!get) throw ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
  return matchesAny(f, get());
}

/** Tag filters shared by every resource: `tag:KEY`, `tag-key`, `tag-value`; null when `f` is not one. */
export function matchTagFilter(f: Filter, tags: Record<string, string>): boolean | null {
  if (f.name.startsWith('tag:')) {
    const key = f.name.slice(4);
    return key in tags && matchesAny(f, [tags[key]]);
  }
  if (f.name === 'tag-key') return matchesAny(f, Object.keys(tags));
  if (f.name === 'tag-value') return matchesAny(f, Object.values(tags));
  return null;
}

export function tagSet(tags: Record<string, string>): { key: string; value: string }[] | undefined {
  const entries = Object.entries(tags);
  return entries.length === 0 ? undefined : entries.map(([key, value]) => ({ key, value }));
}

/** Tag restrictions (EC2 user guide, "Tag restrictions"): keys 1..128 characters, values up to 256, no `aws:` prefix. */
export function checkTag(key: string, value: string): void {
  if (key.length === 0 || key.length > 128) throw ec2Error('InvalidParameterValue', `Tag key exceeds the maximum length of 128 characters`);
  if (value.length > 256) throw ec2Error('InvalidParameterValue', `Tag value exceeds the maximum length of 256 characters`);
  if (key.toLowerCase().startsWith('aws:')) throw ec2Error('InvalidParameterValue', "Tag keys starting with 'aws:' are reserved for internal use");
}
