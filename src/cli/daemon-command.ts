// `nodepool daemon`: runs until SIGINT/SIGTERM; SIGHUP reloads the config.
import { Daemon } from '../daemon.js';
import { createLogger } from '../log.js';
import { startWebServer } from '../web/server.js';

export interface DaemonCommandOptions {
  config: string;
  db: string;
  logLevel: string;
  webHost: string;
  /** 0 disables the web server. */
  webPort: number;
}

export async function runDaemon(opts: DaemonCommandOptions): Promise<void> {
  const log = createLogger({ level: opts.logLevel });
  const daemon = await Daemon.start({ configPath: opts.config, dbPath: opts.db, log });
  const web = opts.webPort ? await startWebServer(daemon, { host: opts.webHost, port: opts.webPort }) : null;
  if (web) log.info({ url: web.url }, 'metrics, health and JSON API listening');
  const onHup = () => void daemon.reload();
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping: no new launches; in-flight calls finish');
      process.off('SIGHUP', onHup);
      void Promise.allSettled([web?.close(), daemon.stop()]).then(() => resolve());
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
