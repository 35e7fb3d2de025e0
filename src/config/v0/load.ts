// The 0.x loader: a file in the 0.x shape is mapped onto the native config object (map.ts), which
// the native schema and cross-checks then validate. Problems and warnings are located in the 0.x
// file as `FILE:LINE:COL: key.path: message`; a native problem points at the 0.x key its value
// came from.
import { isScalar, LineCounter, type Document, type Node } from 'yaml';
import { configSchema, defaultMessage, describe, SECRET_KEYS, type Config } from '../../config.js';
import { ConfigError } from '../../errors.js';
import { crossCheck } from '../cross-check.js';
import { keyNode, locate, type KeyPath } from '../locate.js';
import type { SecureConf } from '../secure-conf.js';
import type { CloudsYamlSearch } from './clouds-yaml.js';
import { display, mapV0, originKey, type V0Mapped, type V0Note } from './map.js';

export interface V0Result {
  config: Config;
  /** One line per key we ignore or treat differently, in file order. */
  warnings: string[];
  mapped: V0Mapped;
}

export interface V0Source {
  file: string;
  /** The document parsed from `text` (after ${ENV} substitution). */
  doc: Document;
  data: unknown;
  /** Maps an offset in the parsed text to one in the file as written. */
  toOriginal(offset: number): number;
  /** The file as written, for line numbers. */
  original: string;
}


function lineCounter(text: string): LineCounter {
  const lc = new LineCounter();
  lc.addNewLine(0);
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lc.addNewLine(i + 1);
  return lc;
}

/** Offset of the key or the value at `path`; for a path that is not there, its nearest ancestor's. */
function offsetOf(doc: Document, path: KeyPath, at: 'key' | 'value'): number {
  if (at === 'key' && path.length > 0) {
    const k = keyNode(doc, path.slice(0, -1), String(path[path.length - 1]));
    if (k?.range) return k.range[0];
  }
  const found = locate(doc, path);
  const node: Node | null = found.node;
  if (!node?.range) return 0;
  const empty = isScalar(node) && node.value === null && node.range[0] === node.range[1];
  return empty && found.key?.range ? found.key.range[0] : node.range[0];
}

/** The 0.x path a native path's value came from: the longest prefix with a recorded origin. */
function originOf(mapped: V0Mapped, native: KeyPath): KeyPath | undefined {
  for (let n = native.length; n >= 0; n--) {
    const o = mapped.origins.get(originKey(native.slice(0, n)));
    if (o) return o;
  }
  return undefined;
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let v = data;
  for (const step of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[step];
  }
  return v;
}

export function loadV0(src: V0Source, opts: { secure?: SecureConf; clouds: CloudsYamlSearch }): V0Result {
  const mapped = mapV0(src.data, opts);
  const lc = lineCounter(src.original);
  const lines = (notes: readonly V0Note[]) =>
    notes
      .map((n, i) => {
        if ('located' in n.where) return { order: Number.MAX_SAFE_INTEGER, i, text: `${n.where.located}: ${n.key}: ${n.message}` };
        const offset = src.toOriginal(offsetOf(src.doc, n.where.path, n.where.at));
        const { line, col } = lc.linePos(offset);
        return { order: offset, i, text: `${src.file}:${line}:${col}: ${n.key}: ${n.message}` };
      })
      .sort((a, b) => a.order - b.order || a.i - b.i)
      .map((x) => x.text);

  const problems: V0Note[] = [...mapped.problems];
  // What the mapper already reported (missing credentials, an unknown cloud) the schema would report again.
  const reported = mapped.problems.flatMap((p) => ('path' in p.where ? [originKey(p.where.path)] : []));
  const covered = (origin: KeyPath) => {
    const k = originKey(origin);
    return reported.some((r) => r === k || r.startsWith(`${k}/`) || k.startsWith(`${r}/`));
  };
  const result = configSchema.safeParse(mapped.native, { error: defaultMessage });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const origin = originOf(mapped, path) ?? [];
      if (covered(origin)) continue;
      const value = valueAt(mapped.native, path);
      const last = path[path.length - 1];
      let message: string;
      if (issue.code === 'unrecognized_keys') message = `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      else if (value === undefined && path.length > 0) message = `missing required key "${String(last)}"`;
      else message = `${issue.message}, got ${SECRET_KEYS.has(String(last)) ? 'a secret' : describe(value)}`;
      const exact = mapped.origins.has(originKey(path));
      problems.push({ where: { path: origin, at: 'value' }, key: display(origin), message: exact || path.length === 0 ? message : `${display(path)}: ${message}` });
    }
  }
  for (const p of crossCheck(mapped.native)) {
    const origin = originOf(mapped, p.path) ?? [];
    problems.push({ where: { path: origin, at: 'value' }, key: display(origin), message: p.message });
  }
  if (problems.length > 0 || !result.success) throw new ConfigError([...new Set(lines(problems))]);
  return { config: result.data, warnings: lines(mapped.warnings), mapped };
}
