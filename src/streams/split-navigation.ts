import { ToolError } from '../errors.js';
import { entityInfo, isEntityName, type EntityName } from '../graph/schema.js';
import type { GraphObject, RecordMsg, TableRow } from '../types.js';
import { throughRows } from './encode-row.js';

/** Turns one record into the link rows of one navigation, see {@link splitNavigation}. */
export type NavigationSplitter = (record: GraphObject) => TableRow[];

/**
 * Builds a splitter for `<navigation>@delta` of an entity, with the table and column names worked
 * out once: table `<navigation>_<entity>` (e.g. `members_group`), cells `Command`, `<entity>Id`, `id`.
 */
export function createNavigationSplitter(navigation: string, entity: EntityName): NavigationSplitter {
  const property = `${navigation}@delta`;
  const table = `${navigation}_${entity}`;
  const ownerColumn = `${entity}Id`;
  return (record) => {
    const entries = record[property];
    if (entries === undefined || entries === null) return [];
    if (!Array.isArray(entries)) throw payloadError(`${property} of ${entity} ${record.id} is not an array`);
    const rows: TableRow[] = new Array<TableRow>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Partial<GraphObject> | null;
      if (typeof entry?.id !== 'string' || entry.id === '')
        throw payloadError(`${property} of ${entity} ${record.id} holds an entry without an id`);
      // Any @removed means "not linked any more", whatever its reason (graph-protocol.md §3.2).
      const command = entry['@removed'] === undefined ? 'insert' : 'delete';
      rows[i] = { table, cells: { Command: command, [ownerColumn]: record.id, id: entry.id } };
    }
    return rows;
  };
}

/**
 * The link rows of one navigation of a record: `insert` per linked id, `delete` for entries with
 * `@removed`. A large group arrives several times with different slices; each slice yields its rows.
 * @example splitNavigation({ id: 'g1', 'members@delta': [{ id: 'u1' }] }, 'members', 'group')
 *   // → [{ table: 'members_group', cells: { Command: 'insert', groupId: 'g1', id: 'u1' } }]
 */
export function splitNavigation(record: GraphObject, navigation: string, entity: EntityName): TableRow[] {
  return createNavigationSplitter(navigation, entity)(record);
}

/**
 * Stream form of {@link splitNavigation}: the link rows of `navigation` for records of `entity`;
 * records of other entities give nothing.
 */
export function splitNavigationStream(options: {
  navigation: string;
  entity: EntityName;
}): (s: Highland.Stream<RecordMsg>) => Highland.Stream<TableRow> {
  const { navigation, entity } = options;
  if (!isEntityName(entity))
    throw new ToolError('ERR_INVALID_OPTION', `entity: unknown entity ${JSON.stringify(entity)}`);
  if (!entityInfo(entity).linkNavigations.includes(navigation))
    throw new ToolError(
      'ERR_INVALID_OPTION',
      `navigation: ${JSON.stringify(navigation)} is not a link navigation of ${entity}`,
    );
  const split = createNavigationSplitter(navigation, entity);
  return throughRows((msg: RecordMsg) => (msg.entity === entity ? split(msg.record) : undefined));
}

function payloadError(message: string): ToolError {
  return new ToolError('ERR_GRAPH_PAYLOAD', `malformed delta page: ${message}`);
}
