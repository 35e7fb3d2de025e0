// What every CLI command gets: the I/O of the entry point, and the store and config named by
// the global options. Commands never read process.env or process.stdout themselves.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Clock } from '../clock.js';
import { loadConfig, type Config } from '../config.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';

export interface Output {
  write(text: string): unknown;
}

export interface CliIo {
  out: Output;
  err: Output;
  env: Record<string, string | undefined>;
  clock: Clock;
}

export interface GlobalOptions {
  db: string;
  config: string;
  /** Nodepool 0.x secure.conf (read for 0.x-format config files only). */
  secure?: string;
}

/** The daemon's data directory; NODEPOOL_DB or --db name another file. */
export const DEFAULT_DB = '/var/lib/nodepool/nodepool.db';
export const DEFAULT_CONFIG = '/etc/nodepool/nodepool.yaml';
/** As in Nodepool 0.x: used when it exists and no -s names another. */
export const DEFAULT_SECURE = '/etc/nodepool/secure.conf';

export class CliContext {
  /** Set by a command that finished but must report a failure (e.g. one provider unreachable). */
  exitCode = 0;

  constructor(readonly io: CliIo) {}

  globals(cmd: Command): GlobalOptions {
    return cmd.optsWithGlobals() as GlobalOptions;
  }

  /** Opens the store, runs `fn`, and closes the store whatever happens. */
  async withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
    const { db } = this.globals(cmd);
    // Only the daemon creates the database: a mistyped path must not become a new, empty pool.
    if (!existsSync(db)) throw new Error(`no database at ${db}; start the daemon first or pass --db`);
    const store = SqliteStore.open(db, { clock: this.io.clock });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  loadConfig(cmd: Command): Config {
    const { config, secure } = this.globals(cmd);
    return loadConfig(config, this.io.env, { secure });
  }

  print(text: string): void {
    this.io.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  printJson(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }
}
