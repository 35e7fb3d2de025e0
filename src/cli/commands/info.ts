// `nodepool info`: what this installation is: version, config and database paths, deployment id,
// providers, targets and schema version. Reads the database read-only (no migration), so it is
// safe against a database of another version; exits 1 when the config or the database is unusable.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Command } from 'commander';
import type { Config } from '../../config.js';
import { DEPLOYMENT_META_KEY } from '../../deployment-id.js';
import { SCHEMA_VERSION } from '../../store/migrations.js';
import { statsdSettings } from '../../statsd.js';
import { packageVersion } from '../../version.js';
import type { CliContext } from '../context.js';

export interface InfoView {
  version: string;
  node: string;
  config: { path: string; ok: boolean; error: string | null };
  database: { path: string; exists: boolean; schemaVersion: number | null; supportedSchemaVersion: number; error: string | null };
  /** From the database, else from the config; null when neither has one yet (the daemon generates it). */
  deploymentId: string | null;
  providers: { name: string; driver: string; maxServers: number; rate: number }[];
  targets: { name: string; kind: 'jenkins' | 'gearman' | 'none' }[];
  labels: { name: string; minReady: number }[];
  statsd: string | null;
}

function readDatabase(path: string): Pick<InfoView['database'], 'exists' | 'schemaVersion' | 'error'> & { deploymentId: string | null } {
  if (!existsSync(path)) return { exists: false, schemaVersion: null, error: `no database at ${path}; start the daemon first or pass --db`, deploymentId: null };
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const version = (db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined)?.version ?? 0;
    const meta = db.prepare('SELECT value FROM meta WHERE key = ?').get(DEPLOYMENT_META_KEY) as { value: string } | undefined;
    return { exists: true, schemaVersion: version, error: null, deploymentId: meta?.value ?? null };
  } catch (err) {
    return { exists: true, schemaVersion: null, error: `${path}: ${(err as Error).message}`, deploymentId: null };
  } finally {
    db?.close();
  }
}

export function infoView(input: { configPath: string; dbPath: string; config: Config | null; configError: string | null; env: Record<string, string | undefined> }): InfoView {
  const db = readDatabase(input.dbPath);
  const cfg = input.config;
  let statsd: string | null = null;
  try {
    const s = cfg ? statsdSettings(cfg, input.env) : null;
    statsd = s ? `${s.host}:${s.port}${s.prefix ? ` prefix ${s.prefix}` : ''}` : null;
  } catch (err) {
    statsd = `invalid: ${(err as Error).message}`;
  }
  return {
    version: packageVersion(),
    node: process.version,
    config: { path: input.configPath, ok: cfg !== null, error: input.configError },
    database: { path: input.dbPath, exists: db.exists, schemaVersion: db.schemaVersion, supportedSchemaVersion: SCHEMA_VERSION, error: db.error },
    deploymentId: db.deploymentId ?? cfg?.['deployment-id'] ?? null,
    providers: (cfg?.providers ?? []).map((p) => ({ name: p.name, driver: p.driver, maxServers: p['max-servers'], rate: p.rate })),
    targets: (cfg?.targets ?? []).map((t) => ({ name: t.name, kind: t.jenkins ? 'jenkins' : t.gearman ? 'gearman' : 'none' })),
    labels: (cfg?.labels ?? []).map((l) => ({ name: l.name, minReady: l['min-ready'] })),
    statsd,
  };
}

export function infoText(v: InfoView): string {
  const schema =
    v.database.schemaVersion === null
      ? ''
      : ` (schema ${v.database.schemaVersion}${v.database.schemaVersion === v.database.supportedSchemaVersion ? '' : v.database.schemaVersion < v.database.supportedSchemaVersion ? `; the daemon migrates it to ${v.database.supportedSchemaVersion} at start` : `; newer than this nodepool (${v.database.supportedSchemaVersion}): upgrade nodepool`})`;
  const rows: [string, string][] = [
    ['version', `nodepool-ts ${v.version} (Node.js ${v.node})`],
    ['config', v.config.ok ? v.config.path : `${v.config.path}: ${v.config.error ?? 'not loaded'}`],
    ['database', v.database.error ? v.database.error : `${v.database.path}${schema}`],
    ['deployment id', v.deploymentId ?? 'none yet (the daemon generates one at its first start)'],
    ['providers', v.providers.map((p) => `${p.name} (${p.driver}, max-servers ${p.maxServers}, rate ${p.rate}s)`).join(', ') || '-'],
    ['targets', v.targets.map((t) => `${t.name} (${t.kind})`).join(', ') || '-'],
    ['labels', v.labels.map((l) => `${l.name} (min-ready ${l.minReady})`).join(', ') || '-'],
    ['statsd', v.statsd ?? 'off'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `${k.padEnd(width)}  ${val}`).join('\n') + '\n';
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('info')
    .description('version, config and database paths, deployment id, providers, targets and schema version')
    .option('--json', 'print a JSON object')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const { config: configPath, db: dbPath } = ctx.globals(cmd);
      let config: Config | null = null;
      let configError: string | null = null;
      try {
        config = ctx.loadConfig(cmd);
      } catch (err) {
        // Every problem of the file on one line each: `nodepool config-validate` shows them with positions.
        configError = (err as Error).message.split('\n')[0];
      }
      const view = infoView({ configPath, dbPath, config, configError, env: ctx.io.env });
      if (opts.json) ctx.printJson(view);
      else ctx.print(infoText(view));
      const newer = view.database.schemaVersion !== null && view.database.schemaVersion > view.database.supportedSchemaVersion;
      if (!view.config.ok || view.database.error || newer) ctx.exitCode = 1;
    });
}
