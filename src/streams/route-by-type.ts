import { ToolError } from '../errors.js';
import { entityFromOdataType, entityInfo, type EntityName } from '../graph/schema.js';
import { directoryObjectColumns, linkTables, type Mapping } from '../settings/mapping.js';
import { LINKS_ONLY, type Command, type DeltaMsg, type RecordMsg, type TableRow } from '../types.js';
import { createObjectRowEncoder, OBJECT_TABLE, throughRows, type ObjectRowEncoder } from './encode-row.js';
import { createNavigationSplitter, type NavigationSplitter } from './split-navigation.js';

/** A complete round (no usable cookie) or an incremental one (from a cookie), per entity. */
export type RoundMode = 'complete' | 'incremental';

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
}

/** The tables an export writes and their headers (DESIGN.md §3). */
export function exportTables(mapping: Mapping): { table: string; columns: string[] }[] {
  return [
    { table: OBJECT_TABLE, columns: ['Command', '@odata.type', ...directoryObjectColumns(mapping)] },
    ...linkTables(mapping).map((l) => ({ table: l.table, columns: ['Command', l.ownerColumn, 'id'] })),
  ];
}

interface Plan {
  odataType: string;
  encode: ObjectRowEncoder;
  splitters: NavigationSplitter[];
}

/**
 * The router: one record in, its `directoryobjects` row and its link rows out. `@odata.type` is Graph's
 * when present, else the entity's (per-type delta such as /users/delta omits it). Commands: `@removed` →
 * delete; incremental round → update; complete round → insert the first time an id is met, update on a
 * repeat (Graph may send an object several times in a round; later data wins for in-order consumers).
 */
export function createRouter(options: RouterOptions): (msg: RecordMsg) => TableRow[] {
  const { mapping, mode } = options;
  if (!mapping || !Array.isArray(mapping.entities) || mapping.entities.length === 0)
    throw new ToolError('ERR_INVALID_OPTION', 'mapping: expected a Mapping with at least one entity');
  if (typeof mode !== 'function')
    throw new ToolError('ERR_INVALID_OPTION', `mode: expected a function, got ${typeof mode}`);
  const columns = directoryObjectColumns(mapping);
  const plans = new Map<EntityName, Plan>();
  for (const m of mapping.entities) {
    plans.set(m.entity, {
      odataType: entityInfo(m.entity).odataType,
      encode: createObjectRowEncoder(columns, m.attributes),
      splitters: m.navigations.map((n) => createNavigationSplitter(n, m.entity)),
    });
  }
  // Parsing '#microsoft.graph.x' once per distinct type, not per record.
  const typeToEntity = new Map<string, EntityName | undefined>();
  let seen = options.seen;
  const last = new Map<EntityName, TableRow>();
  return (msg) => {
    const record = msg.record;
    const type = record['@odata.type'];
    let plan: Plan | undefined;
    if (type !== undefined) {
      let entity = typeToEntity.get(type);
      if (entity === undefined && !typeToEntity.has(type))
        typeToEntity.set(type, (entity = entityFromOdataType(type)));
      if (entity !== undefined) plan = plans.get(entity);
    }
    plan ??= plans.get(msg.entity);
    if (!plan)
      throw new ToolError(
        'ERR_UNMAPPED_ENTITY',
        `a ${msg.entity} record reached the router, but the mapping does not export ${msg.entity}`,
      );
    if (typeof record.id !== 'string' || record.id === '')
      throw new ToolError('ERR_GRAPH_PAYLOAD', `malformed delta page: a ${msg.entity} record without an id`);
    let command: Command;
    if (record['@removed'] !== undefined) command = 'delete';
    else if (mode(msg.entity) === 'incremental') command = 'update';
    else command = (seen ??= createSeenIds()).add(record.id) ? 'insert' : 'update';
    const objectRow = plan.encode(record, command, type ?? plan.odataType);
    const previous = last.get(msg.entity);
    // Graph repeats a large group on the next page with the next slice of its members, same property
    // values (delta-query-groups.md): the repeat adds links, not another identical object row.
    const repeat =
      record[LINKS_ONLY] === true ||
      (previous !== undefined && previous.cells.id === record.id && sameObject(previous, objectRow));
    const rows = repeat ? [] : [objectRow];
    last.set(msg.entity, objectRow);
    for (const split of plan.splitters) for (const row of split(record)) rows.push(row);
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

/** Stream form of {@link createRouter}; state messages are dropped (the cookie sink takes them from its own fork). */
export function routeByTypeStream(
  options: RouterOptions,
): <T extends DeltaMsg>(s: Highland.Stream<T>) => Highland.Stream<TableRow> {
  const route = createRouter(options);
  return <T extends DeltaMsg>(s: Highland.Stream<T>) =>
    throughRows((msg: T) => (msg.kind === 'record' ? route(msg) : undefined))(s);
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
