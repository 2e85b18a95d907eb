import { ToolError } from '../errors.js';
import { entityFromOdataType, entityInfo, type EntityName } from '../graph/schema.js';
import type { Mapping } from '../types.js';
import { directoryObjectColumns } from './export-tables.js';
import {
  LINKS_ONLY,
  type Command,
  type ExportMsg,
  type GraphObject,
  type RecordMsg,
  type RoundMode,
  type RoutedMsg,
  type TableRow,
} from '../types.js';
import { createObjectRowEncoder, type ObjectRowEncoder } from './encode-row.js';
import { createSplitters } from './split-navigation.js';

export type { RoundMode } from '../types.js';

import { createSeenIds, type SeenIds } from './seen-ids.js';

export { createSeenIds, type SeenIds } from './seen-ids.js';

export interface RouterOptions {
  mapping: Mapping;
  /** The mode of the entity's current round; asked per record, so a source that falls back to complete can say so. */
  mode: (entity: EntityName) => RoundMode;
  /** Injected for tests; defaults to {@link createSeenIds}. Object ids are unique across entities, so one set serves all rounds. */
  seen?: SeenIds;
  /** Also give each object row its typed `values` (for NDJSON). */
  typed?: boolean;
  /** Each round's last object row, for a resumed round (its repeat on the next page is not written again). */
  last?: Map<EntityName, TableRow>;
  /**
   * Rounds (of a complete mode) whose objects come each in one chain of pages, resumed mid-way from a
   * checkpoint: an id met again only carries more links (its object row is written already).
   */
  linksOnlyRepeats?: ReadonlySet<EntityName>;
}

export { exportTables } from './export-tables.js';

/**
 * The object half of the router, for one record: the entity whose mapping it follows (Graph's
 * `@odata.type` when present, else the round's entity) and its `directoryobjects` row, or none for a
 * repeat that only carries more links. The answer is one object reused by every call (the export's hot
 * path): read it before the next call.
 */
export type ObjectRouter = (
  entity: EntityName,
  record: GraphObject,
) => { readonly owner: EntityName; readonly row: TableRow | undefined };

/**
 * Builds the object half of the router. Commands: `@removed` → delete; incremental round → update;
 * complete round → insert the first time an id is met, update on a repeat (Graph may send an object
 * several times in a round; later data wins for in-order consumers).
 */
export function createObjectRouter(options: RouterOptions): ObjectRouter {
  const { mapping, mode } = options;
  if (!mapping || !Array.isArray(mapping.entities) || mapping.entities.length === 0)
    throw new ToolError('ERR_INVALID_OPTION', 'mapping: expected a Mapping with at least one entity');
  if (typeof mode !== 'function')
    throw new ToolError('ERR_INVALID_OPTION', `mode: expected a function, got ${typeof mode}`);
  const columns = directoryObjectColumns(mapping);
  const plans = new Map<EntityName, { odataType: string; encode: ObjectRowEncoder }>();
  for (const m of mapping.entities)
    plans.set(m.entity, {
      odataType: entityInfo(m.entity).odataType,
      encode: createObjectRowEncoder(columns, m.attributes, {
        typed: options.typed === true,
        entity: m.entity,
      }),
    });
  // Parsing '#microsoft.graph.x' once per distinct type, not per record.
  const typeToEntity = new Map<string, EntityName | undefined>();
  let seen = options.seen;
  const last = options.last ?? new Map<EntityName, TableRow>();
  const linksOnlyRepeats = options.linksOnlyRepeats;
  const out: { owner: EntityName; row: TableRow | undefined } = { owner: 'user', row: undefined };
  return (entity, record) => {
    const type = record['@odata.type'];
    let owner: EntityName | undefined;
    if (type !== undefined) {
      owner = typeToEntity.get(type);
      if (owner === undefined && !typeToEntity.has(type))
        typeToEntity.set(type, (owner = entityFromOdataType(type)));
      if (owner !== undefined && !plans.has(owner)) owner = undefined;
    }
    owner ??= entity;
    const plan = plans.get(owner);
    if (!plan)
      throw new ToolError(
        'ERR_UNMAPPED_ENTITY',
        `a ${entity} record reached the router, but the mapping does not export ${entity}`,
      );
    if (typeof record.id !== 'string' || record.id === '')
      throw new ToolError('ERR_GRAPH_PAYLOAD', `malformed delta page: a ${entity} record without an id`);
    let command: Command;
    if (record['@removed'] !== undefined) command = 'delete';
    else if (mode(entity) === 'incremental') command = 'update';
    else command = (seen ??= createSeenIds()).add(record.id) ? 'insert' : 'update';
    const objectRow = plan.encode(record, command, type ?? plan.odataType);
    const previous = last.get(entity);
    // Graph repeats a large group on the next page with the next slice of its members, same property
    // values (delta-query-groups.md): the repeat adds links, not another identical object row.
    const repeat =
      record[LINKS_ONLY] === true ||
      (command === 'update' && mode(entity) === 'complete' && linksOnlyRepeats?.has(entity) === true) ||
      (previous !== undefined && previous.cells.id === record.id && sameObject(previous, objectRow));
    last.set(entity, objectRow);
    out.owner = owner;
    out.row = repeat ? undefined : objectRow;
    return out;
  };
}

