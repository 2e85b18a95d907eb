import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveMapping } from '../../src/settings/mapping.js';
import {
  CSV_OPTIONS,
  createCsvStdoutWriter,
  createNdjsonWriter,
  ndjsonRecord,
  createTableWriter,
  compileCsvRecord,
  csvRecord,
  pipeRows,
} from '../../src/sinks/csv-file.js';
import { createRouter, exportTables } from '../../src/streams/route-by-type.js';
import type { GraphObject, RecordMsg, TableRow } from '../../src/types.js';
import type { EntityName } from '../../src/graph/schema.js';
import { withDir } from '../helpers/common.js';

const expected = (scenario: string, file: string) =>
  readFile(new URL(`../fixtures/expected/${scenario}/${file}`, import.meta.url), 'utf8');
const msg = (entity: EntityName, record: GraphObject): RecordMsg => ({ kind: 'record', entity, record });
const row = (table: string, cells: Record<string, string>): TableRow => ({ table, cells });

const mapping = resolveMapping({
  select: [
    'user=accountEnabled,businessPhones,displayName,mail',
    'group=displayName,members,owners',
    'directoryRole=displayName,members',
  ],
});

/** A small complete round with the awkward cells: JSON, commas, quotes, new lines, padding, a repeat. */
const completeRound: RecordMsg[] = [
  msg('user', {
    id: 'u1',
    accountEnabled: true,
    businessPhones: ['+1 425 555 0109'],
    displayName: 'Adele Vance',
    mail: 'AdeleV@contoso.com',
  }),
  msg('user', {
    id: 'u2',
    accountEnabled: false,
    businessPhones: [],
    displayName: 'Vance, "Alex"',
    mail: null,
  }),
  msg('user', { id: 'u3', displayName: 'Line1\nLine2' }),
  msg('user', { id: 'u5', displayName: ' padded ' }),
  msg('group', {
    id: 'g1',
    displayName: 'All Company',
    'members@delta': [{ id: 'u1' }, { id: 'u2' }],
    'owners@delta': [{ id: 'u1' }],
  }),
  msg('group', { id: 'g1', displayName: 'All Company', 'members@delta': [{ id: 'u3' }] }),
  msg('user', { id: 'u4', '@removed': { reason: 'deleted' } }),
  msg('directoryRole', { id: 'r1', displayName: 'Global Administrator', 'members@delta': [{ id: 'u1' }] }),
];

// ---

const CsvRecord = suite('csvRecord');

CsvRecord(
  'csvRecord(columns, cells) quotes exactly like csv-stringify with CSV_OPTIONS, and round-trips',
  () => {
    const samples = [
      '',
      'plain',
      'a,b',
      'say "hi"',
      'line1\nline2',
      'cr\rhere',
      ' padded ',
      '"',
      ',',
      '["+1 425"]',
      'ünïcode ✓',
      '\r\n',
      'x""y',
    ];
    const columns = ['a', 'b', 'c'];
    for (const a of samples)
      for (const b of samples) {
        const cells = { a, b, c: `${a}${b}` };
        const ours = csvRecord(columns, cells);
        assert.is(ours, stringify([[a, b, `${a}${b}`]], CSV_OPTIONS), JSON.stringify(cells));
        assert.equal(parse(ours, { relax_column_count: false }), [[a, b, `${a}${b}`]]);
      }
    assert.is(csvRecord(['x', 'y'], { x: 'only' }), 'only,\n');
  },
);

