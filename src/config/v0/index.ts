// Entry of the 0.x loader: tells a 0.x file from a native one, reads its secure.conf and maps it.
import { LineCounter, parseDocument } from 'yaml';
import { substituteEnv } from '../env.js';
import { ConfigError } from '../../errors.js';
import { commentRanges, formatPath, pathAt } from '../locate.js';
import { loadSecureConf } from '../secure-conf.js';
import { loadV0, type V0Result } from './load.js';
import { isV0 } from './map.js';

export interface V0LoadOptions {
  /** secure.conf (0.x's -s); default: env NODEPOOL_SECURE. Read only for 0.x files. */
  secure?: string;
  /** Where ./clouds.yaml is looked for; default: the process's working directory. */
  cwd?: string;
}

/**
 * The 0.x reading of a config text, or null when it is not a 0.x file (or not even YAML: the
 * native loader reports that). Throws ConfigError listing every problem.
 */
export function parseV0Config(text: string, file: string, env: Record<string, string | undefined>, opts: V0LoadOptions = {}): V0Result | null {
  const sub = substituteEnv(text, env, commentRanges(text));
  const doc = parseDocument(sub.text, { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return null;
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (!isV0(data)) return null;
  // A reference that did not resolve (left in place as written) is the problem to report, located
  // as the native loader locates it; the mapping of a file with a hole in it would only add noise.
  if (sub.problems.length > 0) {
    const lc = new LineCounter();
    lc.addNewLine(0);
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lc.addNewLine(i + 1);
    throw new ConfigError(
      sub.problems.map((p) => {
        const { line, col } = lc.linePos(sub.toOriginal(p.offset));
        return `${file}:${line}:${col}: ${formatPath(pathAt(doc, p.offset))}: ${p.message}`;
      }),
    );
  }
  const securePath = opts.secure ?? (env.NODEPOOL_SECURE || undefined);
  const secure = securePath === undefined ? undefined : loadSecureConf(securePath);
  return loadV0({ file, doc, data, toOriginal: sub.toOriginal, original: text }, { secure, clouds: { env, cwd: opts.cwd ?? process.cwd() } });
}
