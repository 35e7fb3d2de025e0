// What the image builder does on a template server over SSH: copy a directory in over SFTP and
// run a command with environment variables, streaming its output. The variables go on the
// command line (`env K=V ... cmd`), not as SSH environment requests, which sshd ignores unless
// AcceptEnv allows them.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import ssh2 from 'ssh2';
import type { Client, SFTPWrapper } from 'ssh2';

/** An SSH connection to a freshly booted server (no host key to check it against). */
export function connectSsh(target: { host: string; port: number; username: string; privateKey: Buffer | string }, timeoutMs: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    // Always listening: an 'error' after 'ready' (a reset mid-session) with no listener would
    // throw in the daemon. Before ready it rejects; after, the session's close ends the command.
    conn
      .once('ready', () => resolve(conn))
      .on('error', reject)
      .connect({ ...target, readyTimeout: timeoutMs, hostVerifier: () => true });
  });
}

export function openSftp(conn: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => conn.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

function sftpCall(fn: (cb: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

/** Copies `localDir` (recursively, keeping the execute bits) to `remoteDir`, creating it. Returns the files copied. */
export async function uploadDirectory(sftp: SFTPWrapper, localDir: string, remoteDir: string): Promise<number> {
  await sftpCall((cb) => sftp.mkdir(remoteDir, cb)).catch(async (err) => {
    // An existing directory is fine (a retried step).
    const exists = await new Promise<boolean>((resolve) => sftp.stat(remoteDir, (e, st) => resolve(!e && st.isDirectory())));
    if (!exists) throw err;
  });
  let files = 0;
  for (const entry of await readdir(localDir, { withFileTypes: true })) {
    const local = join(localDir, entry.name);
    const remote = posix.join(remoteDir, entry.name);
    if (entry.isDirectory()) files += await uploadDirectory(sftp, local, remote);
    else if (entry.isFile()) {
      const [data, st] = await Promise.all([readFile(local), stat(local)]);
      await sftpCall((cb) => sftp.writeFile(remote, data, cb));
      await sftpCall((cb) => sftp.chmod(remote, st.mode & 0o777, cb));
      files++;
    }
  }
  return files;
}

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `env K='v' ... cmd 'arg'...`: the command line that runs `argv` with `env` on the server. */
export function commandLine(argv: readonly string[], env: Readonly<Record<string, string>> = {}): string {
  const vars = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new RangeError(`bad environment variable name: ${k}`);
    return `${k}=${shellQuote(v)}`;
  });
  return [...(vars.length ? ['env', ...vars] : []), ...argv.map(shellQuote)].join(' ');
}

export interface RemoteResult {
  code: number | null;
  signal: string | null;
}

/** Runs `argv` on the server; each chunk of stdout/stderr goes to `onOutput` as it comes. */
export function runRemote(
  conn: Client,
  argv: readonly string[],
  opts: { env?: Record<string, string>; onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void; signal?: AbortSignal } = {},
): Promise<RemoteResult> {
  return new Promise((resolve, reject) => {
    conn.exec(commandLine(argv, opts.env), (err, stream) => {
      if (err) return reject(err);
      const onAbort = () => {
        stream.close();
        reject(opts.signal?.reason);
      };
      // An abort before the channel opened (build-timeout during the upload) fires no event: stop now.
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (d: Buffer) => opts.onOutput?.(d.toString(), 'stdout'));
      stream.stderr.on('data', (d: Buffer) => opts.onOutput?.(d.toString(), 'stderr'));
      stream.on('close', (code: number | null, signal: string | null) => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve({ code: code ?? null, signal: signal ?? null });
      });
    });
  });
}
