// A plain TCP client for gearmand's text admin protocol (`status`, `workers`, `version`, ...).
// One connection, kept open between polls; one request in flight at a time (the protocol has no
// request ids, answers come back in order); every request has a deadline; after a failure the
// next connection attempt waits a capped exponential backoff, and requests made meanwhile fail
// at once instead of queueing behind a dead server.
import net from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { GearmanError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { parseGearmanStatus, type ParsedGearmanStatus } from '../pool/demand.js';

export interface GearmanAdminOptions {
  host: string;
  port: number;
  /** Budget for connecting plus the whole answer. Default 5000. */
  timeoutMs?: number;
  /** Backoff after the first failure, doubled per further failure up to backoffMaxMs. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** The capped exponential backoff after `failures` consecutive failures (failures >= 1). */
export function adminBackoffMs(failures: number, minMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 30));
}

interface Pending {
  multiline: boolean;
  lines: string[];
  resolve(lines: string[]): void;
  reject(err: Error): void;
}

export class GearmanAdminClient {
  readonly host: string;
  readonly port: number;
  private readonly timeoutMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private socket: net.Socket | null = null;
  private buffer = '';
  private pending: Pending | null = null;
  /** Requests run one after another on this chain. */
  private tail: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private retryAt = 0;
  private lastError: string | undefined;
  private closed = false;

  constructor(opts: GearmanAdminOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.backoffMinMs = opts.backoffMinMs ?? 500;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? silentLogger).child({ gearman: `${opts.host}:${opts.port}` });
  }

  /** `status`: one row per function known to the server. Lines it cannot read are in `.errors`. */
  async status(): Promise<ParsedGearmanStatus> {
    const lines = await this.command('status', true);
    return parseGearmanStatus([...lines, '.'].join('\n'));
  }

  /** `version`: the server's version string (gearmand 1.x answers "OK 1.1.20"). */
  async version(): Promise<string> {
    const [line] = await this.command('version', false);
    return line.replace(/^OK /, '');
  }

  /**
   * Sends one admin command. `multiline` answers (status, workers) end with a "." line, which is
   * not returned; the others are one line. An `ERR ...` answer rejects (not retryable).
   */
  command(text: string, multiline: boolean): Promise<string[]> {
    if (/[\r\n]/.test(text)) return Promise.reject(new GearmanError('admin command must be one line', false));
    const run = this.tail.then(() => this.request(text, multiline));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Failures since the last answered request, and the last error: for health reports. */
  state(): { failures: number; lastError?: string; retryAt: number } {
    return { failures: this.failures, lastError: this.lastError, retryAt: this.retryAt };
  }

  /** Idempotent; a request in flight is rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.drop(new GearmanError('admin client closed', false));
  }

  private async request(text: string, multiline: boolean): Promise<string[]> {
    if (this.closed) throw new GearmanError('admin client closed', false);
    const now = this.clock.now();
    if (!this.socket && now < this.retryAt) {
      // Not a new failure: the backoff does not grow while callers keep asking.
      throw new GearmanError(`${this.host}:${this.port}: not retrying for ${this.retryAt - now}ms after: ${this.lastError ?? 'a failure'}`);
    }
    const abort = new AbortController();
    const deadline = this.clock.sleep(this.timeoutMs, abort.signal).then(
      () => {
        throw new GearmanError(`${this.host}:${this.port}: no answer to "${text}" within ${this.timeoutMs}ms`);
      },
      () => undefined as never, // the deadline was cancelled: the request settled first
    );
    try {
      const lines = await Promise.race([this.exchange(text, multiline), deadline]);
      this.failures = 0;
      this.lastError = undefined;
      return lines;
    } catch (err) {
      const error = err instanceof GearmanError ? err : new GearmanError(`${this.host}:${this.port}: ${String(err)}`, true, { cause: err });
      // An ERR answer is the server working; anything else leaves the connection in doubt.
      if (error.retryable) this.fail(error);
      throw error;
    } finally {
      abort.abort();
    }
  }

  private async exchange(text: string, multiline: boolean): Promise<string[]> {
    const socket = await this.connected();
    return new Promise<string[]>((resolve, reject) => {
      this.pending = { multiline, lines: [], resolve, reject };
      socket.write(`${text}\n`);
    });
  }

  private connected(): Promise<net.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.setEncoding('utf8');
      socket.setNoDelay(true);
      const onConnectError = (err: Error) => {
        socket.destroy();
        reject(new GearmanError(`${this.host}:${this.port}: ${err.message}`, true, { cause: err }));
      };
      socket.once('error', onConnectError);
      socket.once('connect', () => {
        socket.off('error', onConnectError);
        this.socket = socket;
        this.buffer = '';
        socket.on('data', (chunk: string) => this.onData(chunk));
        socket.on('error', (err) => this.onLost(socket, err.message));
        socket.on('close', () => this.onLost(socket, 'connection closed by the server'));
        this.log.debug('admin connection open');
        resolve(socket);
      });
      // A close() while connecting must not leave the socket behind.
      if (this.closed) socket.destroy();
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    const p = this.pending;
    if (!p) {
      // Nothing was asked: the stream is out of step with our requests; start over.
      this.drop(new GearmanError(`${this.host}:${this.port}: unexpected line ${JSON.stringify(line)}`));
      return;
    }
    if (p.lines.length === 0 && line.startsWith('ERR ')) {
      this.pending = null;
      p.reject(new GearmanError(`${this.host}:${this.port}: ${line}`, false));
      return;
    }
    if (!p.multiline) {
      this.pending = null;
      p.resolve([line]);
      return;
    }
    if (line === '.') {
      this.pending = null;
      p.resolve(p.lines);
      return;
    }
    p.lines.push(line);
  }

  private onLost(socket: net.Socket, why: string): void {
    if (this.socket !== socket) return;
    this.socket = null;
    socket.destroy();
    const p = this.pending;
    this.pending = null;
    p?.reject(new GearmanError(`${this.host}:${this.port}: ${why}`));
  }

  /** Closes the connection and rejects what is in flight. */
  private drop(err: GearmanError): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
  }

  private fail(err: GearmanError): void {
    this.drop(err);
    this.failures += 1;
    this.lastError = err.message;
    this.retryAt = this.clock.now() + adminBackoffMs(this.failures, this.backoffMinMs, this.backoffMaxMs);
  }
}
