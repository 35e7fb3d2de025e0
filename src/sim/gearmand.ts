// Starts the real gearmand (Debian package gearman-job-server) for tests and the demo: 127.0.0.1,
// a free port, foreground, in-memory queue only, log in a temp file. Ready means it answered the
// admin `version` command; stop() waits for the process to exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import net from 'node:net';

export interface GearmandOptions {
  /** Path to the gearmand binary; default: PATH, then /usr/sbin, /usr/local/sbin. */
  binary?: string;
  /** How long start (and restart) may take before giving up. */
  startTimeoutMs?: number;
}

export interface Gearmand {
  host: string;
  port: number;
  /** gearmand's own log, kept until stop(); useful when a test fails. */
  logFile: string;
  stop(): Promise<void>;
  /** Stops and starts again on the same port (queued jobs are lost: no persistent queue). */
  restart(): Promise<void>;
  /** Stops the server but keeps the port and the log: an outage that restart() ends. */
  kill(): Promise<void>;
}

const HOST = '127.0.0.1';
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A vitest worker that dies without afterAll must not leave gearmand behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export function findGearmand(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'gearmand');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Binds port 0 and releases it: the port is free now, though someone may take it before gearmand does. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends one admin command and resolves with the first line of the answer, or rejects. */
function adminLine(port: number, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let buf = '';
    const done = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const timer = setTimeout(() => done(new Error(`no answer to ${command} within ${timeoutMs}ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(`${command}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(null, buf.slice(0, nl).replace(/\r$/, ''));
    });
    sock.once('error', (err) => done(err));
    sock.once('close', () => done(new Error('connection closed before an answer')));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

class PortInUse extends Error {}

const BIND_GRACE_MS = 5000;

function readLog(file: string): string {
  return readLogSince(file, 0).trim().split('\n').slice(-5).join(' | ');
}

function readLogSince(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export async function startGearmand(opts: GearmandOptions = {}): Promise<Gearmand> {
  const binary = opts.binary ?? findGearmand();
  if (!binary) throw new Error('gearmand not found: apt-get install -y gearman-job-server (or run npm test, which installs it)');
  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;
  const dir = mkdtempSync(join(tmpdir(), 'gearmand-'));
  const logFile = join(dir, 'gearmand.log');
  // An empty config file keeps a host's /etc/gearmand.conf out of the tests.
  const configFile = join(dir, 'gearmand.conf');
  writeFileSync(configFile, '');
  installExitHook();

  let child: ChildProcess | null = null;

  async function launch(port: number): Promise<void> {
    const proc = spawn(
      binary!,
      [
        '--listen', HOST,
        '--port', String(port),
        '--log-file', logFile,
        '--pid-file', join(dir, 'gearmand.pid'),
        '--queue-type', 'builtin',
        '--threads', '1',
        // INFO logs "Listening on HOST:PORT", the only sign that the bind worked: on a taken port
        // gearmand neither exits nor listens, it retries bind() for a long time.
        '--verbose', 'INFO',
        '--config-file', configFile,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    child = proc;

    // restart() appends to the same log: only what this run wrote counts.
    const logStart = logSize(logFile);
    const started = Date.now();
    const deadline = started + startTimeoutMs;
    const listening = `Listening on ${HOST}:${port}`;
    let lastError = 'not tried';
    // Bounded poll: gearmand usually answers within a few ms; each attempt is a real round trip.
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        const why = `${stderr.trim()} ${readLog(logFile)}`.trim();
        const message = `gearmand on port ${port} exited (${proc.exitCode ?? proc.signalCode}) before answering: ${why}`;
        throw /in use|EADDRINUSE/i.test(why) ? new PortInUse(message) : new Error(message);
      }
      if (!readLogSince(logFile, logStart).includes(listening)) {
        if (Date.now() - started > BIND_GRACE_MS) {
          proc.kill('SIGKILL');
          await exited(proc);
          throw new PortInUse(`gearmand did not bind ${HOST}:${port} within ${BIND_GRACE_MS}ms: ${readLog(logFile)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      try {
        const line = await adminLine(port, 'version', 1000);
        if (line.length > 0) return;
      } catch (err) {
        lastError = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
    await exited(proc);
    throw new Error(`gearmand on port ${port} did not answer "version" within ${startTimeoutMs}ms: ${lastError}`);
  }

  async function stopChild(): Promise<void> {
    const proc = child;
    child = null;
    if (!proc) return;
    const gone = exited(proc);
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  // Another process may grab the released port before gearmand binds it: try a fresh one.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch(port);
      break;
    } catch (err) {
      if (!(err instanceof PortInUse) || attempt >= 5) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  let stopped = false;
  const handle: Gearmand = {
    host: HOST,
    port,
    logFile,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (stopped) throw new Error('gearmand was stopped');
      await stopChild();
    },
    async restart() {
      if (stopped) throw new Error('gearmand was stopped');
      await stopChild();
      // The same port must come back; a lingering socket may delay the bind briefly.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch(port);
          return;
        } catch (err) {
          if (!(err instanceof PortInUse) || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
  return handle;
}
