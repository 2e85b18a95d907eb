import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CsvInputError,
  detectDelimiter,
  openCommandCsv,
  readCommandCsv,
  type CommandCsvOptions,
} from '../../src/sources/command-csv.js';
import { firstInvalidUtf8, InputText } from '../../src/sources/input-text.js';
import type { ObjectRow } from '../../src/types.js';

// The real-life input corpus: files as Excel and other tools save them (see test/fixtures/input).
const CORPUS = 'test/fixtures/input';
const file = (name: string) => join(CORPUS, name);
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';

async function values(options: CommandCsvOptions): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const row of readCommandCsv(options)) {
    assert.is(row.kind, 'object', JSON.stringify(row));
    out.push({ line: row.line, id: (row as ObjectRow).id, ...(row as ObjectRow).values });
  }
  return out;
}

async function refusal(options: CommandCsvOptions): Promise<string> {
  try {
    await openCommandCsv(options);
  } catch (error) {
    assert.instance(error, CsvInputError);
    assert.is((error as CsvInputError).exitCode, 2);
    return (error as Error).message;
  }
  throw new Error(`${options.input} was not refused by openCommandCsv (before any row)`);
}

/** `bytes` in chunks of `size`, as stdin delivers them. */
const chunked = (bytes: Buffer, size: number) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
};

const Corpus = suite('input corpus');

Corpus('UTF-8 with BOM, CRLF, a quoted line break: decoded as written', async () => {
  assert.equal(await values({ input: file('bom-utf8.csv') }), [
    { line: 2, id: ADELE, jobTitle: 'Ingénieur' },
  ]);
  assert.equal(await values({ input: file('crlf.csv') }), [
    { line: 2, id: ADELE, jobTitle: 'Ingénieur', streetAddress: '1 Rue de la Paix\r\nBâtiment B' },
  ]);
});

Corpus(
  'Excel "CSV UTF-8" with semicolons: the delimiter comes from the header, a comma stays in its cell',
  async () => {
    // The issue: "missing column Command ... header is Command;@odata.type;id;jobTitle".
    assert.equal(await values({ input: file('excel-semicolon-utf8-bom.csv') }), [
      { line: 2, id: ADELE, jobTitle: 'Ingénieur', department: 'R&D, Zürich' },
    ]);
  },
);

Corpus('Excel "Unicode Text" (UTF-16 LE, BOM, tabs), UTF-16 BE with BOM, tab-delimited UTF-8', async () => {
  assert.equal(await values({ input: file('excel-unicode-text-utf16le.txt') }), [
    { line: 2, id: ADELE, jobTitle: 'Ingénieur', department: '研究開発 🚀' },
  ]);
  assert.equal(await values({ input: file('utf16be-bom.csv') }), [
    { line: 2, id: ADELE, jobTitle: 'Ingénieur' },
  ]);
  assert.equal(await values({ input: file('tab-delimited.tsv') }), [
    { line: 2, id: ADELE, jobTitle: 'Ingénieur', department: 'R&D, Zürich' },
  ]);
});

Corpus(
  'Excel "CSV" in Windows-1252: refused with file, line and column; --encoding windows-1252 reads it',
  async () => {
    // The issue: applied with exit 0, `Ing\uFFFDnieur` written into the directory.
    assert.is(
      await refusal({ input: file('excel-windows-1252.csv') }),
      'test/fixtures/input/excel-windows-1252.csv, line 3, column 70: bytes that are not UTF-8 (0xE9) in jobTitle: name the encoding, e.g. --encoding windows-1252 (Excel on Windows)',
    );
    const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';
    assert.equal(await values({ input: file('excel-windows-1252.csv'), encoding: 'windows-1252' }), [
      { line: 2, id: MEGAN, jobTitle: 'Directrice', department: 'Ventes' },
      { line: 3, id: ADELE, jobTitle: 'Ingénieur', department: 'R&D – Zürich' },
    ]);
    // latin1 is not windows-1252: its 0x96 is a C1 control character, refused with a hint.
    assert.match(
      await refusal({ input: file('excel-windows-1252.csv'), encoding: 'latin1' }),
      /, line 3, column 81: control character U\+0096 in department: a C1 control character, the sign of a wrong --encoding/,
    );
  },
);

Corpus(
  'invalid UTF-8 and a NUL in a cell: refused before any row, with line, column and attribute',
  async () => {
    // The issue: `Bad\xff\xfeName` sent as U+FFFD and stored; a NUL sent, stored and exported raw.
    assert.is(
      await refusal({ input: file('invalid-utf8.csv') }),
      'test/fixtures/input/invalid-utf8.csv, line 3, column 71: bytes that are not UTF-8 (0xFF) in displayName: name the encoding, e.g. --encoding windows-1252 (Excel on Windows)',
    );
    assert.is(
      await refusal({ input: file('nul-in-cell.csv') }),
      'test/fixtures/input/nul-in-cell.csv, line 3, column 71: control character U+0000 (NUL) in jobTitle: cells may hold tab and line breaks, no other control characters',
    );
    assert.is(
      await refusal({ input: file('utf16le-no-bom.csv') }),
      'test/fixtures/input/utf16le-no-bom.csv, line 1, column 2: control character U+0000 (NUL) in the header: the file looks like UTF-16 without a byte order mark, pass --encoding utf-16le',
    );
    assert.equal(await values({ input: file('utf16le-no-bom.csv'), encoding: 'utf-16le' }), [
      { line: 2, id: ADELE, jobTitle: 'Ingénieur' },
    ]);
  },
);

