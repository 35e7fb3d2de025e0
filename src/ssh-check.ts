// Readiness: a node is ready when an SSH login with the image's user and key runs `echo`.
import ssh2 from 'ssh2';
import { LaunchError, SshKeyError, TimeoutError } from './errors.js';
import type { Clock } from './clock.js';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer;
}

/** One attempt: connect, log in, run `echo`, check its output. */
export function sshEcho(target: SshTarget, timeoutMs: number): Promise<void> {
  const token = `nodepool-ready-${Math.random().toString(36).slice(2, 10)}`;
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    let output = '';
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      conn.end();
      if (err) reject(err);
      else resolve();
    };
    conn
      .on('ready', () => {
        conn.exec(`echo ${token}`, (err, stream) => {
          if (err) return finish(err);
          stream
            .on('data', (d: Buffer) => (output += d.toString()))
            .on('close', (code: number | null) => {
              if (code === 0 && output.trim() === token) finish();
              else finish(new LaunchError(`ssh echo on ${target.host} exited ${code} with ${JSON.stringify(output.trim())}`));
            });
          stream.stderr.on('data', () => undefined);
        });
      })
      .on('error', (err) => finish(err))
      .on('close', () => finish(new LaunchError(`ssh connection to ${target.host}:${target.port} closed early`)))
      .connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: timeoutMs,
        // Single-use VMs have new host keys every time; there is nothing to pin them against.
        hostVerifier: () => true,
      });
  });
}

/** Fails at once on a key ssh2 cannot use, rather than retrying logins until boot-timeout. */
export function checkPrivateKey(key: string | Buffer, what: string): void {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new SshKeyError(`private key ${what} cannot be used: ${parsed.message}`);
}

/** Retries sshEcho until it succeeds or `timeoutMs` (boot-timeout) has passed. */
export async function waitForSsh(
  target: SshTarget,
  opts: { timeoutMs: number; clock: Clock; signal?: AbortSignal; attemptTimeoutMs?: number; keyName?: string },
): Promise<void> {
  checkPrivateKey(target.privateKey, opts.keyName ?? `for ${target.username}`);
  const deadline = opts.clock.now() + opts.timeoutMs;
  let delay = 100;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    const left = deadline - opts.clock.now();
    if (left <= 0) break;
    try {
      await sshEcho(target, Math.min(left, opts.attemptTimeoutMs ?? 10_000));
      return;
    } catch (err) {
      lastError = err;
    }
    await opts.clock.sleep(Math.min(delay, Math.max(0, deadline - opts.clock.now())), opts.signal);
    delay = Math.min(delay * 2, 2000);
  }
  throw new TimeoutError(`no SSH login on ${target.host}:${target.port} within ${opts.timeoutMs} ms: ${String(lastError)}`);
}
