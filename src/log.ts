// Structured logs: JSON lines, pretty on a TTY. Every line about a node carries node, provider, label.
import { pino, type Logger, type DestinationStream } from 'pino';
import type { NodeRecord } from './model.js';

export type { Logger } from 'pino';

/**
 * pino's own `hostname` is the machine's; a node's hostname in a log call goes out as
 * `node_hostname` so that a line never carries two `hostname` keys.
 */
function renameHostname(obj: Record<string, unknown>): Record<string, unknown> {
  if (!('hostname' in obj)) return obj;
  const { hostname, ...rest } = obj;
  return { ...rest, node_hostname: hostname };
}

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: DestinationStream } = {}): Logger {
  const base = { level: opts.level ?? 'info', formatters: { log: renameHostname } };
  if (opts.destination) return pino(base, opts.destination);
  const pretty = opts.pretty ?? process.stdout.isTTY;
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base);
}

/**
 * A child logger with `keys`, leaving out those the logger already carries: pino writes a key
 * bound twice in a chain twice in the JSON line.
 */
export function childLogger(log: Logger, keys: Record<string, unknown>): Logger {
  const bound = log.bindings();
  const fresh = Object.fromEntries(Object.entries(keys).filter(([k]) => !(k in bound)));
  return Object.keys(fresh).length ? log.child(fresh) : log;
}

/** A logger that never writes: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

export function nodeLogger(log: Logger, node: Pick<NodeRecord, 'id' | 'provider' | 'label'>): Logger {
  return childLogger(log, { node: node.id, provider: node.provider, label: node.label });
}
