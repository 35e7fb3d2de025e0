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
  /**
   * What the variable must hold: the secret itself, or (`escaped`) the secret as written between
   * YAML double quotes (`\\` for \, `\"` for ", `\n` for a line break), which is how a value with a
   * line break (an environment value may hold none) or every quote character gets through.
   */
  value: string;
  escaped: boolean;
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

/**
 * How a `${X}` reference is written so that the value substituted into the text (as it is: the
 * substitution is textual, before YAML) reads back as exactly that string: double quotes when the
 * value has no `"`, `\` or control character; else single quotes when it has no `'`; else a
 * literal block (`|-`) when it does not start with a blank; else double quotes with the variable
 * holding the value escaped for them (also the only way for a line break).
 */
type Style = 'double' | 'single' | 'block' | 'escaped';
const STYLE_TYPE: Record<Style, Scalar.Type> = { double: Scalar.QUOTE_DOUBLE, single: Scalar.QUOTE_SINGLE, block: Scalar.BLOCK_LITERAL, escaped: Scalar.QUOTE_DOUBLE };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

function styleFor(value: string): Style {
  if (CONTROL.test(value)) return 'escaped';
  if (!/["\\]/.test(value)) return 'double';
  if (!value.includes("'")) return 'single';
  if (value !== '' && !/^[ \t]/.test(value)) return 'block';
  return 'escaped';
}

/** The text between YAML double quotes that reads as `value` (JSON's escapes are YAML's). */
export function escapeDouble(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

export const ESCAPED_NOTE = ': the value escaped as between YAML double quotes (\\\\ for \\, \\" for ", \\n for a line break)';

export function migrateV0(result: V0Result, source: string): Migrated {
  const native = structuredClone(result.mapped.native);
  const secrets: MigratedSecret[] = [];
  const used = new Set<string>();
  const styles: Style[] = [];
  for (const s of result.mapped.secrets) {
    let env = s.env;
    for (let n = 2; used.has(env); n++) env = `${s.env}_${n}`;
    used.add(env);
    setIn(native, s.native, `\${${env}}`);
    const style = styleFor(s.value);
    secrets.push({ env, path: show(s.native), value: style === 'escaped' ? escapeDouble(s.value) : s.value, escaped: style === 'escaped' });
    styles.push(style);
  }
  const doc = new Document(native);
  result.mapped.secrets.forEach((s, i) => {
    const node = doc.getIn(s.native, true);
    // Quoted (or a block), so that the substituted value is read as a string, exactly, whatever it holds.
    if (isScalar(node)) node.type = STYLE_TYPE[styles[i]];
  });
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
    ...(secrets.length
      ? [' Secrets are ${ENV} references; set these variables for the daemon:', ...secrets.map((s) => `   ${s.env} (${s.path})${s.escaped ? ESCAPED_NOTE : ''}`)]
      : []),
  ].join('\n');
  return { text: doc.toString({ lineWidth: 0 }), secrets };
}
