// A 0.x file, mapped, written out as an equivalent native nodepool.yaml: what changed is said in
// comments (a list at the top, and next to the values concerned), and every secret (cloud
// passwords, Jenkins API keys) becomes an ${ENV} reference whose value the caller sets.
import { Document, isMap, isScalar, Scalar, type Node } from 'yaml';
import type { KeyPath } from '../locate.js';
import type { V0Result } from './load.js';

export interface MigratedSecret {
  env: string;
  /** Native key path, e.g. providers[0].auth.password. */
  path: string;
  value: string;
}

export interface Migrated {
  text: string;
  secrets: MigratedSecret[];
}

const show = (path: KeyPath) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

function setIn(obj: unknown, path: KeyPath, value: unknown): void {
  let v = obj as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) v = v[step] as Record<string | number, unknown>;
  v[path[path.length - 1]] = value;
}

/** The node a comment about `path` goes before: a mapping value's key, or a list item. */
function commentable(doc: Document, path: KeyPath): Node | undefined {
  const last = path[path.length - 1];
  if (typeof last === 'string') {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === last);
      if (pair && isScalar(pair.key)) return pair.key;
    }
    return undefined;
  }
  const node = doc.getIn(path, true);
  return node && typeof node === 'object' ? (node as Node) : undefined;
}

export function migrateV0(result: V0Result, source: string): Migrated {
  const native = structuredClone(result.mapped.native);
  const secrets: MigratedSecret[] = [];
  const used = new Set<string>();
  for (const s of result.mapped.secrets) {
    let env = s.env;
    for (let n = 2; used.has(env); n++) env = `${s.env}_${n}`;
    used.add(env);
    setIn(native, s.native, `\${${env}}`);
    secrets.push({ env, path: show(s.native), value: s.value });
  }
  const doc = new Document(native);
  for (const s of result.mapped.secrets) {
    const node = doc.getIn(s.native, true);
    // Quoted, so that the substituted value is read as a string whatever it holds.
    if (isScalar(node)) node.type = Scalar.QUOTE_DOUBLE;
  }
  const comments = new Map<Node, string[]>();
  for (const w of result.mapped.warnings) {
    if (!w.native) continue;
    const node = commentable(doc, w.native);
    if (!node) continue;
    comments.set(node, [...(comments.get(node) ?? []), `0.x ${w.key}: ${w.message}`]);
  }
  for (const [node, lines] of comments) {
    node.commentBefore = [node.commentBefore, ...lines.map((l) => ` ${l}`)].filter((x) => x).join('\n');
  }
  doc.commentBefore = [
    ` Native nodepool-ts config, written by "nodepool config-migrate" from the Nodepool 0.x file ${source}.`,
    ' What changed (positions are in the 0.x file):',
    ...result.warnings.map((w) => `   ${w}`),
    ...(secrets.length ? [' Secrets are ${ENV} references; set these variables for the daemon:', ...secrets.map((s) => `   ${s.env} (${s.path})`)] : []),
  ].join('\n');
  return { text: doc.toString({ lineWidth: 0 }), secrets };
}
