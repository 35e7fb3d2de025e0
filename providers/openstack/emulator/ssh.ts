// Emulated SSH daemons: one ssh2 server per emulated VM, on the VM's own loopback address
// (127.A.B.C) and the emulator's shared SSH port. Public-key auth only. With a sandbox
// (sandbox.ts) `exec` runs the command for real in the VM's own tree; without one it runs
// nothing: `echo ARGS` writes ARGS and a newline and exits 0; any other command exits 0 silently.
import { createServer as createNetServer } from 'node:net';
import ssh2 from 'ssh2';
import type { Connection, ParsedKey } from 'ssh2';
import type { Logger } from '../../../src/log.js';
import type { CommandSink } from './sandbox.js';
import { serveSftp } from './sftp.js';

const { Server, utils } = ssh2;

interface Listener {
  server: InstanceType<typeof Server>;
  clients: Set<Connection>;
  listening: Promise<void>;
}

/**
 * Reserves a free port by holding it on 127.0.0.1 (never a VM address) while the emulator
 * lives: each VM address then binds the same port, and no other emulator, in this process or
 * another, is handed that port for its own VMs.
 */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const holder = createNetServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = holder.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { port, release: () => new Promise<void>((resolve) => holder.close(() => resolve())) };
}

/** Splits a command line into words, honouring single and double quotes (no expansion). */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(command)) !== null) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]));
  }
  return words;
}

/** What the emulated VM prints for a command: echo's arguments, or nothing. */
export function execOutput(command: string): string {
  const words = splitWords(command.trim());
  if (words[0] !== 'echo') return '';
  const args = words.slice(1);
  if (args[0] === '-n') return args.slice(1).join(' ');
  return `${args.join(' ')}\n`;
}

export class SshFarm {
  private readonly listeners = new Map<string, Listener>();
  private readonly allowed: ParsedKey[];
  private readonly shutting = new Set<Promise<void>>();
  readonly hostKey: string;
  readonly hostPublicKey: string;

  constructor(
    readonly port: number,
    authorizedKeys: readonly string[],
    private readonly log: Logger,
    /** Runs a command for the VM at `ip` for real (sandbox.ts); false: not handled, answer as echo does. */
    private readonly exec?: (ip: string, command: string, sink: CommandSink) => boolean,
    /** The VM's tree for its SFTP subsystem (sftp.ts); null or absent: SFTP is refused. */
    private readonly sftpRoot?: (ip: string) => string | null,
  ) {
    const pair = utils.generateKeyPairSync('ecdsa', { bits: 256 });
    this.hostKey = pair.private;
    this.hostPublicKey = pair.public;
    this.allowed = authorizedKeys.flatMap((line) => {
      const parsed = utils.parseKey(line);
      if (parsed instanceof Error) {
        log.warn({ error: parsed.message }, 'ignoring unparsable authorized key');
        return [];
      }
      return Array.isArray(parsed) ? parsed : [parsed];
    });
  }

  /** Starts answering SSH on `ip` (no-op if already listening there). */
  open(ip: string): void {
    if (this.listeners.has(ip)) return;
    const clients = new Set<Connection>();
    const server = new Server({ hostKeys: [this.hostKey] }, (client) => this.onClient(client, clients, ip));
    const listening = new Promise<void>((resolve) => {
      server.once('error', (err: Error) => {
        this.log.warn({ ip, port: this.port, error: err.message }, 'emulated sshd could not listen');
        resolve();
      });
      server.listen(this.port, ip, () => resolve());
    });
    this.listeners.set(ip, { server, clients, listening });
  }

  /** Stops answering on `ip` and drops open sessions, as a deleted VM would. */
  shut(ip: string): Promise<void> {
    const l = this.listeners.get(ip);
    if (!l) return Promise.resolve();
    this.listeners.delete(ip);
    const done = (async () => {
      await l.listening;
      for (const c of l.clients) c.end();
      await new Promise<void>((resolve) => l.server.close(() => resolve()));
    })();
    this.shutting.add(done);
    void done.finally(() => this.shutting.delete(done));
    return done;
  }

  isOpen(ip: string): boolean {
    return this.listeners.has(ip);
  }

  /** Resolves once every listener opened so far accepts connections and every shut one is closed. */
  async ready(): Promise<void> {
    await Promise.all([...[...this.listeners.values()].map((l) => l.listening), ...this.shutting]);
  }

  async close(): Promise<void> {
    await Promise.all([...[...this.listeners.keys()].map((ip) => this.shut(ip)), ...this.shutting]);
  }

  private onClient(client: Connection, clients: Set<Connection>, ip: string): void {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => clients.delete(client));
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const key = this.keyFor(ctx.key.data);
      if (!key) return ctx.reject(['publickey']);
      // Without a signature the client only asks whether the key would do.
      if (ctx.signature && key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('pty', (accept) => accept?.());
        session.on('env', (accept) => accept?.());
        session.on('exec', (accept, _reject, info) => {
          const stream = accept();
          if (this.exec?.(ip, info.command, stream)) return;
          const out = execOutput(info.command);
          if (out) stream.write(out);
          stream.exit(0);
          stream.end();
        });
        session.on('sftp', (accept, reject) => {
          const root = this.sftpRoot?.(ip);
          if (!root) return reject();
          serveSftp(accept(), root);
        });
        session.on('shell', (accept) => {
          // An interactive shell that ignores input and ends when the client does.
          const stream = accept();
          stream.on('data', () => undefined);
          stream.on('end', () => {
            stream.exit(0);
            stream.end();
          });
        });
      });
    });
  }

  private keyFor(blob: Buffer): ParsedKey | null {
    if (this.allowed.length > 0) return this.allowed.find((k) => k.getPublicSSH().equals(blob)) ?? null;
    const parsed = utils.parseKey(blob);
    if (parsed instanceof Error) return null;
    return Array.isArray(parsed) ? (parsed[0] ?? null) : parsed;
  }
}
