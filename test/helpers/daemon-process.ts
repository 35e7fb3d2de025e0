// Runs `nodepool daemon` as a child process (for signal and crash tests), its output in a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { PoolHarness } from './pool-harness.js';

export function startDaemonProcess(h: PoolHarness, logName: string): ChildProcess {
  const log = createWriteStream(join(h.dir, logName));
  const proc = spawn(process.execPath, ['bin/nodepool.js', '--db', h.dbPath, '-c', h.configPath, 'daemon', '--web-port', '0', '--log-level', 'debug'], {
    // From source: the tests run the code under test, not a dist/ that may be older.
    env: { ...process.env, ...h.env, NODEPOOL_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  return proc;
}

export function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}
