// A 0.x nodepool.yaml (parsed) -> the native config object, before the native schema sees it.
// Pure apart from reading clouds.yaml. Every key is looked up in keys.ts: unknown keys are
// problems, ignored and unsupported ones warnings, and the code below maps the rest. Each native
// value remembers the 0.x key it came from, so native schema problems point at the 0.x file.
import { configSchema, keysAt } from '../../config.js';
import type { KeyPath } from '../locate.js';
import { suggest } from '../suggest.js';
import type { SecureConf } from '../secure-conf.js';
import { findCloud, type CloudsYamlSearch } from './clouds-yaml.js';
import { V0_KEYS, v0Key, type V0Key } from './keys.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** Where a note or problem points: a key or value of the 0.x YAML, or a line already located (secure.conf). */
export type Where = { path: KeyPath; at: 'key' | 'value' } | { located: string };

export interface V0Note {
  where: Where;
  /** The 0.x key, as a path with indexes (`providers[0].pool`), or a secure.conf key. */
  key: string;
  message: string;
  /** The native value this note is about, when there is one (config-migrate comments it). */
  native?: KeyPath;
}

export interface V0Secret {
  /** Where it goes in the native object. */
  native: KeyPath;
  /** Environment variable config-migrate writes as its reference. */
  env: string;
  value: string;
}

export interface V0Mapped {
  native: Obj;
  warnings: V0Note[];
  problems: V0Note[];
  /** Native path (joined with "/") -> the 0.x path its value came from. */
  origins: Map<string, KeyPath>;
  secrets: V0Secret[];
}

export interface V0MapOptions {
  secure?: SecureConf;
  clouds: CloudsYamlSearch;
}

export const pattern = (path: KeyPath): string =>
  path.map((p, i) => (typeof p === 'number' ? '[]' : i === 0 ? p : `.${p}`)).join('');
export const display = (path: KeyPath): string =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
export const originKey = (path: KeyPath): string => path.join('/');

const envName = (...parts: string[]) => parts.join('_').toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');

const PROJECT_KEYS = ['project-name', 'tenant-name', 'project-id', 'tenant-id'] as const;

const NATIVE_SECRETS = new Set(['secret-access-key', 'token', 'password', 'apikey']);

const TREATMENT_WORD: Record<string, string> = { changed: 'changed', ignored: 'ignored', unsupported: 'not supported' };

class Mapper {
  readonly out: V0Mapped = { native: {}, warnings: [], problems: [], origins: new Map(), secrets: [] };

  /** Native keys found in the 0.x file, copied as they are once the mapping is built. */
  private native: { native: KeyPath; value: unknown; source: KeyPath }[] = [];

  constructor(private readonly opts: V0MapOptions) {}

  warn(path: KeyPath, message: string, native?: KeyPath, at: 'key' | 'value' = 'key'): void {
    this.out.warnings.push({ where: { path, at }, key: display(path), message, native });
  }

  problem(path: KeyPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.out.problems.push({ where: { path, at }, key: display(path), message });
  }

  origin(native: KeyPath, source: KeyPath): void {
    this.out.origins.set(originKey(native), source);
  }

