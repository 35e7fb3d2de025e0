// Loads gearmanode with its winston logging silenced. gearmanode logs through winston loggers
// that have no transports, so winston writes "Attempt to write logs with no transports" to
// stderr on every line; our own modules log what matters through pino instead.
// Loaded with createRequire so the silencing runs before gearmanode's first log line.
import { createRequire } from 'node:module';

type Gearmanode = typeof import('gearmanode');

interface WinstonLike {
  configure?(opts: { silent: boolean }): void;
  loggers: { get(name: string): { silent?: boolean } };
}

let loaded: Gearmanode | undefined;

export function loadGearmanode(): Gearmanode {
  if (loaded) return loaded;
  const req = createRequire(import.meta.url);
  // The winston instance gearmanode resolves, which is the one it logs through.
  const winston = createRequire(req.resolve('gearmanode'))('winston') as WinstonLike;
  winston.configure?.({ silent: true });
  loaded = req('gearmanode') as Gearmanode;
  for (const name of ['Client', 'Worker', 'JobServer', 'Job', 'LBStrategy', 'protocol']) {
    winston.loggers.get(name).silent = true;
  }
  return loaded;
}

/** Job payloads and responses are Buffers unless an encoding was asked for. */
export function gearmanText(data: Buffer | string | undefined): string {
  if (data === undefined) return '';
  return typeof data === 'string' ? data : data.toString('utf8');
}
