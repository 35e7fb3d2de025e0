// Checks across sections that a schema cannot express: references between labels, providers,
// images and targets, unique names, and combinations of keys. Runs on the raw parsed data (before
// defaults) and tolerates wrong shapes, which the schema reports on its own, so that one run
// lists every problem.
import type { KeyPath } from './locate.js';
import { suggest } from './suggest.js';

export interface CrossProblem {
  path: KeyPath;
  /** What the position points at: the value at `path`, its key, or (missing key) the parent mapping. */
  at: 'value' | 'key' | 'parent';
  message: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v : []).map((x) => (isObj(x) ? x : {}));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function didYouMean(name: string, known: Iterable<string>): string {
  const s = suggest(name, known);
  return s === undefined ? '' : `; did you mean "${s}"?`;
}

/** Reports the second and later entries whose name repeats an earlier one. */
function duplicates(items: Obj[], base: KeyPath, what: string, out: CrossProblem[]): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = str(item.name);
    if (name === undefined) return;
    if (seen.has(name)) out.push({ path: [...base, i, 'name'], at: 'value', message: `duplicate ${what} name "${name}"` });
    seen.add(name);
  });
}

export function crossCheck(data: unknown): CrossProblem[] {
  const out: CrossProblem[] = [];
  if (!isObj(data)) return out;
  const providers = list(data.providers);
  const labels = list(data.labels);
  const targets = list(data.targets);
  const gearmanServers = Array.isArray(data['gearman-servers']) ? data['gearman-servers'] : [];

  duplicates(providers, ['providers'], 'provider', out);
  duplicates(labels, ['labels'], 'label', out);
  duplicates(targets, ['targets'], 'target', out);

  const imagesOf = new Map<string, Set<string> | null>();
  providers.forEach((p, i) => {
    const images = list(p.images);
    duplicates(images, ['providers', i, 'images'], `image (in provider "${str(p.name) ?? i}")`, out);
    const name = str(p.name);
    // null: the provider's images are malformed; the schema says so, and we check no further.
    if (name !== undefined && !imagesOf.has(name)) {
      imagesOf.set(name, Array.isArray(p.images) ? new Set(images.map((x) => str(x.name)).filter((x) => x !== undefined)) : null);
    }
    if (p.driver === 'ec2') {
      if (p['region-name'] === undefined) out.push({ path: ['providers', i, 'region-name'], at: 'parent', message: 'missing required key "region-name" (driver ec2 needs its AWS region)' });
      if ((p['access-key-id'] === undefined) !== (p['secret-access-key'] === undefined)) {
        out.push({ path: ['providers', i, p['access-key-id'] === undefined ? 'secret-access-key' : 'access-key-id'], at: 'key', message: 'give both "access-key-id" and "secret-access-key", or neither (the SDK default chain)' });
      }
    }
    if ((p.driver ?? 'openstack') === 'openstack' && p.auth === undefined) {
      out.push({ path: ['providers', i, 'auth'], at: 'parent', message: 'missing required key "auth" (driver openstack needs Keystone credentials)' });
    }
  });

  const targetNames = new Set(targets.map((t) => str(t.name)).filter((x) => x !== undefined));
  targets.forEach((t, i) => {
    const hasJenkins = t.jenkins !== undefined;
    const hasGearman = t.gearman !== undefined;
    if (hasJenkins && hasGearman) {
      out.push({ path: ['targets', i, 'gearman'], at: 'key', message: 'a target registers with either "jenkins" or "gearman", not both' });
    } else if (!hasJenkins && !hasGearman) {
      out.push({ path: ['targets', i, 'jenkins'], at: 'parent', message: 'missing "jenkins" or "gearman": say where this target registers nodes' });
    } else if (hasGearman && gearmanServers.length === 0) {
      out.push({ path: ['targets', i, 'gearman'], at: 'key', message: 'a gearman target needs at least one entry in "gearman-servers"' });
    }
  });

  labels.forEach((label, i) => {
    const image = str(label.image);
    list(label.providers).forEach((lp, j) => {
      const pname = str(lp.name);
      if (pname === undefined) return;
      if (!imagesOf.has(pname)) {
        out.push({ path: ['labels', i, 'providers', j, 'name'], at: 'value', message: `unknown provider "${pname}"${didYouMean(pname, imagesOf.keys())}` });
        return;
      }
      const images = imagesOf.get(pname);
      if (image !== undefined && images && !images.has(image)) {
        out.push({ path: ['labels', i, 'image'], at: 'value', message: `image "${image}" is not defined in provider "${pname}"${didYouMean(image, images)}` });
      }
    });
    const target = str(label.target);
    if (target !== undefined && !targetNames.has(target)) {
      const hint = targetNames.size === 0 ? '; no targets are defined' : didYouMean(target, targetNames);
      out.push({ path: ['labels', i, 'target'], at: 'value', message: `unknown target "${target}"${hint}` });
    }
  });
  return out;
}