  /**
   * Checks the keys of the mapping at `path` against the table: unknown keys are problems; ignored,
   * unsupported and changed keys get their warning (unless the caller words its own). Returns the
   * mapping (empty when the value is not one: the native schema reports the shape).
   */
  keys(path: KeyPath, value: unknown, own: readonly string[] = [], native?: KeyPath): Obj {
    if (!isObj(value)) return {};
    const base = pattern(path);
    const prefix = base === '' ? '' : `${base}.`;
    // The table's keys directly under this mapping (`providers[]` for `providers`).
    const allowed = V0_KEYS.filter((k) => !k.key.startsWith('secure.conf') && k.key.startsWith(prefix) && !k.key.slice(prefix.length).includes('.')).map((k) =>
      k.key.slice(prefix.length).replace(/\[\]$/, ''),
    );
    // A native key the 0.x file did not have (e.g. ssh-port, added by the operator) is read as it is.
    const native0 = native ?? [];
    const nativeKeys = native === undefined ? [] : keysAt(configSchema, native0);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key) && nativeKeys.includes(key)) {
        this.native.push({ native: [...native0, key], value: value[key], source: [...path, key] });
        continue;
      }
      if (!allowed.includes(key)) {
        const hint = suggest(key, allowed);
        this.problem([...path, key], `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''}`, 'key');
        continue;
      }
      const entry = v0Key(`${prefix}${key}`);
      if (entry.treatment !== 'same' && !own.includes(key)) this.warn([...path, key], this.say(entry), native);
    }
    return value;
  }

  say(entry: V0Key, extra = ''): string {
    return `${TREATMENT_WORD[entry.treatment]}: ${entry.note}${extra}`;
  }

  run(data: unknown): V0Mapped {
    const top = this.keys([], data, ['cron'], []);
    const n = this.out.native;
    if (top['script-dir'] !== undefined) {
      n['scripts-dir'] = top['script-dir'];
      this.origin(['scripts-dir'], ['script-dir']);
      if (typeof top['script-dir'] === 'string' && !top['script-dir'].startsWith('/')) {
        this.warn(['script-dir'], 'changed: a relative scripts-dir is taken relative to the config file (0.x: to the working directory of nodepool)', ['scripts-dir'], 'value');
      }
    }
    if ('gearman-servers' in top) {
      n['gearman-servers'] = list(top['gearman-servers']).map((g, i) => {
        const src = ['gearman-servers', i];
        const gs = this.keys(src, g);
        this.origin(['gearman-servers', i], src);
        return { ...(gs.host !== undefined && { host: gs.host }), ...(gs.port !== undefined && { port: gs.port }) };
      });
      if (!Array.isArray(top['gearman-servers'])) n['gearman-servers'] = top['gearman-servers'];
      this.origin(['gearman-servers'], ['gearman-servers']);
    }
    if ('zmq-publishers' in top) {
      n['zmq-publishers'] = top['zmq-publishers'];
      this.origin(['zmq-publishers'], ['zmq-publishers']);
    }
    if ('cron' in top) this.cron(top.cron);

    const dib = new Map<string, Set<string>>(); // provider -> images built with diskimage-builder
    n.providers = Array.isArray(top.providers) ? top.providers.map((p, i) => this.provider(p, i, dib)) : top.providers;
    this.origin(['providers'], ['providers']);

    const labels: Obj[] = [];
    list(top.labels).forEach((l, i) => labels.push(this.label(l, i, dib)));
    // Native indexes count only the targets kept.
    const targets: (Obj | null)[] = [];
    list(top.targets).forEach((t, i) => targets.push(this.target(t, i, targets.filter((x) => x !== null).length, labels)));
    n.labels = Array.isArray(top.labels) || labels.length > 0 ? labels : top.labels;
    this.origin(['labels'], ['labels']);
    const kept = targets.filter((t): t is Obj => t !== null);
    // 2013-layout labels name their target; one left out (registers nowhere) is named no more.
    const names = new Set(kept.map((t) => t.name));
    for (const l of labels) if (l.target !== undefined && !names.has(l.target)) delete l.target;
    n.targets = kept;
    this.origin(['targets'], ['targets']);
    if (kept.length > 1) {
      this.warn(['targets'], `changed: ${v0Key('targets').note}: every label registers with "${String(kept[0].name)}"`, ['targets']);
    }
    this.secureLeftovers();
    for (const k of this.native) {
      this.put(k.native, k.value, k.source);
      this.nativeSecrets(k.native, k.value);
    }
    return this.out;
  }

  /** Native secrets an operator added (an EC2 key, the web token) are kept out of config-migrate's text too. */
  nativeSecrets(path: KeyPath, value: unknown): void {
    if (typeof value === 'string' && NATIVE_SECRETS.has(String(path[path.length - 1]))) {
      this.out.secrets.push({ native: path, env: envName(...path.map(String)), value });
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) this.nativeSecrets([...path, Array.isArray(value) ? Number(k) : k], v);
    }
  }

  /** Sets a native value (its parent objects exist unless the 0.x shape was wrong: then nothing). */
  put(path: KeyPath, value: unknown, source: KeyPath): void {
    let v: unknown = this.out.native;
    for (const step of path.slice(0, -1)) {
      if (v === null || typeof v !== 'object') return;
      v = (v as Record<string | number, unknown>)[step];
    }
    if (v === null || typeof v !== 'object') return;
    (v as Record<string | number, unknown>)[path[path.length - 1]] = value;
    this.origin(path, source);
  }

  cron(value: unknown): void {
    const cron = this.keys(['cron'], value, ['cleanup']);
    const image = cron['image-update'] ?? cron['update-image'];
    if (image !== undefined) {
      this.out.native.cron = { 'image-update': image };
      this.origin(['cron', 'image-update'], ['cron', cron['image-update'] !== undefined ? 'image-update' : 'update-image']);
    }
    if (cron.cleanup !== undefined) {
      const m = /^\s*(?:\*|\*\/(\d+))\s+\*\s+\*\s+\*\s+\*\s*$/.exec(String(cron.cleanup));
      const entry = v0Key('cron.cleanup');
      if (m) {
        this.out.native['cleanup-interval'] = `${m[1] ?? 1}m`;
        this.origin(['cleanup-interval'], ['cron', 'cleanup']);
        this.warn(['cron', 'cleanup'], this.say(entry, `: cleanup-interval ${m[1] ?? 1}m`), ['cleanup-interval']);
      } else {
        this.warn(['cron', 'cleanup'], this.say(entry, ': this schedule is not every N minutes, so cleanup-interval keeps its default 60s'));
      }
    }
  }

  provider(value: unknown, i: number, dib: Map<string, Set<string>>): unknown {
    const src = ['providers', i];
    if (!isObj(value)) return value;
    // A project key that loses to another gets its own warning (auth), not the table's.
    const losing = PROJECT_KEYS.filter((k) => k in value).slice(1);
    const p = this.keys(src, value, ['images', ...losing], ['providers', i]);
    const out: Obj = {};
    const nat = (...k: (string | number)[]): KeyPath => ['providers', i, ...k];
    const copy = (from: string, to: string = from) => {
      if (p[from] === undefined) return;
      out[to] = p[from];
      this.origin(nat(to), [...src, from]);
    };
    copy('name');
    this.origin(nat(), src);
    this.auth(p, src, out, nat);
    copy('region-name');
    if (out['region-name'] === undefined && this.cloudRegion !== undefined) out['region-name'] = this.cloudRegion;
    this.cloudRegion = undefined;
    copy('max-servers');
    if (p['max-servers'] === -1) {
      out['max-servers'] = 0;
      this.warn([...src, 'max-servers'], 'changed: -1 (0.x: the provider is being removed) becomes 0: no new servers, existing nodes run out', nat('max-servers'), 'value');
    }
    copy('rate');
    // 0.x's default; the native one (120) counts ACTIVE and SSH together.
    out['boot-timeout'] = p['boot-timeout'] ?? 60;
    this.origin(nat('boot-timeout'), [...src, p['boot-timeout'] === undefined ? 'name' : 'boot-timeout']);
    copy('launch-timeout');
    copy('availability-zones');
    copy('keypair');
    copy('ipv6_preferred', 'ipv6-preferred');
    copy('ipv6-preferred');
    if (p.networks !== undefined) {
      out.networks = Array.isArray(p.networks)
        ? p.networks.map((net, j) => {
            const nsrc = [...src, 'networks', j];
            const nv = this.keys(nsrc, net, [], nat('networks', j));
            this.origin(nat('networks', j), nsrc);
            const id = nv['net-id'];
            const name = nv.name ?? nv['net-label'];
            return { ...(id !== undefined && { id }), ...(name !== undefined && { name }) };
          })
        : p.networks;
      this.origin(nat('networks'), [...src, 'networks']);
    }
    const name = str(p.name) ?? String(i);
    const dibImages = new Set<string>();
    dib.set(name, dibImages);
    let configDrive = false;
    if (p.images !== undefined) {
      out.images = Array.isArray(p.images)
        ? p.images.map((img, j) => {
            const isrc = [...src, 'images', j];
            const im = this.keys(isrc, img, ['config-drive'], nat('images', j));
            const o: Obj = {};
            this.origin(nat('images', j), isrc);
            for (const k of ['name', 'base-image', 'min-ram', 'name-filter', 'setup', 'username', 'private-key', 'meta']) {
              if (im[k] === undefined) continue;
              o[k] = im[k];
              this.origin(nat('images', j, k), [...isrc, k]);
            }
            if (im['config-drive'] !== undefined) {
              if (im['config-drive'] === true) {
                configDrive = true;
                this.warn([...isrc, 'config-drive'], this.say(v0Key('providers[].images[].config-drive')), nat('config-drive'));
              } else if (im['config-drive'] !== false && im['config-drive'] !== 0) {
                this.problem([...isrc, 'config-drive'], 'expected true or false');
              }
            }
            if (im.diskimage !== undefined) {
              if (str(im.name) !== undefined) dibImages.add(str(im.name)!);
              // Never baked (no setup) nor booted (its labels leave this provider out); kept so the file still names it.
              delete o.setup;
              if (o['base-image'] === undefined && str(im.diskimage) !== undefined) o['base-image'] = str(im.diskimage);
              this.origin(nat('images', j, 'base-image'), [...isrc, im['base-image'] === undefined ? 'diskimage' : 'base-image']);
            }
            return o;
          })
        : p.images;
      this.origin(nat('images'), [...src, 'images']);
    }
    if (configDrive) out['config-drive'] = true;
    if (p['template-hostname'] !== undefined && Array.isArray(out.images)) this.templateHostname(p, src, out, nat);
    return out;
  }

  private cloudRegion: string | undefined;

  /** 0.x's provider-wide template name onto each image, in the native fields ({image}, {timestamp}). */
  templateHostname(p: Obj, src: KeyPath, out: Obj, nat: (...k: (string | number)[]) => KeyPath): void {
    const raw = p['template-hostname'];
    if (typeof raw !== 'string') {
      this.problem([...src, 'template-hostname'], 'expected a string');
      return;
    }
    const value = raw.replaceAll('{image.name}', '{image}').replaceAll('{provider.name}', str(p.name) ?? '');
    const unknown = value.replaceAll('{image}', '').replaceAll('{timestamp}', '').match(/\{[^}]*\}/);
    if (unknown) {
      this.warn([...src, 'template-hostname'], `changed: field ${unknown[0]} is not known here ({image.name}, {provider.name} and {timestamp} are): template servers keep the default name template-{image}-{timestamp}`, undefined, 'value');
      return;
    }
    (out.images as unknown[]).forEach((img, j) => {
      if (img === null || typeof img !== 'object') return;
      (img as Obj)['template-hostname'] = value;
      this.origin(nat('images', j, 'template-hostname'), [...src, 'template-hostname']);
    });
  }

  auth(p: Obj, src: KeyPath, out: Obj, nat: (...k: (string | number)[]) => KeyPath): void {
    const auth: Obj = {};
    const from = new Map<string, KeyPath>();
    if (p.cloud !== undefined) {
      const cloud = findCloud(String(p.cloud), this.opts.clouds);
      if ('error' in cloud) {
        this.problem([...src, 'cloud'], cloud.error);
      } else {
        const set = (k: string, v: string | undefined) => {
          if (v === undefined) return;
          auth[k] = v;
          from.set(k, [...src, 'cloud']);
        };
        set('auth-url', cloud.authUrl);
        set('username', cloud.username);
        set('password', cloud.password);
        set('project-name', cloud.projectName);
        set('user-domain-name', cloud.userDomainName);
        set('project-domain-name', cloud.projectDomainName);
        this.cloudRegion = cloud.regionName;
      }
    }
    for (const [k, to] of [
      ['auth-url', 'auth-url'],
      ['username', 'username'],
      ['password', 'password'],
    ] as const) {
      if (p[k] === undefined) continue;
      auth[to] = p[k];
      from.set(to, [...src, k]);
    }
    // The project: the first of these, in os-client-config's order (tenant-* are Keystone v2's names).
    const project = PROJECT_KEYS.find((k) => p[k] !== undefined);
    if (project !== undefined) {
      auth['project-name'] = p[project];
      from.set('project-name', [...src, project]);
      for (const k of PROJECT_KEYS) {
        if (k !== project && p[k] !== undefined) this.warn([...src, k], `ignored: ${project} is set, and is the project used`);
      }
    }
    if (p.cloud === undefined && Object.keys(auth).length === 0) {
      this.problem(src, 'missing credentials: "cloud" (an entry of clouds.yaml) or "username", "password", "project-id" and "auth-url"');
      return;
    }
    if (p.cloud === undefined) {
      for (const k of ['username', 'password', 'auth-url']) if (auth[k] === undefined) this.problem(src, `missing required key "${k}"`);
      if (auth['project-name'] === undefined) this.problem(src, 'missing required key "project-id" (or "project-name")');
    }
    const url = str(auth['auth-url']);
    const urlFrom = from.get('auth-url');
    if (url !== undefined && urlFrom) {
      if (!/^https?:\/\//i.test(url)) {
        const host = url.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'unset';
        auth['auth-url'] = `http://${host}.invalid/`;
        this.warn(urlFrom, `changed: "${url}" is not an http(s) URL (0.x took "fake" for its built-in fake cloud, which we do not have): auth-url becomes ${String(auth['auth-url'])}, which never answers; set your Keystone URL`, nat('auth', 'auth-url'), 'value');
      } else if (/\/v2\.0\/?$/.test(url)) {
        auth['auth-url'] = url.replace(/\/v2\.0\/?$/, '/v3');
        this.warn(urlFrom, `changed: Keystone v2.0 is not spoken; authenticating with v3 at ${String(auth['auth-url'])}`, nat('auth', 'auth-url'), 'value');
      }
    }
    for (const [k, s] of from) this.origin(nat('auth', k), s);
    this.origin(nat('auth'), from.get('username') ?? src);
    out.auth = auth;
    if (typeof auth.password === 'string') {
      this.out.secrets.push({ native: nat('auth', 'password'), env: envName(str(p.name) ?? String(src[1]), 'password'), value: auth.password });
    }
  }

  label(value: unknown, i: number, dib: Map<string, Set<string>>): Obj {
    const src = ['labels', i];
    const l = this.keys(src, value, ['subnodes'], ['labels', i]);
    const out: Obj = {};
    this.origin(['labels', i], src);
    for (const k of ['name', 'image']) {
      if (l[k] === undefined) continue;
      out[k] = l[k];
      this.origin(['labels', i, k], [...src, k]);
    }
    // 0.x's default is 2, the native one 0.
    out['min-ready'] = l['min-ready'] ?? 2;
    this.origin(['labels', i, 'min-ready'], [...src, l['min-ready'] === undefined ? 'name' : 'min-ready']);
    // Why the label is disabled, each with the key that says so; one warning names them all.
    const reasons: { text: string; at: KeyPath }[] = [];
    if (l['min-ready'] === -1) {
      out['min-ready'] = 0;
      reasons.push({ text: 'min-ready -1 (disabled in 0.x)', at: [...src, 'min-ready'] });
    }
    if (l.subnodes !== undefined && l.subnodes !== 0) reasons.push({ text: 'subnodes: multi-node groups are not supported', at: [...src, 'subnodes'] });
    const image = str(l.image);
    const providers = Array.isArray(l.providers) ? l.providers : undefined;
    if (providers) {
      const entries = providers.map((lp, j) => {
        const psrc = [...src, 'providers', j];
        const pv = this.keys(psrc, lp);
        return { j, name: pv.name };
      });
      const usable = entries.filter((e) => image === undefined || !dib.get(str(e.name) ?? '')?.has(image));
      const dropped = entries.filter((e) => !usable.includes(e));
      // A label that still has a provider drops the diskimage-builder ones; one without keeps them all, disabled.
      const shown = usable.length > 0 ? usable : entries;
      if (usable.length === 0 && entries.length > 0) reasons.push({ text: `image ${image ?? '?'} is built with diskimage-builder on every provider`, at: [...src, 'image'] });
      else if (dropped.length > 0) {
        this.warn([...src, 'providers'], `changed: left out provider${dropped.length > 1 ? 's' : ''} ${dropped.map((d) => String(d.name)).join(', ')}, where image ${image ?? '?'} is built with diskimage-builder`, ['labels', i, 'providers']);
      }
      out.providers = shown.map((e, k) => {
        this.origin(['labels', i, 'providers', k], [...src, 'providers', e.j]);
        this.origin(['labels', i, 'providers', k, 'name'], [...src, 'providers', e.j, 'name']);
        return e.name === undefined ? {} : { name: e.name };
      });
      this.origin(['labels', i, 'providers'], [...src, 'providers']);
    } else if (l.providers !== undefined) {
      out.providers = l.providers;
      this.origin(['labels', i, 'providers'], [...src, 'providers']);
    } else if (reasons.length > 0) {
      out.providers = [];
    }
    if (reasons.length > 0) {
      out.disabled = reasons.map((r) => r.text).join('; ');
      this.origin(['labels', i, 'disabled'], reasons[0].at);
      this.warn(reasons[0].at, `not supported: label ${str(l.name) ?? i} disabled (no nodes): ${String(out.disabled)}`, ['labels', i, 'disabled']);
    }
    return out;
  }

  /** Returns the native target, or null when it registers nowhere (it is left out). */
  target(value: unknown, i: number, n: number, labels: Obj[]): Obj | null {
    const src = ['targets', i];
    const t = this.keys(src, value, ['assign-via-gearman'], ['targets', n]);
    const name = str(t.name);
    const at = (k: string): KeyPath => ['targets', n, k];
    if (t.images !== undefined) this.legacyImages(t, src, labels);
    const secure = name !== undefined ? this.opts.secure?.jenkins.get(name) : undefined;
    if (secure) this.usedSecure.add(secure.target);
    const jy = this.keys([...src, 'jenkins'], t.jenkins, [], at('jenkins'));
    if (t['assign-via-gearman'] === true) {
      const unused = t.jenkins !== undefined || secure ? '; the jenkins settings are not used' : '';
      this.warn([...src, 'assign-via-gearman'], this.say(v0Key('targets[].assign-via-gearman'), unused), at('gearman'));
      this.origin(['targets', n], src);
      this.origin(at('name'), [...src, 'name']);
      this.origin(at('gearman'), [...src, 'assign-via-gearman']);
      return { name: t.name, gearman: {} };
    }
    const jenkins: Obj = {};
    const from = new Map<string, Where>();
    for (const [k, to] of [
      ['url', 'url'],
      ['user', 'user'],
      ['apikey', 'apikey'],
      ['credentials-id', 'credentials-id'],
    ] as const) {
      if (jy[k] === undefined) continue;
      jenkins[to] = jy[k];
      from.set(to, { path: [...src, 'jenkins', k], at: 'value' });
    }
    if (secure) {
      for (const [k, to] of [
        ['url', 'url'],
        ['user', 'user'],
        ['apikey', 'apikey'],
        ['credentials', 'credentials-id'],
      ] as const) {
        const v = secure[k];
        if (!v) continue;
        jenkins[to] = v.value;
        from.set(to, { located: `${this.opts.secure!.file}:${v.line}:${v.col}` });
      }
    }
    const missing = ['url', 'user', 'apikey', 'credentials-id'].filter((k) => jenkins[k] === undefined || jenkins[k] === '');
    if (missing.length > 0) {
      const why =
        missing.length === 4
          ? 'no Jenkins url, user, apikey or credentials-id here or in secure.conf'
          : `Jenkins registration needs url, user, apikey and credentials-id (here or in secure.conf); missing: ${missing.join(', ')}`;
      this.warn([...src, t.name !== undefined ? 'name' : 'jenkins'], `changed: target left out: ${why}; nodes of its labels are ready without being registered anywhere`, undefined, 'value');
      // Nothing of it is in the native file: no native keys, no comments pointing at the next target.
      this.native = this.native.filter((k) => !(k.source[0] === 'targets' && k.source[1] === i));
      for (const w of this.out.warnings) if ('path' in w.where && w.where.path[0] === 'targets' && w.where.path[1] === i) delete w.native;
      return null;
    }
    this.origin(['targets', n], src);
    this.origin(at('name'), [...src, 'name']);
    this.origin(at('jenkins'), t.jenkins !== undefined ? [...src, 'jenkins'] : [...src, 'name']);
    for (const [k, w] of from) if ('path' in w) this.origin(['targets', n, 'jenkins', k], w.path);
    if (typeof jenkins.apikey === 'string') this.out.secrets.push({ native: ['targets', n, 'jenkins', 'apikey'], env: envName(name ?? String(i), 'apikey'), value: jenkins.apikey });
    return { name: t.name, jenkins };
  }

  private readonly usedSecure = new Set<string>();

  /** The 2013 layout: targets[].images[] with per-provider min-ready become labels on that target. */
  legacyImages(t: Obj, src: KeyPath, labels: Obj[]): void {
    list(t.images).forEach((img, j) => {
      const isrc = [...src, 'images', j];
      const im = this.keys(isrc, img);
      const i = labels.length;
      const out: Obj = { name: im.name, image: im.name };
      this.origin(['labels', i], isrc);
      this.origin(['labels', i, 'name'], [...isrc, 'name']);
      this.origin(['labels', i, 'image'], [...isrc, 'name']);
      let minReady = typeof im['min-ready'] === 'number' ? im['min-ready'] : 0;
      const providers = list(im.providers).map((lp, k) => {
        const psrc = [...isrc, 'providers', k];
        const pv = this.keys(psrc, lp, ['min-ready']);
        if (typeof pv['min-ready'] === 'number') {
          minReady += pv['min-ready'];
          this.warn([...psrc, 'min-ready'], this.say(v0Key('targets[].images[].providers[].min-ready')), ['labels', i, 'min-ready']);
        }
        this.origin(['labels', i, 'providers', k], psrc);
        this.origin(['labels', i, 'providers', k, 'name'], [...psrc, 'name']);
        return { name: pv.name };
      });
      out['min-ready'] = im['min-ready'] === undefined && providers.length === 0 ? 2 : minReady;
      out.providers = providers;
      this.origin(['labels', i, 'min-ready'], [...isrc, 'name']);
      this.origin(['labels', i, 'providers'], [...isrc, 'providers']);
      if (t.name !== undefined) out.target = t.name;
      labels.push(out);
    });
  }

  /** secure.conf entries the YAML does not use. */
  secureLeftovers(): void {
    const secure = this.opts.secure;
    if (!secure) return;
    if (secure.dburi) {
      this.out.warnings.push({ where: { located: `${secure.file}:${secure.dburi.line}:1` }, key: '[database] dburi', message: `ignored: ${v0Key('secure.conf: [database] dburi').note}` });
    }
    for (const j of secure.jenkins.values()) {
      if (this.usedSecure.has(j.target)) continue;
      this.out.warnings.push({ where: { located: `${secure.file}:${j.line}:1` }, key: `[jenkins "${j.target}"]`, message: `ignored: no target "${j.target}" in the config` });
    }
    for (const w of secure.warnings) {
      const [loc, ...rest] = w.split(': ');
      this.out.warnings.push({ where: { located: loc }, key: rest[0] ?? '', message: rest.slice(1).join(': ') });
    }
  }
}

export function mapV0(data: unknown, opts: V0MapOptions): V0Mapped {
  return new Mapper(opts).run(data);
}

/** Top-level keys only 0.x files have (native files never carry them). */
const V0_ONLY_TOP = ['script-dir', 'elements-dir', 'images-dir', 'dburi', 'diskimages', 'zookeeper-servers'];
const V0_ONLY_PROVIDER = ['cloud', 'username', 'password', 'project-id', 'project-name', 'tenant-id', 'tenant-name', 'auth-url', 'pool', 'api-timeout', 'service-type', 'service-name', 'template-hostname', 'image-type'];

/** Whether a parsed file is in the 0.x shape: it has a key that only 0.x files have. */
export function isV0(data: unknown): boolean {
  if (!isObj(data)) return false;
  if (V0_ONLY_TOP.some((k) => k in data)) return true;
  if (isObj(data.cron) && ['cleanup', 'check', 'update-image'].some((k) => k in (data.cron as Obj))) return true;
  if (list(data.providers).some((p) => isObj(p) && V0_ONLY_PROVIDER.some((k) => k in p))) return true;
  return list(data.targets).some((t) => isObj(t) && ('images' in t || 'assign-via-gearman' in t));
}
