import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { NodepoolError } from '../../src/errors.js';
import { SCHEMA_VERSION, migrate } from '../../src/store/migrations.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { defineStoreContract } from '../contract/store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'nodepool-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const paths = new Map<Store, string>();

defineStoreContract(
  'SqliteStore (file)',
  async ({ clock }) => {
    const path = join(dir, `contract-${++n}`, 'nodepool.db');
    const store = SqliteStore.open(path, { clock });
    paths.set(store, path);
    return store;
  },
  { reopen: async (first, { clock }) => SqliteStore.open(paths.get(first)!, { clock }) },
);

defineStoreContract('SqliteStore (:memory:)', async ({ clock }) => SqliteStore.open(':memory:', { clock }));

describe('SqliteStore specifics', () => {
  it('opens in WAL mode, creates parent folders and records the schema version', async () => {
    const path = join(dir, 'a', 'b', 'c.db');
    const store = SqliteStore.open(path);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT version FROM schema_version').get()).toEqual({ version: SCHEMA_VERSION });
    } finally {
      db.close();
    }
  });

  it('keeps data across reopen and migrates only once', async () => {
    const path = join(dir, 'reopen.db');
    const clock = new ManualClock(1000);
    const first = SqliteStore.open(path, { clock });
    const node = await first.createNode({ provider: 'p', label: 'l', image: 'i', target: 't' });
    await first.close();
    const second = SqliteStore.open(path, { clock });
    expect(await second.getNode(node.id)).toEqual(node);
    await second.close();
  });

  it('refuses a database written by a newer nodepool, with a clear error', async () => {
    const path = join(dir, 'newer.db');
    await SqliteStore.open(path).close();
    const db = new Database(path);
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
    db.close();
    let caught: unknown;
    try {
      SqliteStore.open(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NodepoolError);
    expect(String((caught as Error).message)).toMatch(/schema version \d+, newer than this nodepool supports/);
  });

  it('applies only the steps a database has not seen yet', () => {
    const db = new Database(':memory:');
    try {
      expect(migrate(db, 'mem', ['CREATE TABLE a (x)'])).toBe(1);
      db.prepare('INSERT INTO a VALUES (1)').run();
      // Step 1 must not run again (it would fail: table a exists); step 2 runs once.
      expect(migrate(db, 'mem', ['CREATE TABLE a (x)', 'ALTER TABLE a ADD COLUMN y'])).toBe(2);
      expect(db.prepare('SELECT * FROM a').all()).toEqual([{ x: 1, y: null }]);
      expect(() => migrate(db, 'mem', ['CREATE TABLE a (x)', 'CREATE TABLE b (x)', 'bad sql'])).toThrow();
      // The failed step rolled back; the version stays at the last finished step.
      expect(db.prepare('SELECT version FROM schema_version').get()).toEqual({ version: 2 });
    } finally {
      db.close();
    }
  });
});
