import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  compileCells,
  createObjectRowEncoder,
  encodeCell,
  throughRows,
  toObjectRow,
  toObjectRows,
} from '../../src/streams/encode-row.js';
import type { RecordMsg } from '../../src/types.js';
import { collect, fromArray } from '../helpers/streams.js';

const EncodeCell = suite('encodeCell');

EncodeCell('encodeCell(value) follows the DESIGN §3 cell encoding', () => {
  assert.is(encodeCell('Adele Vance'), 'Adele Vance');
  assert.is(encodeCell(''), '');
  assert.is(encodeCell(' spaced, "quoted"\n'), ' spaced, "quoted"\n');
  assert.is(encodeCell(true), 'true');
  assert.is(encodeCell(false), 'false');
  assert.is(encodeCell(0), '0');
  assert.is(encodeCell(-1.5), '-1.5');
  assert.is(encodeCell(1e21), '1e+21');
  assert.is(encodeCell(null), '');
  assert.is(encodeCell(undefined), '');
  assert.is(encodeCell(['+1 425 555 0109']), '["+1 425 555 0109"]');
  assert.is(encodeCell([]), '[]');
  assert.is(encodeCell({ costCenter: 'CC-1', division: null }), '{"costCenter":"CC-1","division":null}');
  assert.is(encodeCell(['é', { a: [1, true] }]), '["é",{"a":[1,true]}]');
});

EncodeCell.run();

// ---

const CompileCells = suite('compileCells');

CompileCells('compiled cells have the keys, order and values of the generic encoder', () => {
  // Odd names on purpose: quotes, backslash, a line separator, a number, an Object.prototype name,
  // and a column that shadows Command.
  const columns = ['id', 'mail', 'a"b', 'back\\slash', 'x\u2028y', '7', 'constructor', 'Command', 'skip'];
  const attributes = columns.filter((c) => c !== 'skip');
  const encode = createObjectRowEncoder(columns, attributes);
  const record = {
    id: 'u1',
    mail: 'a@b, "c"',
    'a"b': 'q',
    'back\\slash': true,
    'x\u2028y': 3.5,
    '7': ['x', 'y'],
    skip: 'never read',
    Command: 'from Graph',
  };
  const row = encode(record, 'insert', '#microsoft.graph.user');
  // What the clone of the template and column-by-column writes gave.
  const template: Record<string, string> = JSON.parse(
    JSON.stringify(Object.fromEntries(['Command', '@odata.type', ...columns].map((k) => [k, '']))),
  );
  const generic = { ...template };
  generic['@odata.type'] = '#microsoft.graph.user';
  generic.Command = 'insert';
  for (const c of attributes) generic[c] = encodeCell((record as Record<string, unknown>)[c]);
  assert.equal(Object.keys(row.cells), Object.keys(generic));
  assert.equal(row.cells, generic);
  assert.is(row.cells.Command, 'from Graph', 'a read column named Command wins, as before');
  assert.is(row.cells.constructor, encodeCell(Object.prototype.constructor));
  assert.is(row.cells.skip, '');
});

CompileCells('compileCells() declines __proto__, which the generic path writes as an own property', () => {
  assert.is(compileCells(['id', '__proto__'], [true, true]), undefined);
  const row = createObjectRowEncoder(['id', '__proto__'])({ id: 'u1' }, 'insert', '#microsoft.graph.user');
  assert.equal(Object.keys(row.cells), ['Command', '@odata.type', 'id', '__proto__']);
  assert.is(Object.getPrototypeOf(row.cells), Object.prototype);
});

CompileCells.run();

// ---

const ToObjectRow = suite('toObjectRow');

const columns = ['accountEnabled', 'businessPhones', 'id', 'mail'];

ToObjectRow('toObjectRow(record) gives Command, @odata.type and every column in order', () => {
  const row = toObjectRow(
    { id: 'u1', accountEnabled: true, businessPhones: ['+1 425 555 0109'], surname: 'not a column' },
    'insert',
    columns,
    '#microsoft.graph.user',
  );
  assert.is(row.table, 'directoryobjects');
  assert.equal(Object.entries(row.cells), [
    ['Command', 'insert'],
    ['@odata.type', '#microsoft.graph.user'],
    ['accountEnabled', 'true'],
    ['businessPhones', '["+1 425 555 0109"]'],
    ['id', 'u1'],
    ['mail', ''],
  ]);
});

ToObjectRow('toObjectRow(@removed record) gives a delete row with the id only', () => {
  const row = toObjectRow(
    { id: 'u2', mail: 'x@y', '@removed': { reason: 'changed' } },
    'update',
    columns,
    '#microsoft.graph.user',
  );
  assert.equal(row.cells, {
    Command: 'delete',
    '@odata.type': '#microsoft.graph.user',
    accountEnabled: '',
    businessPhones: '',
    id: 'u2',
    mail: '',
  });
});

ToObjectRow('createObjectRowEncoder(columns, attributes) leaves other entities’ columns empty', () => {
  const encode = createObjectRowEncoder(columns, ['id', 'mail']);
  const row = encode({ id: 'g1', mail: 'g@x', accountEnabled: true }, 'insert', '#microsoft.graph.group');
  assert.is(row.cells.mail, 'g@x');
  assert.is(row.cells.accountEnabled, '');
});

ToObjectRow.run();

// ---

const Streams = suite('toObjectRows / throughRows');

Streams('toObjectRows() fills @odata.type from the entity when Graph omits it', async () => {
  const msgs: RecordMsg[] = [
    { kind: 'record', entity: 'user', record: { id: 'u1', mail: 'a@b' } },
    { kind: 'record', entity: 'user', record: { id: 'u2', '@odata.type': '#microsoft.graph.user' } },
  ];
  const rows = await collect(
    fromArray(msgs).through(toObjectRows({ columns: ['id', 'mail'], command: 'update' })),
  );
  assert.equal(
    rows.map((r) => Object.values(r.cells).join(',')),
    ['update,#microsoft.graph.user,u1,a@b', 'update,#microsoft.graph.user,u2,'],
  );
});

Streams('toObjectRows(bad options) fails with ERR_INVALID_OPTION', () => {
  for (const options of [
    { columns: 'id' as unknown as string[], command: 'insert' as const },
    { columns: ['id'], command: 'upsert' as 'insert' },
  ]) {
    try {
      toObjectRows(options);
      assert.unreachable();
    } catch (error) {
      assert.is((error as { code: string }).code, 'ERR_INVALID_OPTION');
    }
  }
});

Streams('throughRows(fn) turns a throw into a stream error', async () => {
  const boom = throughRows<number>(() => {
    throw new Error('boom');
  });
  try {
    await collect(fromArray([1]).through(boom));
    assert.unreachable();
  } catch (error) {
    assert.is((error as Error).message, 'boom');
  }
});

Streams.run();
