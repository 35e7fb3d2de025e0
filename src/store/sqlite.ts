// The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous; the methods
// are async only to honour the Store interface shared with PostgreSQL.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../clock.js';
import { InvalidTransitionError, NotInStoreError } from '../errors.js';
import {
  assertTransition,
  nodeHostname,
  type AuditRow,
  type ImagePatch,
  type ImageRecord,
  type ImageState,
  type LaunchFailure,
  type NewImage,
  type NewNode,
  type NodePatch,
  type NodeRecord,
  type NodeState,
  type ImagePause,
  type ImageRequest,
  type PendingUnregister,
} from '../model.js';
import { migrate } from './migrations.js';
import type { NodeFilter, Store, StoredJob } from './store.js';

interface NodeRow {
  id: number;
  provider: string;
  label: string;
  image: string;
  target: string;
  hostname: string;
  server_id: string | null;
  ip: string | null;
  az: string | null;
  state: NodeState;
  state_time: number;
  hold_reason: string | null;
  hold_expires: number | null;
  comment: string | null;
  manager: string | null;
  launch_attempts: number;
  created: number;
  image_id: string | null;
  image_version: string | null;
}

interface ImageRow {
  id: number;
  provider: string;
  image: string;
  version: string;
  external_id: string | null;
  state: ImageState;
  state_time: number;
  created: number;
  hostname: string | null;
  server_id: string | null;
  reason: string | null;
  step: string | null;
}

interface AuditDbRow {
  id: number;
  kind: 'node' | 'image';
  object_id: number;
  from_state: string | null;
  to_state: string;
  reason: string | null;
  time: number;
}

interface PendingDbRow {
  id: number;
  target: string;
  hostname: string;
  manager: string | null;
  node_id: number;
  attempts: number;
  last_error: string | null;
  next_try: number;
  created: number;
}

interface FailureDbRow {
  id: number;
  provider: string;
  label: string;
  node_id: number | null;
  hostname: string | null;
  code: string;
  message: string;
  time: number;
}

interface ImageRequestRow {
  id: number;
  provider: string;
  image: string;
  time: number;
  image_id: number | null;
}

function toImageRequest(r: ImageRequestRow): ImageRequest {
  return { id: r.id, provider: r.provider, image: r.image, time: r.time, imageId: r.image_id };
}

function toPending(r: PendingDbRow): PendingUnregister {
  return {
    id: r.id,
    target: r.target,
    hostname: r.hostname,
    manager: r.manager,
    nodeId: r.node_id,
    attempts: r.attempts,
    lastError: r.last_error,
    nextTry: r.next_try,
    created: r.created,
  };
}

function toFailure(r: FailureDbRow): LaunchFailure {
  return { id: r.id, provider: r.provider, label: r.label, nodeId: r.node_id, hostname: r.hostname, code: r.code, message: r.message, time: r.time };
}

/**
 * `WHERE ...` for the conditions whose value is defined: `[sql, value]` pairs where the sql has
 * one `?`, or `[column, values[]]` for `column IN (...)` (an empty list matches nothing).
 */
function whereClause(conds: readonly ([string, unknown] | [string, readonly unknown[] | undefined, 'in'])[]): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const [sql, value, kind] of conds) {
    if (value === undefined) continue;
    if (kind === 'in') {
      const list = value as readonly unknown[];
      where.push(list.length ? `${sql} IN (${list.map(() => '?').join(', ')})` : '0');
      params.push(...list);
    } else {
      where.push(sql);
      params.push(value);
    }
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/** Patch keys -> columns. Only these may be written by updateNode / transitionNode patches. */
const NODE_COLUMNS: Record<keyof NodePatch, string> = {
  serverId: 'server_id',
  ip: 'ip',
  az: 'az',
  holdReason: 'hold_reason',
  holdExpires: 'hold_expires',
  comment: 'comment',
  manager: 'manager',
  launchAttempts: 'launch_attempts',
  hostname: 'hostname',
  imageId: 'image_id',
  imageVersion: 'image_version',
};

const IMAGE_COLUMNS: Record<keyof ImagePatch, string> = { externalId: 'external_id', hostname: 'hostname', serverId: 'server_id', reason: 'reason', step: 'step' };

function toNode(r: NodeRow): NodeRecord {
  return {
    id: r.id,
    provider: r.provider,
    label: r.label,
    image: r.image,
    target: r.target,
    hostname: r.hostname,
    serverId: r.server_id,
    ip: r.ip,
    az: r.az,
    state: r.state,
    stateTime: r.state_time,
    holdReason: r.hold_reason,
    holdExpires: r.hold_expires,
    comment: r.comment,
    manager: r.manager,
    launchAttempts: r.launch_attempts,
    created: r.created,
    imageId: r.image_id,
    imageVersion: r.image_version,
  };
}

function toImage(r: ImageRow): ImageRecord {
  return {
    id: r.id,
    provider: r.provider,
    image: r.image,
    version: r.version,
    externalId: r.external_id,
    state: r.state,
    stateTime: r.state_time,
    created: r.created,
    hostname: r.hostname,
    serverId: r.server_id,
    reason: r.reason,
    step: r.step,
  };
}

function toAudit(r: AuditDbRow): AuditRow {
  return { id: r.id, kind: r.kind, objectId: r.object_id, fromState: r.from_state, toState: r.to_state, reason: r.reason, time: r.time };
}

/** `SET a = @a, b = @b` for the keys present in the patch (undefined keys are skipped). */
function setClause(patch: object, columns: Record<string, string>): { sql: string[]; params: Record<string, unknown> } {
  const sql: string[] = [];
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const column = columns[key];
    if (column === undefined || value === undefined) continue;
    sql.push(`${column} = @p_${column}`);
    params[`p_${column}`] = value;
  }
  return { sql, params };
}

