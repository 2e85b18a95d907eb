import _ from 'highland';
import { ToolError } from '../errors.js';
import type { EntityName } from '../graph/schema.js';
import { entityInfo, findProperty } from '../graph/schema.js';
import type { Command, GraphObject, RecordMsg, TableRow } from '../types.js';

/** The object table of every export: `<connection>_directoryobjects.csv`. */
export const OBJECT_TABLE = 'directoryobjects';

/**
 * One CSV cell (DESIGN.md §3): strings as they are, booleans `true`/`false`, numbers as JSON numbers,
 * null or absent → '', arrays and objects → compact JSON. The same encoding is read back by fulfill.
 */
export function encodeCell(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) ? String(value) : '';
    case 'undefined':
      return '';
    case 'object':
      return value === null ? '' : JSON.stringify(value);
    default:
      return String(value);
  }
}

type CellsOf = (record: GraphObject, command: Command, odataType: string) => Record<string, string>;

/** The cells of a record by the template's clone, column by column (names {@link compileCells} cannot take). */
function genericCells(template: Record<string, string>, keys: readonly string[], read: boolean[]): CellsOf {
  return (record, command, odataType) => {
    const cells = { ...template };
    cells['@odata.type'] = odataType;
    cells.Command = command;
    for (let i = 0; i < keys.length; i++) if (read[i]) cells[keys[i]!] = encodeCell(record[keys[i]!]);
    return cells;
  };
}

/**
 * The cells of a record as one generated object literal, `{ "Command": command, "@odata.type":
 * odataType, "mail": enc(r["mail"]), ... }`: the same keys, order and values as {@link genericCells},
 * at about half its CPU (each property read has its own inline cache and the object is born with its
 * final shape, where the generic loop reads and writes 45 names through one megamorphic site). Names
 * enter the code only as JSON string literals, so a column name cannot inject code; `__proto__`, the
 * one name a literal treats differently from a property write, takes the generic path (undefined).
 */
export function compileCells(keys: readonly string[], read: readonly boolean[]): CellsOf | undefined {
  const order = [...new Set(['Command', '@odata.type', ...keys])];
  if (order.includes('__proto__')) return undefined;
  const readSet = new Set(keys.filter((_k, i) => read[i]));
  const fields = order.map((k) => {
    const name = JSON.stringify(k);
    // What the generic path leaves in each cell: a read column's value wins over Command/@odata.type.
    const value = readSet.has(k)
      ? `enc(r[${name}])`
      : k === 'Command'
        ? 'command'
        : k === '@odata.type'
          ? 'odataType'
          : "''";
    return `${name}: ${value}`;
  });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from JSON literals only, see above
  const make = new Function(
    'enc',
    `return function cells(r, command, odataType) {\n  return { ${fields.join(', ')} };\n};`,
  );
  return make(encodeCell) as CellsOf;
}

/** Encodes records into `directoryobjects` rows, see {@link toObjectRow}. */
export type ObjectRowEncoder = (record: GraphObject, command: Command, odataType: string) => TableRow;

/**
 * Builds an encoder for a fixed column list, doing the per-column work once. With `attributes`, only
 * those columns are read from the record and the others stay empty: a group row never shows a `mail`
 * that only the user mapping asked for, whatever Graph sent.
 */
