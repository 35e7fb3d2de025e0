// Emulated VMs that run commands for real: each server gets a private directory tree, and a
// command sent over SSH runs under bubblewrap (Debian's `bubblewrap`) with that tree mounted
// over the VM's writable paths. A snapshot copies the tree, and a server booted from the
// snapshot starts from the copy, so what a setup script wrote is there on every node baked
// from it, and never on the host.
//
// Path map inside the sandbox (everything else is absent):
//   /usr, /etc            the host's, read-only (/bin, /lib, /sbin link into /usr as on Debian)
//   /opt, /home, /var, /srv   the server's own tree, read-write: <root>/servers/<id>/{opt,home,var,srv}
//   /tmp                  a fresh tmpfs per command
//   /proc, /dev           minimal, from bubblewrap
// No network (--unshare-all). Commands run as the emulator's user (root here); the VM's
// identity is its tree, not a uid.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const SANDBOX_DIRS = ['opt', 'home', 'var', 'srv'] as const;

/** The bubblewrap binary, or null when it is not installed (commands then run nowhere). */
export function findBwrap(candidates: readonly string[] = ['/usr/bin/bwrap', '/bin/bwrap']): string | null {
  return candidates.find((p) => existsSync(p)) ?? null;
}

export class SandboxStore {
  constructor(readonly root: string) {}

  serverDir(serverId: string): string {
    return join(this.root, 'servers', serverId);
  }

  imageDir(imageId: string): string {
    return join(this.root, 'images', imageId);
  }

  /** A booting server's tree: a copy of its image's tree when the image is a snapshot of ours, else empty. */
  boot(serverId: string, imageId: string): void {
    const dir = this.serverDir(serverId);
    if (existsSync(dir)) return;
    const from = this.imageDir(imageId);
    if (existsSync(from)) cpSync(from, dir, { recursive: true, preserveTimestamps: true });
    for (const d of SANDBOX_DIRS) mkdirSync(join(dir, d), { recursive: true });
  }

  /** A snapshot's tree: a copy of the server's tree as it is now. */
  snapshot(serverId: string, imageId: string): void {
    const from = this.serverDir(serverId);
    if (!existsSync(from)) return;
    cpSync(from, this.imageDir(imageId), { recursive: true, preserveTimestamps: true });
  }

  dropServer(serverId: string): void {
    rmSync(this.serverDir(serverId), { recursive: true, force: true });
  }

  dropImage(imageId: string): void {
    rmSync(this.imageDir(imageId), { recursive: true, force: true });
  }
}

/** bubblewrap arguments that run `command` with bash inside the tree at `dir`. */
export function sandboxArgs(dir: string, command: string, env: Record<string, string> = {}): string[] {
  const args = ['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) if (existsSync(`/usr/${l}`)) args.push('--symlink', `usr/${l}`, `/${l}`);
  for (const d of SANDBOX_DIRS) args.push('--bind', join(dir, d), `/${d}`);
  args.push('--tmpfs', '/tmp', '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent', '--chdir', '/home', '--clearenv');
  for (const [k, v] of Object.entries({ PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/home', ...env })) args.push('--setenv', k, v);
  args.push('/usr/bin/bash', '-c', command);
  return args;
}

/** Where a sandboxed command's output and exit go (an SSH exec channel). */
export interface CommandSink {
  write(data: Buffer): unknown;
  stderr: { write(data: Buffer): unknown };
  exit(code: number): void;
  end(): void;
  on(event: 'data', fn: (data: Buffer) => void): unknown;
  on(event: 'end' | 'close', fn: () => void): unknown;
}

/** Runs `command` in the tree at `dir`, streaming stdin, stdout, stderr and the exit code through `sink`. */
export function runSandboxed(bwrap: string, dir: string, command: string, sink: CommandSink, env: Record<string, string> = {}): void {
  const child = spawn(bwrap, sandboxArgs(dir, command, env), { stdio: ['pipe', 'pipe', 'pipe'] });
  sink.on('data', (d) => child.stdin.write(d));
  sink.on('end', () => child.stdin.end());
  // The client went away (it was killed, or the server deleted): like sshd tearing down the
  // session, end the command rather than leave it running on the host.
  sink.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (d: Buffer) => sink.write(d));
  child.stderr.on('data', (d: Buffer) => sink.stderr.write(d));
  child.on('error', (err) => {
    sink.stderr.write(Buffer.from(`emulator: cannot run the sandbox: ${err.message}\n`));
    sink.exit(127);
    sink.end();
  });
  child.on('close', (code, signal) => {
    sink.exit(code ?? (signal ? 128 + 9 : 1));
    sink.end();
  });
}
