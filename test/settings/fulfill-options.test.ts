import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fulfillOptions } from '../../src/settings/fulfill-options.js';
import { GRAPH_WRITE_BUDGET } from '../../src/sinks/write-pacer.js';

const Options = suite('fulfillOptions');

Options('fulfillOptions(args) reads stdin by default and Graph’s write budget unless told', () => {
  assert.equal(fulfillOptions({}, { stdinIsTTY: false }), {
    files: ['-'],
    budget: GRAPH_WRITE_BUDGET,
    text: {},
  });
  assert.equal(fulfillOptions({ files: ['a.csv'], writeBudget: '40/2' }, { stdinIsTTY: true }), {
    files: ['a.csv'],
    budget: { writes: 40, windowMs: 2000 },
    text: {},
  });
  assert.equal(
    fulfillOptions({ files: ['a.csv'], encoding: 'windows-1252', delimiter: 'TAB' }, { stdinIsTTY: true })
      .text,
    { encoding: 'windows-1252', delimiter: '\t' },
  );
  assert.is(fulfillOptions({ files: ['a.csv'], writeBudget: 'off' }, { stdinIsTTY: true }).budget, null);
});

Options('fulfillOptions(bad args) fails with ERR_USAGE naming the option', () => {
  const cases: [Parameters<typeof fulfillOptions>[0], boolean, RegExp][] = [
    [{ files: ['-', '-'] }, false, /stdin \('-'\) can be read only once/],
    [{}, true, /no input: name one or more command CSV files/],
    [{ files: ['a.csv', './a.csv'] }, false, /the same input file is named twice/],
    [{ files: ['-'], journal: 'j' }, false, /--journal needs input files/],
    [{ files: ['a.csv'], concurrency: 0 }, false, /--concurrency must be an integer from 1 to 64, got 0/],
    [{ files: ['a.csv'], writeBudget: 'fast' }, false, /--write-budget: expected WRITES\/SECONDS/],
    [{ files: ['a.csv'], encoding: 'latin-9x' }, false, /--encoding: unknown encoding "latin-9x"/],
    [{ files: ['a.csv'], delimiter: ':' }, false, /--delimiter must be , ; tab or \|, got ":"/],
  ];
  for (const [args, stdinIsTTY, message] of cases)
    assert.throws(
      () => fulfillOptions(args, { stdinIsTTY }),
      (e: { code?: string; message: string }) => e.code === 'ERR_USAGE' && message.test(e.message),
      JSON.stringify(args),
    );
});

Options.run();
