// `nodepool daemon`: runs until SIGINT/SIGTERM; SIGHUP reloads the config.
import { loadConfig } from '../config.js';
import { Daemon } from '../daemon.js';
import { createLogger, type Logger } from '../log.js';
import { startWebServer } from '../web/server.js';

export interface DaemonCommandOptions {
  config: string;
  /** Nodepool 0.x secure.conf for a 0.x-format config; the daemon's loads (and reloads) read it through NODEPOOL_SECURE. */
  secure?: string;
  db: string;
  logLevel: string;
  webHost: string;
  /** 0 disables the web server. */
  webPort: number;
}

/** A 0.x-format file's warnings, once at start (the daemon itself reports problems). */
function logConfigWarnings(file: string, env: Record<string, string | undefined>, log: Logger): void {
  try {
    loadConfig(file, env, { onWarning: (line) => log.warn({ config: line }, 'config key read differently from Nodepool 0.x') });
  } catch {
    // Daemon.start reports the problems.
  }
}

export async function runDaemon(opts: DaemonCommandOptions): Promise<void> {
  const log = createLogger({ level: opts.logLevel });
  const env = opts.secure ? { ...process.env, NODEPOOL_SECURE: opts.secure } : process.env;
  logConfigWarnings(opts.config, env, log);
  const daemon = await Daemon.start({ configPath: opts.config, dbPath: opts.db, env, log });
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
