/**
 * The benchmark's baseline export: the same job written the way a competent user would write it
 * with the official Microsoft Graph JavaScript SDK: a PageIterator per entity over its delta query,
 * one entity after the other, rows written with csv-stringify. It produces the same files as
 * `entra export` (same tables, columns, cell encoding), so that the outputs can be compared.
 *
 *   node --import tsx bench/baseline-export.ts SETTINGS_JSON OUTPUT_DIR [DELTA_LINKS_JSON]
 * With DELTA_LINKS_JSON, an existing file's deltaLinks start incremental rounds, and the new ones are
 * saved there at the end.
 * Trusts the emulator's CA through NODE_EXTRA_CA_CERTS, like any Node program would.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { stringify } from 'csv-stringify';
import { graphSdkClient } from './baseline-client.js';

const [settingsPath, outDir, deltaLinksPath] = process.argv.slice(2);
if (!settingsPath || !outDir) throw new Error('usage: baseline-export.ts SETTINGS_JSON OUTPUT_DIR');
const { name, client } = graphSdkClient(settingsPath);

// The default attribute sets of `entra export` (src/settings/mapping.ts), so the files match.
const { DEFAULT_ATTRIBUTES } = await import('../src/settings/mapping.js');
const attributes = (list: readonly string[]) => list.filter((a) => a !== 'members' && a !== 'owners');
const entities: [string, string, string[], string[]][] = [
  ['user', 'users', attributes(DEFAULT_ATTRIBUTES.user), []],
  ['group', 'groups', attributes(DEFAULT_ATTRIBUTES.group), ['members', 'owners']],
  ['directoryRole', 'directoryRoles', attributes(DEFAULT_ATTRIBUTES.directoryRole), ['members']],
  ['servicePrincipal', 'servicePrincipals', attributes(DEFAULT_ATTRIBUTES.servicePrincipal), []],
];
const columns = [...new Set(['id', ...entities.flatMap((e) => e[2])])].sort((a, b) => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
});

mkdirSync(outDir, { recursive: true });
const files: Promise<unknown>[] = [];
const open = (table: string, header: string[]) => {
  const s = stringify({ header: true, columns: header, record_delimiter: '\n' });
  const file = createWriteStream(join(outDir, `${name}_${table}.csv`));
  files.push(new Promise<void>((r) => file.on('finish', () => r())));
  s.pipe(file);
  return s;
};
const cell = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
const objects = open('directoryobjects', ['Command', '@odata.type', ...columns]);
const links = new Map<string, ReturnType<typeof open>>();
for (const [entity, , , navs] of entities)
  for (const nav of navs)
    links.set(`${nav}_${entity}`, open(`${nav}_${entity}`, ['Command', `${entity}Id`, 'id']));

let rows = 0;
const seen = new Set<string>();
const previous: Record<string, string> =
  deltaLinksPath && existsSync(deltaLinksPath) ? JSON.parse(readFileSync(deltaLinksPath, 'utf8')) : {};
const next: Record<string, string> = {};

function writeLinks(entity: string, navs: string[], item: Record<string, any>): void {
  for (const nav of navs)
    for (const link of (item[`${nav}@delta`] ?? []) as Record<string, unknown>[]) {
      links
        .get(`${nav}_${entity}`)!
        .write({ Command: link['@removed'] ? 'delete' : 'insert', [`${entity}Id`]: item.id, id: link.id });
      rows++;
    }
}

for (const [entity, collection, attributes, navs] of entities) {
  const incremental = previous[entity] !== undefined;
  const response = (
    incremental
      ? await client.api(previous[entity]!).get()
      : await client
          .api(`/${collection}/delta`)
          .select([...attributes, ...navs])
          .get()
  ) as PageCollection;
  const iterator = new PageIterator(client, response, (item: Record<string, any>) => {
    const repeat = seen.has(item.id);
    seen.add(item.id);
    const command = item['@removed'] ? 'delete' : incremental ? 'update' : 'insert';
    // A large group comes back with its next slice of members: write the object once.
    if (repeat && command !== 'delete') {
      writeLinks(entity, navs, item);
      return true;
    }
    const row: Record<string, string> = {
      Command: command,
      '@odata.type': item['@odata.type'] ?? `#microsoft.graph.${entity}`,
    };
    if (command === 'delete') row.id = item.id;
    else
      for (const col of columns) row[col] = attributes.includes(col) || col === 'id' ? cell(item[col]) : '';
    objects.write(row);
    rows++;
    writeLinks(entity, navs, item);
    return true;
  });
  await iterator.iterate();
  const link = iterator.getDeltaLink();
  if (link) next[entity] = link;
}
if (deltaLinksPath) writeFileSync(deltaLinksPath, JSON.stringify(next));
for (const s of [objects, ...links.values()]) s.end();
await Promise.all(files);
process.stdout.write(`${JSON.stringify({ rows })}\n`);