CsvRecord(
  'compileCsvRecord(columns) writes what csvRecord and csv-stringify write, edge cases included',
  () => {
    const samples = [
      '',
      'plain',
      'a,b',
      'say "hi"',
      '"quoted"',
      'line1\nline2',
      'cr\rhere',
      '\r\n',
      ' padded ',
      '=SUM(A1:A2)',
      '=1+2,"x"',
      '+cmd',
      '-1',
      '@attr',
      'ünïcode ✓ 日本語 😀',
      'tab\there',
      '["+1 425","x"]',
      '{"a":"b,c"}',
      'x""y',
    ];
    // Names a generated function must take as data: quotes, backslashes, a line separator, numbers.
    const columns = ['Command', 'a"b', 'back\\slash', 'line\u2028sep', '0', 'toString', '__proto__', 'z'];
    const record = compileCsvRecord(columns);
    for (const a of samples)
      for (const b of samples) {
        const cells: Record<string, string> = {};
        for (const [i, c] of columns.entries())
          Object.defineProperty(cells, c, { value: i % 2 ? a : b, enumerable: true });
        const values = columns.map((c) => cells[c]!);
        const ours = record(cells);
        assert.is(ours, csvRecord(columns, cells), JSON.stringify(values));
        assert.is(ours, stringify([values], CSV_OPTIONS), JSON.stringify(values));
        assert.equal(parse(ours, { relax_column_count: false }), [values]);
      }
    // Absent cells are empty, as in csvRecord; one column and none still end the line.
    assert.is(compileCsvRecord(['x', 'y'])({ x: 'only' }), 'only,\n');
    assert.is(compileCsvRecord(['x'])({}), '\n');
    assert.is(compileCsvRecord([])({}), '\n');
  },
);

CsvRecord.run();

// ---

const Tables = suite('createTableWriter');

Tables('createTableWriter() writes the expected CSVs of a complete round, byte for byte', async () => {
  await withDir(async (dir) => {
    const route = createRouter({ mapping, mode: () => 'complete' });
    const writer = createTableWriter({ dir, connection: 'Contoso', tables: exportTables(mapping) });
    await pipeline(Readable.from(completeRound.flatMap(route)), writer.writable);
    const paths = await writer.commit();
    assert.equal(
      paths.map((p) => p.slice(dir.length + 1)),
      [
        'Contoso_directoryobjects.csv',
        'Contoso_members_group.csv',
        'Contoso_owners_group.csv',
        'Contoso_members_directoryRole.csv',
      ],
    );
    for (const file of await readdir(dir))
      assert.fixture(await readFile(join(dir, file), 'utf8'), await expected('complete-round', file));
  });
});

Tables('createTableWriter() writes header-only CSVs for a round without changes', async () => {
  await withDir(async (dir) => {
    const writer = createTableWriter({ dir, connection: 'Contoso', tables: exportTables(mapping) });
    await pipeline(Readable.from([]), writer.writable);
    await writer.commit();
    assert.is(
      await readFile(join(dir, 'Contoso_directoryobjects.csv'), 'utf8'),
      'Command,@odata.type,accountEnabled,businessPhones,displayName,id,mail\n',
    );
    assert.is(await readFile(join(dir, 'Contoso_members_group.csv'), 'utf8'), 'Command,groupId,id\n');
  });
});

Tables('createTableWriter() quotes cells so that csv-parse reads them back unchanged', async () => {
  await withDir(async (dir) => {
    const tricky = [
      'a,b',
      'say "hi"',
      'two\nlines',
      'cr\rhere',
      ' lead',
      'trail ',
      '\ttab',
      '',
      '[{"a":"b,c"}]',
      'é ü 中',
    ];
    const writer = createTableWriter({
      dir,
      connection: 'C',
      tables: [{ table: 't', columns: ['id', 'v'] }],
    });
    await pipeline(Readable.from(tricky.map((v, i) => row('t', { id: String(i), v }))), writer.writable);
    await writer.commit();
    const text = await readFile(join(dir, 'C_t.csv'), 'utf8');
    assert.not.ok(text.includes('\r\n'));
    assert.not.ok(text.startsWith('\uFEFF'));
    const records = parse<{ id: string; v: string }>(text, { columns: true });
    assert.equal(
      records.map((r) => r.v),
      tricky,
    );
  });
});