/**
 * The router: one record in, its `directoryobjects` row and its link rows out: {@link createObjectRouter}
 * followed by the navigation splitters of the record's entity (split-navigation.ts).
 */
export function createRouter(options: RouterOptions): (msg: RecordMsg) => TableRow[] {
  const route = createObjectRouter(options);
  const split = createSplitters(options.mapping);
  return (msg) => {
    const { owner, row } = route(msg.entity, msg.record);
    const rows = row ? [row] : [];
    for (const r of split(owner, msg.record)) rows.push(r);
    return rows;
  };
}

/** Same object data, whatever the Command (a repeat of an inserted object is encoded as an update). */
function sameObject(a: TableRow, b: TableRow): boolean {
  if (a.cells.Command === 'delete' || b.cells.Command === 'delete')
    return a.cells.Command === b.cells.Command;
  for (const key in b.cells) if (key !== 'Command' && a.cells[key] !== b.cells[key]) return false;
  return true;
}

/**
 * The router stage of the export: each page of a delta source becomes a routed page (see
 * {@link RoutedMsg}); mode and state messages pass on to the splitters and the cookie stage. The
 * router follows each round's mode from the stream's own mode messages (a source that falls back to
 * a complete round says so before its first page).
 */
export function routeByTypeStream(options: {
  mapping: Mapping;
  seen?: SeenIds;
  typed?: boolean;
  last?: Map<EntityName, TableRow>;
  linksOnlyRepeats?: ReadonlySet<EntityName>;
}): (s: Highland.Stream<ExportMsg>) => Highland.Stream<ExportMsg> {
  const modes = new Map<EntityName, RoundMode>();
  const route = createObjectRouter({
    mapping: options.mapping,
    mode: (entity) => modes.get(entity) ?? 'complete',
    ...(options.seen ? { seen: options.seen } : {}),
    ...(options.typed ? { typed: true } : {}),
    ...(options.last ? { last: options.last } : {}),
    ...(options.linksOnlyRepeats ? { linksOnlyRepeats: options.linksOnlyRepeats } : {}),
  });
  return (s) =>
    s.map((msg): ExportMsg => {
      if (msg.kind === 'mode') modes.set(msg.entity, msg.mode);
      if (msg.kind !== 'page') return msg;
      const { entity, records } = msg;
      const owners = new Array<EntityName>(records.length);
      const rows = new Array<TableRow | undefined>(records.length);
      for (let i = 0; i < records.length; i++) {
        const routed = route(entity, records[i]!);
        owners[i] = routed.owner;
        rows[i] = routed.row;
      }
      const routedMsg: RoutedMsg = { kind: 'routed', entity, records, owners, rows };
      return routedMsg;
    });
}