export class SqliteStore implements Store {
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
  ) {}

  /** Opens (creating parent folders and the file if needed) and migrates. ':memory:' is allowed. */
  static open(path: string, opts: { clock?: Clock } = {}): SqliteStore {
    if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
      migrate(db, path);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteStore(db, opts.clock ?? systemClock);
  }

  private nodeRow(id: number): NodeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM nodes WHERE id = ?').get(id) as NodeRow | undefined;
    return row && toNode(row);
  }

  private imageRow(id: number): ImageRecord | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return row && toImage(row);
  }

  private writeAudit(kind: 'node' | 'image', objectId: number, from: string | null, to: string, reason: string | null, time: number): void {
    this.db
      .prepare('INSERT INTO audit (kind, object_id, from_state, to_state, reason, time) VALUES (?, ?, ?, ?, ?, ?)')
      .run(kind, objectId, from, to, reason, time);
  }

  async createNode(input: NewNode): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const now = this.clock.now();
      const { lastInsertRowid } = this.db
        .prepare(
          `INSERT INTO nodes (provider, label, image, target, state, state_time, created)
           VALUES (?, ?, ?, ?, 'building', ?, ?)`,
        )
        .run(input.provider, input.label, input.image, input.target, now, now);
      const id = Number(lastInsertRowid);
      // The deployment id (if the daemon stored one) makes the name unique across installations.
      const deployment = (this.db.prepare("SELECT value FROM meta WHERE key = 'deployment_id'").get() as { value: string } | undefined)?.value;
      this.db.prepare('UPDATE nodes SET hostname = ? WHERE id = ?').run(nodeHostname(input.label, input.provider, id, deployment), id);
      this.writeAudit('node', id, null, 'building', null, now);
      return this.nodeRow(id)!;
    }).immediate();
  }

  async getNode(id: number): Promise<NodeRecord | undefined> {
    return this.nodeRow(id);
  }

  async getNodeByHostname(hostname: string): Promise<NodeRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM nodes WHERE hostname = ?').get(hostname) as NodeRow | undefined;
    return row && toNode(row);
  }

  async listNodes(filter: NodeFilter = {}): Promise<NodeRecord[]> {
    const { sql, params } = whereClause([
      ['provider = ?', filter.provider],
      ['label = ?', filter.label],
      ['state', filter.states, 'in'],
    ]);
    return (this.db.prepare(`SELECT * FROM nodes ${sql} ORDER BY id`).all(...params) as NodeRow[]).map(toNode);
  }

  async updateNode(id: number, patch: NodePatch): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const { sql, params } = setClause(patch, NODE_COLUMNS);
      if (sql.length) this.db.prepare(`UPDATE nodes SET ${sql.join(', ')} WHERE id = @id`).run({ ...params, id });
      const node = this.nodeRow(id);
      if (!node) throw new NotInStoreError(`node ${id} is not in the store`);
      return node;
    }).immediate();
  }

  async transitionNode(
    id: number,
    to: NodeState,
    opts: { reason?: string; patch?: NodePatch; from?: readonly NodeState[] } = {},
  ): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.nodeRow(id);
      if (!node) throw new NotInStoreError(`node ${id} is not in the store`);
      // Compare-and-set: someone else (an operator, another daemon) moved it since the caller looked.
      if (opts.from && !opts.from.includes(node.state)) {
        const err = new InvalidTransitionError('node', id, node.state, to);
        err.message = `node ${id}: is ${node.state}, not ${opts.from.join(' or ') || 'in any expected state'}; transition to ${to} not made`;
        throw err;
      }
      assertTransition('node', id, node.state, to);
      const now = this.clock.now();
      const { sql, params } = setClause(opts.patch ?? {}, NODE_COLUMNS);
      this.db
        .prepare(`UPDATE nodes SET ${['state = @state', 'state_time = @now', ...sql].join(', ')} WHERE id = @id`)
        .run({ ...params, state: to, now, id });
      this.writeAudit('node', id, node.state, to, opts.reason ?? null, now);
      return this.nodeRow(id)!;
    }).immediate();
  }

  async removeNode(id: number): Promise<void> {
    this.db.prepare('DELETE FROM nodes WHERE id = ?').run(id);
  }

  async createImage(input: NewImage): Promise<ImageRecord> {
    return this.db.transaction(() => {
      const now = this.clock.now();
      const { lastInsertRowid } = this.db
        .prepare(`INSERT INTO images (provider, image, version, state, state_time, created) VALUES (?, ?, ?, 'building', ?, ?)`)
        .run(input.provider, input.image, input.version, now, now);
      const id = Number(lastInsertRowid);
      this.writeAudit('image', id, null, 'building', null, now);
      return this.imageRow(id)!;
    }).immediate();
  }

  async getImage(id: number): Promise<ImageRecord | undefined> {
    return this.imageRow(id);
  }

  async listImages(filter: { provider?: string; image?: string; states?: readonly ImageState[] } = {}): Promise<ImageRecord[]> {
    const { sql, params } = whereClause([
      ['provider = ?', filter.provider],
      ['image = ?', filter.image],
      ['state', filter.states, 'in'],
    ]);
    return (this.db.prepare(`SELECT * FROM images ${sql} ORDER BY id`).all(...params) as ImageRow[]).map(toImage);
  }

  async updateImage(id: number, patch: ImagePatch): Promise<ImageRecord> {
    return this.db.transaction(() => {
      const { sql, params } = setClause(patch, IMAGE_COLUMNS);
      if (sql.length) this.db.prepare(`UPDATE images SET ${sql.join(', ')} WHERE id = @id`).run({ ...params, id });
      const image = this.imageRow(id);
      if (!image) throw new NotInStoreError(`image ${id} is not in the store`);
      return image;
    }).immediate();
  }

  async transitionImage(id: number, to: ImageState, opts: { reason?: string; patch?: ImagePatch } = {}): Promise<ImageRecord> {
    return this.db.transaction(() => {
      const image = this.imageRow(id);
      if (!image) throw new NotInStoreError(`image ${id} is not in the store`);
      assertTransition('image', id, image.state, to);
      const now = this.clock.now();
      const { sql, params } = setClause(opts.patch ?? {}, IMAGE_COLUMNS);
      this.db
        .prepare(`UPDATE images SET ${['state = @state', 'state_time = @now', ...sql].join(', ')} WHERE id = @id`)
        .run({ ...params, state: to, now, id });
      this.writeAudit('image', id, image.state, to, opts.reason ?? null, now);
      return this.imageRow(id)!;
    }).immediate();
  }

  async removeImage(id: number): Promise<void> {
    this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
  }

  /** Oldest first. With `limit`, the newest `limit` rows (still oldest first). */
  async audit(filter: { kind?: 'node' | 'image'; objectId?: number; limit?: number } = {}): Promise<AuditRow[]> {
    const { sql, params } = whereClause([
      ['kind = ?', filter.kind],
      ['object_id = ?', filter.objectId],
    ]);
    const limit = filter.limit !== undefined ? ' LIMIT ?' : '';
    const rows = this.db.prepare(`SELECT * FROM audit ${sql} ORDER BY id DESC${limit}`).all(...params, ...(limit ? [filter.limit] : [])) as AuditDbRow[];
    return rows.reverse().map(toAudit);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setMetaIfAbsent(key: string, value: string): Promise<string> {
    return this.db.transaction(() => {
      this.db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, value);
      return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string }).value;
    }).immediate();
  }

  async addPendingUnregister(input: { target: string; hostname: string; manager: string | null; nodeId: number }): Promise<PendingUnregister> {
    return this.db.transaction(() => {
      const now = this.clock.now();
      this.db
        .prepare(
          `INSERT INTO pending_unregisters (target, hostname, manager, node_id, next_try, created) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (target, hostname) DO UPDATE SET manager = excluded.manager, node_id = excluded.node_id, next_try = excluded.next_try`,
        )
        .run(input.target, input.hostname, input.manager, input.nodeId, now, now);
      const row = this.db.prepare('SELECT * FROM pending_unregisters WHERE target = ? AND hostname = ?').get(input.target, input.hostname) as PendingDbRow;
      return toPending(row);
    }).immediate();
  }

  async listPendingUnregisters(filter: { dueBy?: number } = {}): Promise<PendingUnregister[]> {
    const rows = (
      filter.dueBy === undefined
        ? this.db.prepare('SELECT * FROM pending_unregisters ORDER BY id').all()
        : this.db.prepare('SELECT * FROM pending_unregisters WHERE next_try <= ? ORDER BY id').all(filter.dueBy)
    ) as PendingDbRow[];
    return rows.map(toPending);
  }

  async deferPendingUnregister(id: number, error: string, nextTry: number): Promise<void> {
    this.db.prepare('UPDATE pending_unregisters SET attempts = attempts + 1, last_error = ?, next_try = ? WHERE id = ?').run(error, nextTry, id);
  }

  async removePendingUnregister(id: number): Promise<void> {
    this.db.prepare('DELETE FROM pending_unregisters WHERE id = ?').run(id);
  }

  async recordLaunchFailure(input: Omit<LaunchFailure, 'id' | 'time'> & { time?: number }, keep = 1000): Promise<LaunchFailure> {
    return this.db.transaction(() => {
      const time = input.time ?? this.clock.now();
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO launch_failures (provider, label, node_id, hostname, code, message, time) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(input.provider, input.label, input.nodeId, input.hostname, input.code, input.message, time);
      const id = Number(lastInsertRowid);
      this.db.prepare('DELETE FROM launch_failures WHERE id <= ?').run(id - keep);
      return toFailure(this.db.prepare('SELECT * FROM launch_failures WHERE id = ?').get(id) as FailureDbRow);
    }).immediate();
  }

  async listLaunchFailures(filter: { provider?: string; label?: string; since?: number; limit?: number } = {}): Promise<LaunchFailure[]> {
    const { sql, params } = whereClause([
      ['provider = ?', filter.provider],
      ['label = ?', filter.label],
      ['time >= ?', filter.since],
    ]);
    const limit = filter.limit !== undefined ? ' LIMIT ?' : '';
    const rows = this.db.prepare(`SELECT * FROM launch_failures ${sql} ORDER BY id DESC${limit}`).all(...params, ...(limit ? [filter.limit] : [])) as FailureDbRow[];
    return rows.map(toFailure);
  }

  async pauseImage(image: string, reason: string | null): Promise<void> {
    this.db.prepare('INSERT INTO image_pauses (image, reason, time) VALUES (?, ?, ?) ON CONFLICT (image) DO UPDATE SET reason = excluded.reason, time = excluded.time').run(image, reason, this.clock.now());
  }

  async unpauseImage(image: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM image_pauses WHERE image = ?').run(image).changes > 0;
  }

  async listImagePauses(): Promise<ImagePause[]> {
    return this.db.prepare('SELECT image, reason, time FROM image_pauses ORDER BY image').all() as ImagePause[];
  }

  async requestImageBuild(provider: string, image: string): Promise<ImageRequest> {
    const { lastInsertRowid } = this.db.prepare('INSERT INTO image_requests (provider, image, time) VALUES (?, ?, ?)').run(provider, image, this.clock.now());
    return this.imageRequestRow(Number(lastInsertRowid))!;
  }

  async getImageRequest(id: number): Promise<ImageRequest | undefined> {
    return this.imageRequestRow(id);
  }

  async listImageRequests(filter: { open?: boolean } = {}): Promise<ImageRequest[]> {
    const where = filter.open ? 'WHERE image_id IS NULL ' : '';
    return (this.db.prepare(`SELECT * FROM image_requests ${where}ORDER BY id`).all() as ImageRequestRow[]).map(toImageRequest);
  }

  async takeImageRequest(id: number, imageId: number): Promise<void> {
    this.db.prepare('UPDATE image_requests SET image_id = ? WHERE id = ?').run(imageId, id);
  }

  private imageRequestRow(id: number): ImageRequest | undefined {
    const row = this.db.prepare('SELECT * FROM image_requests WHERE id = ?').get(id) as ImageRequestRow | undefined;
    return row && toImageRequest(row);
  }

  async changeMarker(): Promise<number> {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  async createJob(name: string, holdOnFailure: number): Promise<StoredJob> {
    const { lastInsertRowid } = this.db.prepare('INSERT INTO jobs (name, hold_on_failure, time) VALUES (?, ?, ?)').run(name, holdOnFailure, this.clock.now());
    return (await this.listJobs()).find((j) => j.id === Number(lastInsertRowid))!;
  }

  async listJobs(): Promise<StoredJob[]> {
    return this.db.prepare('SELECT id, name, hold_on_failure AS holdOnFailure, time FROM jobs ORDER BY name').all() as StoredJob[];
  }

  async deleteJob(id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id).changes > 0;
  }
}
