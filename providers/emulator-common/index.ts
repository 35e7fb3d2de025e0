// Plumbing shared by the cloud emulators (EC2, OpenStack): the HTTP server on 127.0.0.1, the SSH
// daemons of running machines (commands under bubblewrap in per-machine sandboxes when a sandbox
// directory is given), and a close that stops them all once.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../src/log.js';
import { reservePort, SshFarm } from '../openstack/emulator/ssh.js';
import { findBwrap, runSandboxed, SandboxStore, type CommandSink } from '../openstack/emulator/sandbox.js';

const SSH_TICK_MS = 100;

export interface Sandboxing {
  bwrap: string | null;
  sandboxes: SandboxStore | null;
}

/** Sandboxes under `sandboxDir`, when it is given and bubblewrap is there. */
export function sandboxing(sandboxDir: string | undefined): Sandboxing {
  const bwrap = sandboxDir ? findBwrap() : null;
  const sandboxes = sandboxDir && bwrap ? new SandboxStore(sandboxDir) : null;
  return { bwrap, sandboxes };
}

/** An HTTP server on 127.0.0.1 (`port` 0 or absent: a free one), and its base URL. */
export async function listenLoopback(
  port: number | undefined,
  onRequest: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<{ http: Server; base: string }> {
  const http: Server = createServer((req, res) => void onRequest(req, res));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port ?? 0, '127.0.0.1', () => resolve());
  });
  return { http, base: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

export interface SshOptions {
  /** false: no SSH daemons at all. */
  ssh?: boolean;
  /** Shared port of all emulated SSH daemons; 0 or absent picks a free port once. */
  sshPort?: number;
  sshAuthorizedKeys?: string[];
}

export interface EmulatedSsh {
  farm: SshFarm | null;
  timer: NodeJS.Timeout | null;
  releasePort: () => Promise<void>;
}

/**
 * The SSH farm (unless `opts.ssh` is false). `machineAt` names the machine answering on an
 * address, for the sandboxed exec and SFTP root. Boots are noticed lazily on requests; in real
 * time a timer calls `refresh` so that they are noticed without requests too.
 */
export async function startSsh(
  opts: SshOptions,
  { bwrap, sandboxes }: Sandboxing,
  machineAt: (ip: string) => string | undefined,
  refresh: () => void,
  log: Logger,
): Promise<EmulatedSsh> {
  let farm: SshFarm | null = null;
  let timer: NodeJS.Timeout | null = null;
  let releasePort: () => Promise<void> = async () => undefined;
  if (opts.ssh !== false) {
    let port = opts.sshPort ?? 0;
    if (port <= 0) {
      const reserved = await reservePort();
      port = reserved.port;
      releasePort = reserved.release;
    }
    const exec =
      sandboxes && bwrap
        ? (ip: string, command: string, sink: CommandSink) => {
            const id = machineAt(ip);
            if (!id) return false;
            runSandboxed(bwrap, sandboxes.serverDir(id), command, sink);
            return true;
          }
        : undefined;
    const sftpRoot = sandboxes
      ? (ip: string) => {
          const id = machineAt(ip);
          return id ? sandboxes.serverDir(id) : null;
        }
      : undefined;
    farm = new SshFarm(port, opts.sshAuthorizedKeys ?? [], log.child({ component: 'emulated-sshd' }), exec, sftpRoot);
    timer = setInterval(refresh, SSH_TICK_MS);
    timer.unref();
  }
  return { farm, timer, releasePort };
}

/** Stops the timer, the HTTP server (dropping its connections), the SSH farm and the reserved port; once. */
export function closeOnce(name: string, log: Logger, http: Server, ssh: EmulatedSsh): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () => {
    closing ??= (async () => {
      if (ssh.timer) clearInterval(ssh.timer);
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      const results = await Promise.allSettled([httpClosed, ssh.farm?.close() ?? Promise.resolve(), ssh.releasePort()]);
      for (const r of results) if (r.status === 'rejected') log.warn({ error: r.reason }, `${name} close step failed`);
    })();
    return closing;
  };
}
