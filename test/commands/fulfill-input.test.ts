import { access, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { runEntra } from '../helpers/cli.js';
import { sampleTenant } from '../helpers/emulator.js';
import { fulfill, withWork } from '../helpers/fulfill-harness.js';

// The real-life input corpus (test/fixtures/input) applied to the emulator: what reaches the directory.
const CORPUS = 'test/fixtures/input';
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';

const writes = (emu: Emulator) => emu.requests.filter((r) => r.method !== 'GET').length;
const user = (emu: Emulator, id: string) => emu.tenant.get(id)!.data;

async function corpusFile(dir: string, name: string): Promise<string> {
  await copyFile(join(CORPUS, name), join(dir, name));
  return join(dir, name);
}

const Input = suite('fulfill: input files');

Input('every readable file of the corpus writes Ingénieur, not Ing\\uFFFDnieur', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    for (const [name, encoding] of [
      ['bom-utf8.csv'],
      ['crlf.csv'],
      ['excel-semicolon-utf8-bom.csv'],
      ['excel-unicode-text-utf16le.txt'],
      ['utf16be-bom.csv'],
      ['tab-delimited.tsv'],
      ['utf16le-no-bom.csv', 'utf-16le'],
      ['excel-windows-1252.csv', 'windows-1252'],
    ] as const) {
      emu.tenant.update(ADELE, { jobTitle: 'before' });
      const run = await fulfill(dir, [await corpusFile(dir, name)], encoding ? { encoding } : {});
      assert.is(run.code, 0, `${name}: ${run.stderr} ${run.error?.message ?? ''}`);
      assert.is(user(emu, ADELE).jobTitle, 'Ingénieur', name);
    }
    assert.is(user(emu, ADELE).department, 'R&D – Zürich');
    assert.is(user(emu, MEGAN).jobTitle, 'Directrice');
  }),
);

Input('a refused file sends nothing and writes no results: exit 2 with file, line and column', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    for (const [name, message] of [
      [
        'excel-windows-1252.csv',
        /excel-windows-1252\.csv, line 3, column 70: bytes that are not UTF-8 \(0xE9\) in jobTitle/,
      ],
      [
        'invalid-utf8.csv',
        /invalid-utf8\.csv, line 3, column 71: bytes that are not UTF-8 \(0xFF\) in displayName/,
      ],
      [
        'nul-in-cell.csv',
        /nul-in-cell\.csv, line 3, column 71: control character U\+0000 \(NUL\) in jobTitle/,
      ],
      [
        'utf16le-no-bom.csv',
        /utf16le-no-bom\.csv, line 1, column 2: control character U\+0000 \(NUL\) in the header/,
      ],
    ] as const) {
      const before = writes(emu);
      const run = await fulfill(dir, [await corpusFile(dir, name)]);
      assert.is(run.error?.code, 'ERR_CSV', name);
      assert.is(run.error?.exitCode, 2, name);
      assert.match(run.error!.message, message);
      assert.is(writes(emu), before, `${name}: nothing sent`);
      await access(join(dir, 'results.csv')).then(
        () => assert.unreachable(`${name}: results written`),
        () => {},
      );
    }
    // The good first rows of those files were not applied either.
    assert.not.ok(user(emu, MEGAN).jobTitle === 'Directrice');
  }),
);

Input('entra fulfill - (stdin): a NUL after good rows exits 2 before any request', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const good = `update,#microsoft.graph.user,${MEGAN},Directrice\n`.repeat(200);
    const exit = await runEntra(['fulfill', '-', '--ca', 'ca.pem', '--write-budget', 'off', '--quiet'], {
      cwd: dir,
      stdin: `Command,@odata.type,id,jobTitle\n${good}update,#microsoft.graph.user,${ADELE},"Ing\0nieur"\n`,
    });
    assert.is(exit.code, 2, exit.stderr);
    assert.is(
      exit.stderr,
      'entra: ERR_CSV: stdin, line 202, column 71: control character U+0000 (NUL) in jobTitle: cells may hold tab and line breaks, no other control characters\n',
    );
    assert.is(exit.stdout, '');
    assert.is(writes(emu), 0);
  }),
);

Input('--encoding and --delimiter: unknown values are usage errors before anything is read', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const file = await corpusFile(dir, 'bom-utf8.csv');
    const encoding = await fulfill(dir, [file], { encoding: 'windows1252x' });
    assert.is(encoding.error?.exitCode, 2);
    assert.match(encoding.error!.message, /^--encoding: unknown encoding "windows1252x"/);
    const delimiter = await fulfill(dir, [file], { delimiter: ':' });
    assert.is(delimiter.error?.exitCode, 2);
    assert.match(delimiter.error!.message, /^--delimiter must be , ; tab or \|, got ":"/);
    const tab = await fulfill(dir, [await corpusFile(dir, 'tab-delimited.tsv')], { delimiter: 'tab' });
    assert.is(tab.code, 0, tab.stderr);
    assert.is(writes(emu) > 0, true);
  }),
);

Input.run();
