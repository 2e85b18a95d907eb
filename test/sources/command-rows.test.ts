import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openCommandCsv } from '../../src/sources/command-csv.js';
import { fromCommandCsvs } from '../../src/sources/command-rows.js';
import type { FulfillMsg } from '../../src/types.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/fulfill');

async function all(gen: AsyncGenerator<FulfillMsg>): Promise<string[]> {
  const out: string[] = [];
  for await (const m of gen)
    out.push(m.kind === 'row' ? `${m.seq} ${m.row.line}` : `failure ${m.error.message}`);
  return out;
}

const Rows = suite('fromCommandCsvs');

Rows('fromCommandCsvs(inputs) numbers the rows of every file in order', async () => {
  const inputs = [
    await openCommandCsv({ input: join(fixtures, 'Contoso_members_group.csv') }),
    await openCommandCsv({ input: join(fixtures, 'x_owners_group.csv') }),
  ];
  assert.equal(await all(fromCommandCsvs(inputs)), ['0 2', '1 3', '2 4', '3 5', '4 6', '5 2']);
});

Rows('fromCommandCsvs(inputs, {signal}) stops before the next row once aborted', async () => {
  const stop = new AbortController();
  const input = await openCommandCsv({ input: join(fixtures, 'Contoso_members_group.csv') });
  const out: number[] = [];
  for await (const m of fromCommandCsvs([input], { signal: stop.signal }))
    if (m.kind === 'row' && out.push(m.seq) === 2) stop.abort();
  assert.equal(out, [0, 1]);
  await input.close();
});

Rows('fromCommandCsvs(inputs) ends with a failure message when a file breaks', async () => {
  const input = await openCommandCsv({ input: join(fixtures, 'unclosed-quote.csv'), prescan: false });
  const out = await all(fromCommandCsvs([input]));
  assert.match(out.at(-1)!, /^failure .*unclosed quote/);
});

Rows.run();
