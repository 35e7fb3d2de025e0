// The package's version, from package.json at the repository root (found from src/ and from dist/src/).
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function packageVersion(): string {
  if (version !== undefined) return version;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nodepool-ts' && pkg.version) return (version = pkg.version);
    } catch {
      // try the next place
    }
  }
  return (version = 'unknown');
}