Tables('createTableWriter() keeps up with many rows through backpressure', async () => {
  await withDir(async (dir) => {
    const tables = [
      { table: 'a', columns: ['id', 'v'] },
      { table: 'b', columns: ['id'] },
    ];
    const writer = createTableWriter({ dir, connection: 'C', tables });
    function* rows() {
      for (let i = 0; i < 60_000; i++) yield row(i % 3 ? 'a' : 'b', { id: String(i), v: 'x'.repeat(50) });
    }
    await pipeline(Readable.from(rows()), writer.writable);
    await writer.commit();
    assert.is((await readFile(join(dir, 'C_a.csv'), 'utf8')).split('\n').length, 40_000 + 2);
    assert.is((await readFile(join(dir, 'C_b.csv'), 'utf8')).split('\n').length, 20_000 + 2);
  });
});

Tables('createTableWriter().abort() deletes the temp files and keeps the previous CSVs', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'C_t.csv'), 'previous\n');
    const writer = createTableWriter({ dir, connection: 'C', tables: [{ table: 't', columns: ['id'] }] });
    writer.writable.write(row('t', { id: '1' }));
    await writer.abort();
    assert.equal(await readdir(dir), ['C_t.csv']);
    assert.is(await readFile(join(dir, 'C_t.csv'), 'utf8'), 'previous\n');
  });
});

Tables('createTableWriter() never committed (a killed run) leaves the previous CSVs', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'C_t.csv'), 'previous\n');
    const writer = createTableWriter({ dir, connection: 'C', tables: [{ table: 't', columns: ['id'] }] });
    await pipeline(Readable.from([row('t', { id: '1' })]), writer.writable);
    assert.is(await readFile(join(dir, 'C_t.csv'), 'utf8'), 'previous\n');
    await writer.abort();
  });
});

Tables(
  'createTableWriter() fails the pipeline with ERR_CSV_TABLE on a row for an unknown table',
  async () => {
    await withDir(async (dir) => {
      const writer = createTableWriter({ dir, connection: 'C', tables: [{ table: 't', columns: ['id'] }] });
      try {
        await pipeline(Readable.from([row('nope', { id: '1' })]), writer.writable);
        assert.unreachable();
      } catch (error) {
        assert.is((error as { code: string }).code, 'ERR_CSV_TABLE');
      }
      await writer.abort();
      assert.equal(await readdir(dir), []);
    });
  },
);

Tables('createTableWriter(bad options) fails with ERR_INVALID_OPTION', () => {
  for (const options of [
    { dir: '', connection: 'C', tables: [{ table: 't', columns: ['id'] }] },
    { dir: 'x', connection: 'C', tables: [] },
    {
      dir: 'x',
      connection: 'C',
      tables: [
        { table: 't', columns: ['id'] },
        { table: 't', columns: ['id'] },
      ],
    },
  ]) {
    try {
      createTableWriter(options);
      assert.unreachable();
    } catch (error) {
      assert.is((error as { code: string }).code, 'ERR_INVALID_OPTION');
    }
  }
});

Tables.run();

// ---

const Stdout = suite('createCsvStdoutWriter / createNdjsonWriter / pipeRows');

async function capture(
  make: (out: Writable) => { writable: Writable; closedEarly: boolean },
  rows: TableRow[],
) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const result = await pipeRows(Readable.from(rows), make(out));
  return { text, ...result };
}

const mixed = [
  row('directoryobjects', {
    Command: 'insert',
    '@odata.type': '#microsoft.graph.user',
    id: 'u1',
    mail: 'a,b',
  }),
  row('members_group', { Command: 'insert', groupId: 'g1', id: 'u1' }),
  row('directoryobjects', { Command: 'delete', '@odata.type': '#microsoft.graph.user', id: 'u2' }),
  row('empty', {}),
];

