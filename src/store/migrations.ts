// Versioned schema for the SQLite store. Each step runs in its own transaction and bumps
// schema_version, so a crash mid-upgrade leaves the database at the last finished step.
// Append new steps; never edit a step that has shipped.
import type Database from 'better-sqlite3';
import { NodepoolError } from '../errors.js';

export const MIGRATIONS: readonly string[] = [
  // 1: nodes, images, audit.
  `
  CREATE TABLE nodes (
    -- AUTOINCREMENT: ids (and so hostnames, which are server names) are never reused.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    label TEXT NOT NULL,
    image TEXT NOT NULL,
    target TEXT NOT NULL,
    -- NULL only inside createNode's transaction, before the id is known.
    hostname TEXT UNIQUE,
    server_id TEXT,
    ip TEXT,
    az TEXT,
    state TEXT NOT NULL,
    state_time INTEGER NOT NULL,
    hold_reason TEXT,
    hold_expires INTEGER,
    comment TEXT,
    manager TEXT,
    launch_attempts INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
  );
  CREATE INDEX nodes_server_id ON nodes (server_id);
  CREATE INDEX nodes_provider_state ON nodes (provider, state);
  CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    image TEXT NOT NULL,
    version TEXT NOT NULL,
    external_id TEXT,
    state TEXT NOT NULL,
    state_time INTEGER NOT NULL,
    created INTEGER NOT NULL
  );
  CREATE INDEX images_provider_image ON images (provider, image);
  -- No foreign key to nodes/images: audit rows outlive the rows they describe.
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('node', 'image')),
    object_id INTEGER NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    reason TEXT,
    time INTEGER NOT NULL
  );
  CREATE INDEX audit_object ON audit (kind, object_id);
  `,
  // 2: installation identity, target removals still owed, recent launch failures.
  `
  -- Key/value facts about this installation (deployment_id, generated once).
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  -- A node removed from its target (Jenkins doDelete, Gearman node_revoke) that the target has
  -- not acknowledged yet. Outlives the node row; retried until the target says done.
  CREATE TABLE pending_unregisters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    hostname TEXT NOT NULL,
    manager TEXT,
    node_id INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_try INTEGER NOT NULL,
    created INTEGER NOT NULL,
    UNIQUE (target, hostname)
  );
  -- Launch attempts that failed, kept so an operator can see why min-ready is not met even
  -- when the node row is long gone. Pruned to the newest rows by the daemon.
  CREATE TABLE launch_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    label TEXT NOT NULL,
    node_id INTEGER,
    hostname TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    time INTEGER NOT NULL
  );
  CREATE INDEX launch_failures_time ON launch_failures (time);
  `,
  // 3: image bakes: the template server and why a bake failed.
  `
  ALTER TABLE images ADD COLUMN hostname TEXT;
  ALTER TABLE images ADD COLUMN server_id TEXT;
  ALTER TABLE images ADD COLUMN reason TEXT;
  `,
  // 4: which image a node booted, paused image names (image-pause), bake steps and operator build requests (image-update).
  `
  -- The cloud image id and our image version (NULL: the provider image's base-image, no bake).
  ALTER TABLE nodes ADD COLUMN image_id TEXT;
  ALTER TABLE nodes ADD COLUMN image_version TEXT;
  CREATE TABLE image_pauses (
    image TEXT PRIMARY KEY,
    reason TEXT,
    time INTEGER NOT NULL
  );
  -- The step a bake is at (boot, active, ssh, ...), so image-list and image-update show it live.
  ALTER TABLE images ADD COLUMN step TEXT;
  -- Builds asked for by an operator (image-update), taken by the daemon's builder.
  CREATE TABLE image_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    image TEXT NOT NULL,
    time INTEGER NOT NULL,
    -- The image row the daemon started for it; NULL until taken.
    image_id INTEGER
  );
  `,
  // 5: job rules stored by the CLI (0.3's job-create / job-delete), added to the config's jobs.
  `
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    hold_on_failure INTEGER NOT NULL,
    time INTEGER NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

function currentVersion(db: Database.Database): number {
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/** Brings the database up to SCHEMA_VERSION. Refuses a database written by a newer nodepool. */
export function migrate(db: Database.Database, file: string, steps: readonly string[] = MIGRATIONS): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const check = (): number => {
    const version = currentVersion(db);
    if (version > steps.length) {
      throw new NodepoolError(
        `database ${file} has schema version ${version}, newer than this nodepool supports (${steps.length}); upgrade nodepool`,
      );
    }
    return version;
  };
  for (let version = check(); version < steps.length; ) {
    // IMMEDIATE takes the write lock first, so two processes opening a fresh file at once
    // do not both run the same step: the second re-reads the version under the lock.
    db.transaction(() => {
      const now = check();
      if (now !== version) return;
      db.exec(steps[version]);
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version + 1);
    }).immediate();
    version = check();
  }
  return check();
}
