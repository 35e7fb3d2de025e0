// `nodepool daemon`: runs the pool until SIGINT/SIGTERM; SIGHUP reloads the config.
import type { Command } from 'commander';
import { parsePort } from '../args.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('daemon')
    .description('run the daemon (SIGINT/SIGTERM stop it, SIGHUP reloads the config)')
    .option('--web-port <port>', 'port of /metrics, /health and the JSON API (0 turns it off)', parsePort, 8005)
    .option('--web-host <host>', 'address the web server listens on', '127.0.0.1')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (opts: { webPort: number; webHost: string; logLevel: string }, cmd: Command) => {
      const { config, db, secure } = ctx.globals(cmd);
      // Loaded lazily: the other commands need none of the daemon's modules.
      const { runDaemon } = await import('../daemon-command.js');
      await runDaemon({ config, db, secure, logLevel: opts.logLevel, webHost: opts.webHost, webPort: opts.webPort });
    });
}
