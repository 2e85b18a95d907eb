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

/** The ids met so far in the complete rounds of a run; `add` is true the first time an id is met. */
export interface SeenIds {
  add(id: string): boolean;
  readonly size: number;
}

export interface RouterOptions {
  mapping: Mapping;
  /** The mode of the entity's current round; asked per record, so a source that falls back to complete can say so. */
  mode: (entity: EntityName) => RoundMode;
  /** Injected for tests; defaults to {@link createSeenIds}. Object ids are unique across entities, so one set serves all rounds. */
  seen?: SeenIds;
  /** Also give each object row its typed `values` (for NDJSON). */
  typed?: boolean;
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
  const last = new Map<EntityName, TableRow>();
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
}): (s: Highland.Stream<ExportMsg>) => Highland.Stream<ExportMsg> {
  const modes = new Map<EntityName, RoundMode>();
  const route = createObjectRouter({
    mapping: options.mapping,
    mode: (entity) => modes.get(entity) ?? 'complete',
    ...(options.seen ? { seen: options.seen } : {}),
    ...(options.typed ? { typed: true } : {}),
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

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Reads `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` into four 32-bit words; false for anything else. */
function parseGuid(id: string, out: Uint32Array): boolean {
  if (id.length !== 36) return false;
  let word = 0;
  let w = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
      continue;
    }
    const v = c < 128 ? HEX[c]! : -1;
    if (v < 0) return false;
    word = (word << 4) | v;
    if (i === 7 || i === 17 || i === 27 || i === 35) {
      out[w++] = word >>> 0;
      word = 0;
    }
  }
  return true;
}

/**
 * A memory-lean set of object ids: a GUID is folded to a 64-bit key (its two halves XORed; Graph's
 * object ids are random GUIDs) kept in open-addressing tables of 32-bit words: 8 bytes a slot, load
 * ≤ 0.75, so 8-16 MB for a million ids where a `Set<string>` takes ~80 MB and churns the GC. The
 * table is split in 256 shards that grow one at a time, so growing never holds two copies of the
 * whole table (flat peak memory). Two ids of one run share a key with probability about n²/2⁶⁵
 * (3·10⁻⁸ for a million): the second would be written as `update` instead of `insert`, which
 * consumers apply as an upsert anyway. Ids that are not GUIDs go to a plain Set.
 */
export function createSeenIds(initialCapacity = 1024): SeenIds {
  const SHARDS = 256;
  let perShard = 16;
  while (perShard * SHARDS < initialCapacity) perShard *= 2;
  const shards = Array.from({ length: SHARDS }, () => ({
    keys: new Uint32Array(perShard * 2),
    capacity: perShard,
    count: 0,
  }));
  let count = 0;
  let zero = false;
  const others = new Set<string>();
  const k = new Uint32Array(4);
  const insert = (shard: (typeof shards)[number], h: number, a: number, b: number): boolean => {
    const mask = shard.capacity - 1;
    let slot = h & mask;
    const keys = shard.keys;
    for (;;) {
      const o = slot * 2;
      const x = keys[o]!;
      const y = keys[o + 1]!;
      if ((x | y) === 0) {
        keys[o] = a;
        keys[o + 1] = b;
        shard.count++;
        return true;
      }
      if (x === a && y === b) return false;
      slot = (slot + 1) & mask;
    }
  };
  const hash = (a: number, b: number): number => {
    const h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x27d4eb2d);
    return (h ^ (h >>> 15)) >>> 0;
  };
  const grow = (shard: (typeof shards)[number]): void => {
    const old = shard.keys;
    shard.capacity *= 2;
    shard.keys = new Uint32Array(shard.capacity * 2);
    shard.count = 0;
    for (let o = 0; o < old.length; o += 2)
      if ((old[o]! | old[o + 1]!) !== 0)
        insert(shard, hash(old[o]!, old[o + 1]!) >>> 8, old[o]!, old[o + 1]!);
  };
  return {
    add(id: string): boolean {
      if (!parseGuid(id, k)) {
        if (others.has(id)) return false;
        others.add(id);
        return true;
      }
      const a = (k[0]! ^ k[2]!) >>> 0;
      const b = (k[1]! ^ k[3]!) >>> 0;
      // The all-zero key marks an empty slot, so the ids folding to it are tracked apart.
      if ((a | b) === 0) return zero ? false : (zero = true);
      const h = hash(a, b);
      const shard = shards[h & 0xff]!;
      if ((shard.count + 1) * 4 > shard.capacity * 3) grow(shard);
      const added = insert(shard, h >>> 8, a, b);
      if (added) count++;
      return added;
    },
    get size() {
      return count + (zero ? 1 : 0) + others.size;
    },
  };
}
