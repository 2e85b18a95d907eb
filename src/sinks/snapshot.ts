import { createHash } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import _ from 'highland';
import { ToolError } from '../errors.js';
import { entityInfo, type EntityName } from '../graph/schema.js';
import { directoryObjectColumns, linkTables } from '../streams/export-tables.js';
import { OBJECT_TABLE } from '../streams/encode-row.js';
import type { ExportMsg, Mapping, RoundMode, RowsMsg, TableRow } from '../types.js';

/**
 * The local snapshot of a connection (`<cookies>/<connection>_snapshot.sqlite`): what the consumer of
 * the connection's `--diff` files was last told, so that any round, a complete one included, becomes
 * exact insert/update/delete rows. A plain SQLite database (README, "The snapshot"):
 *
 * - `objects(id, entity, hash)`: every exported object, the round's entity, and the first 16 bytes of
 *   the SHA-256 of its exported cells (see {@link cellsHash});
 * - `links(link_table, source_id, target_id)`: every link, `members_group` `groupId` → `id`;
 * - `rounds(entity, select_list, cookie_sha256, committed_at)`: per entity, the `$select` and the
 *   SHA-256 of the cookie the snapshot is in step with;
 * - `meta(key, value)`: `schema` (1), `run` (the id of the run that committed it), `committed_at`.
 *
 * A run works inside one transaction, opened with the database: the commit step commits it once the
 * CSVs are in place (commit.ts's commit point), any other end rolls it back, and a killed run's
 * transaction is rolled back by SQLite itself (its journal) when the next run opens the file. The
 * seen ids of a complete round live in temp tables, on disk: memory stays flat.
 */

const SCHEMA_VERSION = '1';

/** Where a connection's snapshot lives: beside its cookies. */
export function snapshotPath(cookieDir: string, connection: string): string {
  return join(cookieDir, `${connection}_snapshot.sqlite`);
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The hash of a `directoryobjects` row: SHA-256 (first 16 bytes) over `name NUL value NUL` of each
 * non-empty cell but `Command`, in column order. An added column that is empty changes nothing; a
 * changed, set or cleared value changes it.
 */
export function cellsHash(cells: Record<string, string>): Buffer {
  const h = createHash('sha256');
  for (const key in cells) {
    if (key === 'Command') continue;
    const v = cells[key];
    if (v === undefined || v === '') continue;
    h.update(key).update('\0').update(v).update('\0');
  }
  return h.digest().subarray(0, 16);
}

/** One entity's round as the commit records it. */
export interface SnapshotRound {
  entity: EntityName;
  select: string;
  /** The cookie the run leaves: the snapshot is in step with it. */
  deltaLink: string;
}

/** What a snapshot holds, for `entra state`. */
export interface SnapshotCounts {
  objects: Record<string, number>;
  links: Record<string, number>;
  rounds: { entity: string; select: string; cookieSha256: string; committedAt: string }[];
  run?: string;
  committedAt?: string;
}

function snapshotError(path: string, error: unknown): ToolError {
  const why = error instanceof Error ? error.message : String(error);
  return new ToolError('ERR_SNAPSHOT', `the snapshot ${path} cannot be used: ${why}`, { cause: error });
}

/** Opens a snapshot file for reading (rolling back a killed run's journal first); undefined when there is none. */
function openExisting(path: string): Database.Database | undefined {
  if (!existsSync(path)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('busy_timeout = 0');
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    if (!hasMeta) {
      db.close();
      return undefined;
    }
    return db;
  } catch (error) {
    db?.close();
    throw snapshotError(path, error);
  }
}

/** The id of the run that last committed the snapshot at `path` (commit.ts's `isCommitted`). */
export function committedRun(path: string): string | undefined {
  const db = openExisting(path);
  if (!db) return undefined;
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'run'").get() as { value: string } | undefined;
    return row?.value;
  } finally {
    db.close();
  }
}

