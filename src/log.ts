// Structured logs: JSON lines, pretty on a TTY. Every line about a node carries node, provider, label.
import { pino, type Logger, type DestinationStream } from 'pino';
import type { NodeRecord } from './model.js';

export type { Logger } from 'pino';

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? 'info';
  if (opts.destination) return pino({ level }, opts.destination);
  const pretty = opts.pretty ?? process.stdout.isTTY;
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino({ level });
}

/** A logger that never writes: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

export function nodeLogger(log: Logger, node: Pick<NodeRecord, 'id' | 'provider' | 'label'>): Logger {
  return log.child({ node: node.id, provider: node.provider, label: node.label });
}
