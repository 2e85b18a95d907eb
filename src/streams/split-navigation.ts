import { ToolError } from '../errors.js';
import { entityInfo, isEntityName, type EntityName } from '../graph/schema.js';
import type { ExportMsg, GraphObject, Mapping, RowsMsg, TableRow } from '../types.js';

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
 * Every splitter of a mapping, by entity: `(entity, record)` → the link rows of all the entity's
 * exported navigations, in mapping order (a shared empty array for an entity without any: read only).
 */
export function createSplitters(mapping: Mapping): (entity: EntityName, record: GraphObject) => TableRow[] {
  const byEntity = new Map<EntityName, NavigationSplitter[]>();
  for (const m of mapping.entities)
    byEntity.set(
      m.entity,
      m.navigations.map((n) => createNavigationSplitter(n, m.entity)),
    );
  const none: TableRow[] = [];
  return (entity, record) => {
    const splitters = byEntity.get(entity);
    if (!splitters?.length) return none;
    if (splitters.length === 1) return splitters[0]!(record);
    return splitters.flatMap((split) => split(record));
  };
}

/**
 * The splitter stage of the export: each routed page becomes its table rows, every record's object
 * row followed by its link rows (members@delta, owners@delta), so that a table's rows keep Graph's
 * order. Mode and state messages pass on to the cookie stage.
 * @example source.through(routeByTypeStream({ mapping })).through(splitNavigationStream({ mapping }))
 */
export function splitNavigationStream(options: {
  mapping: Mapping;
}): (s: Highland.Stream<ExportMsg>) => Highland.Stream<ExportMsg> {
  const { mapping } = options;
  if (!mapping || !Array.isArray(mapping.entities))
    throw new ToolError('ERR_INVALID_OPTION', 'mapping: expected a Mapping');
  for (const m of mapping.entities) {
    if (!isEntityName(m.entity))
      throw new ToolError('ERR_INVALID_OPTION', `mapping: unknown entity ${JSON.stringify(m.entity)}`);
    for (const navigation of m.navigations)
      if (!entityInfo(m.entity).linkNavigations.includes(navigation))
        throw new ToolError(
          'ERR_INVALID_OPTION',
          `mapping: ${JSON.stringify(navigation)} is not a link navigation of ${m.entity}`,
        );
  }
  const split = createSplitters(mapping);
  return (s) =>
    s.map((msg): ExportMsg => {
      if (msg.kind !== 'routed') return msg;
      const { records, owners, rows: objectRows } = msg;
      const rows: TableRow[] = [];
      for (let i = 0; i < records.length; i++) {
        const row = objectRows[i];
        if (row) rows.push(row);
        for (const link of split(owners[i]!, records[i]!)) rows.push(link);
      }
      const rowsMsg: RowsMsg = { kind: 'rows', entity: msg.entity, records: records.length, rows };
      return rowsMsg;
    });
}

function payloadError(message: string): ToolError {
  return new ToolError('ERR_GRAPH_PAYLOAD', `malformed delta page: ${message}`);
}