Stdout('createCsvStdoutWriter(out, table, columns) writes that table only, with its header', async () => {
  const columns = ['Command', '@odata.type', 'id', 'mail'];
  const { text, closedEarly } = await capture(
    (out) => createCsvStdoutWriter(out, 'directoryobjects', columns),
    mixed,
  );
  assert.is(
    text,
    'Command,@odata.type,id,mail\ninsert,#microsoft.graph.user,u1,"a,b"\ndelete,#microsoft.graph.user,u2,\n',
  );
  assert.is(closedEarly, false);
  const empty = await capture(
    (out) => createCsvStdoutWriter(out, 'members_group', ['Command', 'groupId', 'id']),
    [],
  );
  assert.is(empty.text, 'Command,groupId,id\n');
});

Stdout('createNdjsonWriter(out) writes every row of every table, table first', async () => {
  const { text } = await capture((out) => createNdjsonWriter(out), mixed);
  assert.is(
    text,
    [
      '{"table":"directoryobjects","Command":"insert","@odata.type":"#microsoft.graph.user","id":"u1","mail":"a,b"}',
      '{"table":"members_group","Command":"insert","groupId":"g1","id":"u1"}',
      '{"table":"directoryobjects","Command":"delete","@odata.type":"#microsoft.graph.user","id":"u2"}',
      '{"table":"empty"}',
      '',
    ].join('\n'),
  );
});

Stdout(
  'ndjsonRecord(row) writes typed values when the row has them, cells with null for empty otherwise',
  () => {
    assert.is(
      ndjsonRecord({
        table: 'directoryobjects',
        cells: {
          Command: 'insert',
          '@odata.type': '#microsoft.graph.user',
          accountEnabled: 'false',
          id: 'u1',
          mail: '',
          jobTitle: '',
        },
        values: {
          accountEnabled: false,
          businessPhones: ['+1 425 555 0001'],
          id: 'u1',
          onPremisesExtensionAttributes: { extensionAttribute1: 'HR' },
          jobTitle: null,
        },
      }),
      '{"table":"directoryobjects","Command":"insert","@odata.type":"#microsoft.graph.user","accountEnabled":false,"businessPhones":["+1 425 555 0001"],"id":"u1","onPremisesExtensionAttributes":{"extensionAttribute1":"HR"},"jobTitle":null}\n',
    );
    assert.is(
      ndjsonRecord({ table: 'manager_user', cells: { Command: 'delete', userId: 'u1', id: '' } }),
      '{"table":"manager_user","Command":"delete","userId":"u1","id":null}\n',
    );
  },
);

/** A reader that goes away after the first chunk, as `| head -1` does. */
function closingOutput(): Writable & { chunks: number } {
  const out = new Writable({
    write(_chunk, _encoding, callback) {
      out.chunks++;
      if (out.chunks === 1) callback();
      else callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  }) as Writable & { chunks: number };
  out.chunks = 0;
  return out;
}

Stdout(
  'pipeRows() resolves with closedEarly when the output fails with EPIPE, and stops reading',
  async () => {
    for (const make of [
      (out: Writable) => createNdjsonWriter(out),
      (out: Writable) => createCsvStdoutWriter(out, 't', ['id']),
    ]) {
      let produced = 0;
      function* endless() {
        for (;;) {
          produced++;
          yield row('t', { id: String(produced) });
        }
      }
      const out = closingOutput();
      const writer = make(out);
      const result = await pipeRows(Readable.from(endless()), writer);
      assert.equal(result, { closedEarly: true });
      assert.ok(produced < 1_000_000);
    }
  },
);

Stdout('pipeRows() still rejects on other output errors', async () => {
  const out = new Writable({
    write: (_c, _e, callback) => callback(Object.assign(new Error('disk full'), { code: 'ENOSPC' })),
  });
  try {
    await pipeRows(Readable.from([row('t', { id: '1' })]), createNdjsonWriter(out));
    assert.unreachable();
  } catch (error) {
    assert.is((error as { code: string }).code, 'ENOSPC');
  }
});

Stdout.run();
