import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The number of objects in a connection's previous state: the rows of the `objects` table of its
 * snapshot (`<cookies>/<connection>_snapshot.sqlite`), read-only; undefined when it has none. The base
 * of a percentage `--max-deletes` on export.
 */
export function snapshotObjectCount(cookieDir: string, connection: string): number | undefined {
  const path = join(cookieDir, `${connection}_snapshot.sqlite`);
  if (!existsSync(path)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'objects'").get();
    if (!table) return undefined;
    return (db.prepare('SELECT count(*) AS n FROM objects').get() as { n: number }).n;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}