/** What the snapshot at `path` holds (undefined when there is none), without changing it. */
export function snapshotCounts(path: string): SnapshotCounts | undefined {
  const db = openExisting(path);
  if (!db) return undefined;
  try {
    const meta = new Map(
      (db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
    const objects: Record<string, number> = {};
    for (const r of db.prepare('SELECT entity, count(*) AS n FROM objects GROUP BY entity').all() as {
      entity: string;
      n: number;
    }[])
      objects[r.entity] = r.n;
    const links: Record<string, number> = {};
    for (const r of db.prepare('SELECT link_table, count(*) AS n FROM links GROUP BY link_table').all() as {
      link_table: string;
      n: number;
    }[])
      links[r.link_table] = r.n;
    const rounds = (
      db
        .prepare('SELECT entity, select_list, cookie_sha256, committed_at FROM rounds ORDER BY entity')
        .all() as {
        entity: string;
        select_list: string;
        cookie_sha256: string;
        committed_at: string;
      }[]
    ).map((r) => ({
      entity: r.entity,
      select: r.select_list,
      cookieSha256: r.cookie_sha256,
      committedAt: r.committed_at,
    }));
    return {
      objects,
      links,
      rounds,
      ...(meta.has('run') ? { run: meta.get('run')! } : {}),
      ...(meta.has('committed_at') ? { committedAt: meta.get('committed_at')! } : {}),
    };
  } finally {
    db.close();
  }
}

/** Rows emitted per message when a complete round's deletes are read back from the snapshot. */
const DELETE_BATCH = 1000;

/**
 * A connection's snapshot open for one run, inside one transaction: {@link diffStage} turns the
 * rounds' rows into exact changes while updating it; {@link commit} or {@link rollback} ends it.
 */
export class Snapshot {
  private readonly db: Database.Database;
  private open = true;
  private committed = false;
  private readonly created: boolean;

  /**
   * Opens (creating it if needed) the snapshot at `path` and begins the run's transaction; without a
   * path, an anonymous temporary database (on disk, removed at close) for a run that has no state to
   * keep (`--demo`, or an ad-hoc run of a connection without a snapshot).
   */
  constructor(private readonly path?: string) {
    this.created = path !== undefined && !existsSync(path);
    try {
      this.db = new Database(path ?? '');
    } catch (error) {
      throw snapshotError(path ?? 'temporary database', error);
    }
    try {
      // The seen ids of a complete round (millions) go to temp tables: on disk, not in memory.
      this.db.pragma('temp_store = FILE');
      this.db.pragma('cache_size = -32768');
      this.db.pragma('journal_mode = DELETE');
      this.db.pragma('synchronous = FULL');
      this.db.exec('BEGIN IMMEDIATE');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS objects(id TEXT PRIMARY KEY, entity TEXT NOT NULL, hash BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS links(link_table TEXT NOT NULL, source_id TEXT NOT NULL, target_id TEXT NOT NULL,
          PRIMARY KEY(link_table, source_id, target_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rounds(entity TEXT PRIMARY KEY, select_list TEXT NOT NULL,
          cookie_sha256 TEXT NOT NULL, committed_at TEXT NOT NULL) WITHOUT ROWID;
        CREATE TEMP TABLE seen_objects(id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TEMP TABLE seen_links(link_table TEXT, source_id TEXT, target_id TEXT,
          PRIMARY KEY(link_table, source_id, target_id)) WITHOUT ROWID;
        CREATE TEMP TABLE gone(n INTEGER PRIMARY KEY, kind TEXT, a TEXT, b TEXT, c TEXT);
      `);
      const version = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        { value: string } | undefined;
      if (version && version.value !== SCHEMA_VERSION)
        throw new Error(`schema version ${version.value}, this entra reads ${SCHEMA_VERSION}`);
      if (!version) this.db.prepare("INSERT INTO meta VALUES ('schema', ?)").run(SCHEMA_VERSION);
    } catch (error) {
      this.close();
      throw snapshotError(path ?? 'temporary database', error);
    }
  }

  /**
   * Whether the snapshot is in step with an entity's cookie: made by the run that wrote that cookie,
   * for the same `$select`. Else one line saying why not (an incremental round could not be diffed).
   */
  inStep(entity: EntityName, select: string, deltaLink: string): true | string {
    const r = this.db
      .prepare('SELECT select_list, cookie_sha256 FROM rounds WHERE entity = ?')
      .get(entity) as { select_list: string; cookie_sha256: string } | undefined;
    if (!r) return 'the snapshot has no round of it yet';
    if (r.select_list !== select) return `the snapshot was made for another $select (${r.select_list})`;
    if (r.cookie_sha256 !== sha256(deltaLink.trim()))
      return 'the snapshot is not in step with the cookie (a run without --diff moved it)';
    return true;
  }

  /**
   * The diff stage of an export, between the splitters and the cookie stage: each page's rows become
   * the exact changes against the snapshot (which it updates), and the end of a complete round (its
   * state message) brings the `delete` rows of the objects and links the round did not see, links
   * first. Mode and state messages pass on.
   */
  diffStage(options: {
    mapping: Mapping;
    modes: ReadonlyMap<EntityName, RoundMode>;
  }): (s: Highland.Stream<ExportMsg>) => Highland.Stream<ExportMsg> {
    const db = this.db;
    const modes = new Map(options.modes);
    const tables = linkTables(options.mapping);
    const ownerColumn = new Map(tables.map((t) => [t.table, t.ownerColumn]));
    const tablesOf = (entity: EntityName) => tables.filter((t) => t.entity === entity);
    const columns = directoryObjectColumns(options.mapping);
    const getObject = db.prepare('SELECT hash FROM objects WHERE id = ?').pluck();
    const putObject = db.prepare(
      'INSERT INTO objects(id, entity, hash) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET entity = excluded.entity, hash = excluded.hash',
    );
    const deleteObject = db.prepare('DELETE FROM objects WHERE id = ?');
    const seeObject = db.prepare('INSERT OR IGNORE INTO seen_objects(id) VALUES (?)');
    const putLink = db.prepare('INSERT OR IGNORE INTO links VALUES (?, ?, ?)');
    const deleteLink = db.prepare(
      'DELETE FROM links WHERE link_table = ? AND source_id = ? AND target_id = ?',
    );
    const seeLink = db.prepare('INSERT OR IGNORE INTO seen_links VALUES (?, ?, ?)');
    const linksFrom = db
      .prepare('SELECT target_id FROM links WHERE link_table = ? AND source_id = ?')
      .pluck();
    const deleteLinksFrom = db.prepare('DELETE FROM links WHERE link_table = ? AND source_id = ?');
    const clearGone = db.prepare('DELETE FROM temp.gone');
    const goneLinks = db.prepare(`
      INSERT INTO temp.gone(kind, a, b, c) SELECT 'l', link_table, source_id, target_id FROM links l
      WHERE link_table = ? AND NOT EXISTS (SELECT 1 FROM seen_links s
        WHERE s.link_table = l.link_table AND s.source_id = l.source_id AND s.target_id = l.target_id)
      ORDER BY source_id, target_id`);
    const goneObjects = db.prepare(`
      INSERT INTO temp.gone(kind, a) SELECT 'o', id FROM objects o
      WHERE entity = ? AND NOT EXISTS (SELECT 1 FROM seen_objects s WHERE s.id = o.id) ORDER BY id`);
    const dropGoneLinks = db.prepare(
      "DELETE FROM links WHERE (link_table, source_id, target_id) IN (SELECT a, b, c FROM temp.gone WHERE kind = 'l')",
    );
    const dropGoneObjects = db.prepare(
      "DELETE FROM objects WHERE id IN (SELECT a FROM temp.gone WHERE kind = 'o')",
    );
    const readGone = db.prepare('SELECT n, kind, a, b, c FROM temp.gone WHERE n > ? ORDER BY n LIMIT ?');

    const deleteRow = (entity: EntityName, id: string): TableRow => {
      const cells: Record<string, string> = {
        Command: 'delete',
        '@odata.type': entityInfo(entity).odataType,
      };
      for (const c of columns) cells[c] = '';
      cells.id = id;
      return { table: OBJECT_TABLE, cells };
    };
    const linkRow = (
      table: string,
      command: 'insert' | 'delete',
      source: string,
      target: string,
    ): TableRow => ({
      table,
      cells: { Command: command, [ownerColumn.get(table)!]: source, id: target },
    });

    const diffRows = (msg: RowsMsg): RowsMsg => {
      const complete = modes.get(msg.entity) === 'complete';
      const out: TableRow[] = [];
      for (const row of msg.rows) {
        const cells = row.cells;
        if (row.table === OBJECT_TABLE) {
          const id = cells.id!;
          if (cells.Command === 'delete') {
            if (deleteObject.run(id).changes === 0) continue;
            // Its own links go with it (a group's members); links to it come from the owners' rounds.
            for (const t of tablesOf(msg.entity)) {
              for (const target of linksFrom.all(t.table, id) as string[])
                out.push(linkRow(t.table, 'delete', id, target));
              deleteLinksFrom.run(t.table, id);
            }
            out.push(row);
            continue;
          }
          if (complete) seeObject.run(id);
          const hash = cellsHash(cells);
          const before = getObject.get(id) as Buffer | undefined;
          if (before && before.equals(hash)) continue;
          putObject.run(id, msg.entity, hash);
          cells.Command = before ? 'update' : 'insert';
          out.push(row);
          continue;
        }
        const owner = ownerColumn.get(row.table);
        if (owner === undefined) {
          out.push(row);
          continue;
        }
        const source = cells[owner]!;
        const target = cells.id!;
        if (cells.Command === 'delete') {
          if (deleteLink.run(row.table, source, target).changes > 0) out.push(row);
          continue;
        }
        if (complete) seeLink.run(row.table, source, target);
        if (putLink.run(row.table, source, target).changes > 0) {
          cells.Command = 'insert';
          out.push(row);
        }
      }
      return { ...msg, rows: out };
    };

    /** The deletes of a complete round, read back from the snapshot a batch at a time, then the state message. */
    function* endOfRound(entity: EntityName, state: ExportMsg): Generator<ExportMsg> {
      clearGone.run();
      for (const t of tablesOf(entity)) goneLinks.run(t.table);
      goneObjects.run(entity);
      dropGoneLinks.run();
      dropGoneObjects.run();
      for (let after = 0; ;) {
        const batch = readGone.all(after, DELETE_BATCH) as {
          n: number;
          kind: string;
          a: string;
          b: string;
          c: string;
        }[];
        if (!batch.length) break;
        after = batch[batch.length - 1]!.n;
        const rows = batch.map((g) =>
          g.kind === 'l' ? linkRow(g.a, 'delete', g.b, g.c) : deleteRow(entity, g.a),
        );
        const msg: RowsMsg = { kind: 'rows', entity, records: 0, rows, derived: true };
        yield msg;
      }
      clearGone.run();
      yield state;
    }

    return (s) =>
      s.flatMap((msg): Highland.Stream<ExportMsg> => {
        if (msg.kind === 'mode') modes.set(msg.entity, msg.mode);
        else if (msg.kind === 'rows') return _<ExportMsg>([diffRows(msg)]);
        else if (msg.kind === 'state' && modes.get(msg.entity) === 'complete')
          return _<ExportMsg>(endOfRound(msg.entity, msg));
        return _<ExportMsg>([msg]);
      });
  }

  /**
   * The commit point of a run that advances the connection's state: records each round's `$select`
   * and cookie, forgets entities and link tables the mapping no longer exports, notes the run, and
   * commits. Called by commit.ts once every CSV and cookie is in place.
   */
  commit(run: string, rounds: readonly SnapshotRound[], mapping: Mapping, now: Date = new Date()): void {
    const db = this.db;
    const entities = JSON.stringify(rounds.map((r) => r.entity));
    const tables = JSON.stringify(linkTables(mapping).map((t) => t.table));
    db.prepare('DELETE FROM objects WHERE entity NOT IN (SELECT value FROM json_each(?))').run(entities);
    db.prepare('DELETE FROM rounds WHERE entity NOT IN (SELECT value FROM json_each(?))').run(entities);
    db.prepare('DELETE FROM links WHERE link_table NOT IN (SELECT value FROM json_each(?))').run(tables);
    const put = db.prepare(
      'INSERT INTO rounds VALUES (?, ?, ?, ?) ON CONFLICT(entity) DO UPDATE SET select_list = excluded.select_list, cookie_sha256 = excluded.cookie_sha256, committed_at = excluded.committed_at',
    );
    for (const r of rounds) put.run(r.entity, r.select, sha256(r.deltaLink.trim()), now.toISOString());
    const meta = db.prepare(
      'INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    meta.run('run', run);
    meta.run('committed_at', now.toISOString());
    db.exec('COMMIT');
    this.committed = true;
    this.close();
  }

  /** Ends the run's transaction without keeping anything (a run that does not advance, or failed). */
  rollback(): void {
    if (!this.open) return;
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } finally {
      this.close();
    }
  }

  private close(): void {
    if (!this.open) return;
    this.open = false;
    this.db.close();
    // A snapshot this run created and did not commit is no snapshot: leave no empty file behind.
    if (this.created && this.path !== undefined && !this.committed)
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
  }
}
