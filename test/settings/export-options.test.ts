import { resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exportOptions } from '../../src/settings/export-options.js';
import { rejection } from '../helpers/common.js';

const Options = suite('exportOptions');

Options('exportOptions(args) resolves the mapping and where the rows go', async () => {
  const files = await exportOptions({ entities: ['user'] });
  assert.equal(files.output, { dir: resolve('ExportOutput') });
  assert.equal(
    files.mapping.entities.map((e) => e.entity),
    ['user'],
  );
  const stdout = await exportOptions({
    output: '-',
    select: ['group=displayName,members'],
    table: 'members_group',
  });
  assert.equal(stdout.output, { stdout: true, format: 'csv', table: 'members_group' });
});

Options('exportOptions(bad args) fails with ERR_USAGE before anything is read', async () => {
  const cases: [Parameters<typeof exportOptions>[0], RegExp][] = [
    [{ output: '' }, /--output needs a folder/],
    [{ format: 'ndjson' }, /--format ndjson writes to stdout/],
    [{ parallel: 65 }, /--parallel must be auto or an integer from 1 to 64, got 65/],
    [{ output: 'dir', table: 'x' }, /--table picks the one table written to stdout/],
    [{ output: '-', entities: ['user'], table: 'members_group' }, /--table members_group is not produced/],
  ];
  for (const [args, message] of cases) {
    const e = await rejection(exportOptions(args));
    assert.is(e.code, 'ERR_USAGE');
    assert.match(e.message, message);
  }
});

Options.run();
