import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { csvObjects, runExport, type Harness } from './export-harness.js';

/** Users with displayName and mail, groups with displayName, members and owners. */
export const SELECT = ['user=displayName,mail', 'group=displayName,members,owners'];
export const TABLES = ['directoryobjects', 'members_group', 'owners_group'] as const;

/** What a consumer of the `--diff` files holds: objects by id (their cells), and links. */
export interface Model {
  objects: Map<string, string>;
  links: Set<string>;
}

/** The model as sorted lines, for a readable comparison. */
export const lines = (m: Model) => [...[...m.objects].map(([id, c]) => `${id} ${c}`), ...m.links].sort();

const cellsOf = (row: Record<string, string>) => JSON.stringify({ ...row, Command: undefined });

/**
 * Applies one run's files to the consumer's model, refusing anything that is not an exact change: an
 * insert of a known object or link, an update of an unknown object or one that changes nothing, a
 * delete of an unknown object or link.
 */
export async function apply(
  h: Harness,
  model: Model,
  where = '',
  tables: readonly string[] = TABLES,
): Promise<void> {
  for (const table of tables) {
    for (const row of csvObjects(await h.read(table))) {
      const what = `${where} ${table} ${JSON.stringify(row)}`;
      if (table === 'directoryobjects') {
        const known = model.objects.get(row.id!);
        if (row.Command === 'insert') assert.is(known, undefined, `insert of a known object: ${what}`);
        if (row.Command === 'update') {
          assert.ok(known, `update of an unknown object: ${what}`);
          assert.is.not(known, cellsOf(row), `update that changes nothing: ${what}`);
        }
        if (row.Command === 'delete') {
          assert.ok(known, `delete of an unknown object: ${what}`);
          model.objects.delete(row.id!);
        } else model.objects.set(row.id!, cellsOf(row));
      } else {
        const key = `${table} ${row.groupId} ${row.id}`;
        if (row.Command === 'insert') {
          assert.not.ok(model.links.has(key), `insert of a known link: ${what}`);
          model.links.add(key);
        } else {
          assert.is(row.Command, 'delete', what);
          assert.ok(model.links.delete(key), `delete of an unknown link: ${what}`);
        }
      }
    }
  }
}

/** The tenant as a complete export of it says, into folders of its own. */
export async function truth(
  h: Harness,
  select: string[] = SELECT,
  tables: readonly string[] = TABLES,
): Promise<Model> {
  const out = join(h.dir, 'truth');
  const r = await runExport({
    settings: h.settingsFile,
    ca: h.caFile,
    output: out,
    cookies: join(h.dir, 'truth-cookies'),
    ignoreCookies: true,
    select,
  });
  assert.is(r.code, 0, r.stderr);
  const model: Model = { objects: new Map(), links: new Set() };
  for (const table of tables)
    for (const row of csvObjects(await readFile(join(out, `Contoso_${table}.csv`), 'utf8')))
      if (table === 'directoryobjects') model.objects.set(row.id!, cellsOf(row));
      else model.links.add(`${table} ${row.groupId} ${row.id}`);
  return model;
}