Corpus(
  'stdin is read through before the first row: a bad byte after 3,000 good rows fails openCommandCsv',
  async () => {
    const good = `update,#microsoft.graph.user,${ADELE},Ingénieur\n`.repeat(3000);
    const bytes = Buffer.concat([
      Buffer.from(`Command,@odata.type,id,jobTitle\n${good}update,#microsoft.graph.user,${ADELE},Ing`),
      Buffer.from([0xe9]),
      Buffer.from('nieur\n'),
    ]);
    assert.match(
      await refusal({ input: '-', stdin: chunked(bytes, 4096) }),
      /^stdin, line 3002, column 70: bytes that are not UTF-8 \(0xE9\) in jobTitle/,
    );
  },
);

Corpus('--delimiter overrides detection; --encoding contradicting a byte order mark is refused', async () => {
  // Read with `,`, the semicolon file's header is one column.
  assert.match(
    await refusal({ input: file('excel-semicolon-utf8-bom.csv'), delimiter: ',' }),
    /line 1: missing column Command/,
  );
  assert.match(
    await refusal({ input: file('bom-utf8.csv'), encoding: 'windows-1252' }),
    /bom-utf8\.csv, line 1, column 1: the file begins with a UTF-8 byte order mark, but --encoding says windows-1252$/,
  );
  try {
    await openCommandCsv({ input: file('bom-utf8.csv'), encoding: 'klingon' });
    assert.unreachable('unknown encoding accepted');
  } catch (error) {
    assert.match((error as Error).message, /--encoding: unknown encoding "klingon"/);
  }
});

Corpus.run();

const Decode = suite('InputText');

async function decode(bytes: Buffer, size: number, encoding?: string) {
  const text = new InputText(encoding);
  const out: Buffer[] = [];
  for await (const chunk of chunked(bytes, size).pipe(text)) out.push(chunk as Buffer);
  return { text: Buffer.concat(out).toString('utf8'), invalid: text.invalid };
}

Decode(
  'every file of the corpus decodes the same, whatever the chunk sizes (sequences cut in half)',
  async () => {
    for (const [name, encoding] of [
      ['bom-utf8.csv'],
      ['excel-unicode-text-utf16le.txt'],
      ['utf16be-bom.csv'],
      ['excel-windows-1252.csv', 'windows-1252'],
      ['excel-windows-1252.csv'],
      ['invalid-utf8.csv'],
    ] as const) {
      const bytes = await readFile(file(name));
      const whole = await decode(bytes, bytes.length, encoding);
      for (let size = 1; size <= 9; size++)
        assert.equal(await decode(bytes, size, encoding), whole, `${name} in chunks of ${size}`);
    }
  },
);

Decode('bad bytes: the first one ends the text with U+FFFD and is located', async () => {
  const cases: [Buffer, number, number, RegExp, string?][] = [
    [Buffer.from([0x61, 0x0d, 0x0a, 0x62, 0xc3]), 2, 2, /not UTF-8 \(0xC3\)/], // cut short at the end
    [Buffer.from([0x61, 0xe2, 0x82, 0x41]), 1, 2, /not UTF-8 \(0xE2 0x82\)/],
    [Buffer.from([0xed, 0xa0, 0x80]), 1, 1, /not UTF-8 \(0xED\)/], // a surrogate in UTF-8
    [Buffer.from([0xc0, 0xaf]), 1, 1, /not UTF-8 \(0xC0\)/], // overlong
    [Buffer.from([0xff, 0xfe, 0x41, 0x00, 0x00, 0xdc]), 1, 2, /lone UTF-16 surrogate \(0xDC00\)/],
    [Buffer.from([0xff, 0xfe, 0x41, 0x00, 0x42]), 1, 2, /ends in the middle of a UTF-16 character/],
  ];
  for (const [bytes, line, column, detail] of cases)
    for (const size of [1, 2, 3, bytes.length]) {
      const { text, invalid } = await decode(bytes, size);
      assert.ok(invalid, bytes.toString('hex'));
      assert.is(invalid.line, line, bytes.toString('hex'));
      assert.is(invalid.column, column, bytes.toString('hex'));
      assert.match(invalid.detail, detail);
      assert.ok(text.endsWith('\uFFFD'), text);
      assert.is(Buffer.byteLength(text), invalid.offset);
    }
});

Decode('firstInvalidUtf8 agrees with Buffer isUtf8 on random bytes', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8) & 0xff;
  for (let n = 0; n < 3000; n++) {
    const bytes = Buffer.from(
      Array.from({ length: 1 + (n % 9) }, () => (random() < 128 ? random() | 0x80 : random())),
    );
    const bad = firstInvalidUtf8(bytes);
    assert.is(bad === undefined, isUtf8(bytes), bytes.toString('hex'));
    if (bad) assert.ok(isUtf8(bytes.subarray(0, bad.at)), bytes.toString('hex'));
  }
});

Decode('detectDelimiter: the most frequent of , ; tab outside quotes; a comma when none', () => {
  assert.is(detectDelimiter('Command;@odata.type;id'), ';');
  assert.is(detectDelimiter('Command\t@odata.type\tid'), '\t');
  assert.is(detectDelimiter('Command,@odata.type,"a;b;c;d"'), ',');
  assert.is(detectDelimiter('VecJZrxzSnP-o1wu'), ',');
});

Decode.run();
