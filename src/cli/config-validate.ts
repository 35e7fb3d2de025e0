// `nodepool config-validate FILE`: loads the file as the daemon would and prints either a summary
// or every problem, one `FILE:LINE:COL: key.path: message` line each.
import { loadConfig, type Env, type LoadOptions } from '../config.js';
import { ConfigError } from '../errors.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Returns the exit code: 0 when the file is valid, 1 when it has problems. A Nodepool 0.x file's
 * warnings (keys we read differently) come first, one line each.
 */
export function configValidate(file: string, env: Env, out: (line: string) => void, opts: Pick<LoadOptions, 'secure' | 'cwd'> = {}): number {
  try {
    const warnings: string[] = [];
    const config = loadConfig(file, env, { ...opts, onWarning: (w) => warnings.push(w) });
    for (const w of warnings) out(`warning: ${w}`);
    out(warnings.length ? `${file}: OK (Nodepool 0.x format, ${plural(warnings.length, 'warning')})` : `${file}: OK`);
    out([plural(config.providers.length, 'provider'), plural(config.labels.length, 'label'), plural(config.targets.length, 'target')].join(', '));
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const line of err.problems) out(line);
    return 1;
  }
}
