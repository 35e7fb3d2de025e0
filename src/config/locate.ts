// Where things are in the YAML source: comment ranges (from the CST), the node at a key path,
// and the key path at an offset. Offsets are those of the text that was parsed.
import { Parser, isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml';

export type KeyPath = ReadonlyArray<string | number>;

/** [start, end) of every comment, so that `${X}` inside a comment is not substituted. */
export function commentRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v !== null && typeof v === 'object') {
      const t = v as { type?: unknown; offset?: unknown; source?: unknown };
      if (t.type === 'comment' && typeof t.offset === 'number' && typeof t.source === 'string') {
        ranges.push([t.offset, t.offset + t.source.length]);
        return;
      }
      for (const x of Object.values(v)) walk(x);
    }
  };
  for (const token of new Parser().parse(text)) walk(token);
  return ranges;
}

export interface Located {
  /** The node at the path, or the deepest existing ancestor when the path does not exist. */
  node: Node | null;
  /** The key node of the pair holding `node`, when it is a mapping value. */
  key: Node | null;
  /** Whether the whole path exists. */
  found: boolean;
}

function pairOf(map: Node, key: string | number): Pair<unknown, unknown> | undefined {
  if (!isMap(map)) return undefined;
  return map.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key || String(isScalar(p.key) ? p.key.value : p.key) === String(key));
}

export function locate(doc: Document, path: KeyPath): Located {
  let node = (doc.contents as Node | null) ?? null;
  let key: Node | null = null;
  for (const step of path) {
    if (node === null) return { node, key, found: false };
    let next: unknown;
    let nextKey: Node | null = null;
    if (isSeq(node) && typeof step === 'number') {
      next = node.items[step];
    } else if (isMap(node)) {
      const pair = pairOf(node, step);
      if (pair) {
        next = pair.value;
        nextKey = (pair.key as Node | null) ?? null;
      }
    }
    if (next === undefined || next === null || typeof next !== 'object' || !('range' in next)) {
      return { node, key, found: false };
    }
    node = next as Node;
    key = nextKey;
  }
  return { node, key, found: true };
}

/** The key node of `key` in the mapping at `path`, if there is one. */
export function keyNode(doc: Document, path: KeyPath, key: string): Node | null {
  const at = locate(doc, path);
  if (!at.found || at.node === null) return null;
  const pair = pairOf(at.node, key);
  return (pair?.key as Node | null) ?? null;
}

/** The key path of the innermost node whose source contains `offset`. */
export function pathAt(doc: Document, offset: number): Array<string | number> {
  const path: Array<string | number> = [];
  const inside = (n: unknown): n is Node => {
    const r = (n as Node | null)?.range;
    return !!r && offset >= r[0] && offset < Math.max(r[1], r[0] + 1);
  };
  let node = (doc.contents as Node | null) ?? null;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (inside(p.key) || inside(p.value)));
      if (!pair) break;
      path.push(String(isScalar(pair.key) ? pair.key.value : pair.key));
      if (!inside(pair.value)) break;
      node = pair.value as Node;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((n) => inside(n));
      if (i === -1) break;
      path.push(i);
      node = node.items[i] as Node;
    } else {
      break;
    }
  }
  return path;
}

export function formatPath(path: KeyPath): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