export function createObjectRowEncoder(
  columns: readonly string[],
  attributes?: Iterable<string>,
  options: { typed?: boolean; entity?: EntityName } = {},
): ObjectRowEncoder {
  const wanted = attributes ? new Set(attributes) : undefined;
  const keys = columns.slice();
  const read = keys.map((c) => !wanted || wanted.has(c));
  const idAt = keys.indexOf('id');
  // NDJSON: the entity's own columns only, in the CSV's order, with Graph's JSON values.
  const own = keys.filter((_k, i) => read[i]);
  // Graph leaves a never-set collection out of delta pages: NDJSON gives it as [] (the schema's type).
  const isCollection = own.map(
    (k) => (options.entity && findProperty(options.entity, k)?.isCollection) === true,
  );
  const typed = options.typed === true;
  // Filling a fresh object key by key puts it in V8's slow dictionary mode (measured 2x slower for 45
  // columns); a clone of a JSON.parse'd template keeps fast properties and the column order.
  const template = JSON.parse(
    JSON.stringify(Object.fromEntries(['Command', '@odata.type', ...keys].map((k) => [k, '']))),
  ) as Record<string, string>;
  const cellsOf = compileCells(keys, read) ?? genericCells(template, keys, read);
  return (record, command, odataType) => {
    if (record['@removed'] !== undefined) {
      const cells = { ...template };
      cells['@odata.type'] = odataType;
      cells.Command = 'delete';
      if (idAt >= 0) cells[keys[idAt]!] = record.id;
      // Graph sends only the id of a deleted object: its other values are unknown, not null.
      return typed
        ? { table: OBJECT_TABLE, cells, values: { id: record.id } }
        : { table: OBJECT_TABLE, cells };
    }
    const cells = cellsOf(record, command, odataType);
    if (!typed) return { table: OBJECT_TABLE, cells };
    const values: Record<string, unknown> = {};
    for (let i = 0; i < own.length; i++) values[own[i]!] = record[own[i]!] ?? (isCollection[i] ? [] : null);
    return { table: OBJECT_TABLE, cells, values };
  };
}

/**
 * A `directoryobjects` row: `Command`, `@odata.type`, then every column (empty when absent). A record
 * with `@removed` gives a `delete` row carrying its id only. For one-off rows; hot paths build a
 * {@link createObjectRowEncoder} once.
 * @example toObjectRow({ id: '1', mail: 'a@b' }, 'insert', ['id', 'mail'], '#microsoft.graph.user')
 */
export function toObjectRow(
  record: GraphObject,
  command: Command,
  columns: readonly string[],
  odataType: string,
): TableRow {
  return createObjectRowEncoder(columns)(record, command, odataType);
}

/**
 * Lifts a per-record function returning rows into a highland transform, pushing rows one by one (no
 * per-record sub-stream) and turning a throw into a stream error.
 */
export function throughRows<T>(
  fn: (x: T) => readonly TableRow[] | undefined,
): (s: Highland.Stream<T>) => Highland.Stream<TableRow> {
  return (s) =>
    s.consume<TableRow>((err, x, push, next) => {
      if (err) {
        push(err);
        next();
      } else if (_.isNil(x)) {
        push(null, x);
      } else {
        try {
          const rows = fn(x);
          if (rows) for (const row of rows) push(null, row);
        } catch (error) {
          push(error as Error);
        }
        next();
      }
    });
}

/**
 * Stream form of {@link toObjectRow} with one command for every record; `@odata.type` comes from the
 * record, or from the entity that produced it when Graph omits it (as per-type delta such as /users/delta does).
 */
export function toObjectRows(options: {
  columns: readonly string[];
  command: Command;
}): (s: Highland.Stream<RecordMsg>) => Highland.Stream<TableRow> {
  const { columns, command } = options;
  if (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string'))
    throw new ToolError(
      'ERR_INVALID_OPTION',
      `columns: expected an array of names, got ${JSON.stringify(columns)}`,
    );
  if (command !== 'insert' && command !== 'update' && command !== 'delete')
    throw new ToolError(
      'ERR_INVALID_OPTION',
      `command: expected insert, update or delete, got ${JSON.stringify(command)}`,
    );
  const encode = createObjectRowEncoder(columns);
  const types = new Map<EntityName, string>();
  return throughRows((msg: RecordMsg) => {
    let type = msg.record['@odata.type'];
    if (type === undefined) {
      type = types.get(msg.entity);
      if (type === undefined) types.set(msg.entity, (type = entityInfo(msg.entity).odataType));
    }
    return [encode(msg.record, command, type)];
  });
}
