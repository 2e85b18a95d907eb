import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runEntra } from '../helpers/cli.js';
import { withDir } from '../helpers/common.js';

const runCommand = suite('runCommand');

runCommand(
  'runCommand() exits with the same code whether or not stderr is closed early (`2>&1 | head`)',
  async () => {
    await withDir(async (dir) => {
      // One row that fails (not a GUID), one planned: a dry run needs no tenant and exits 3.
      await writeFile(
        join(dir, 'f.csv'),
        'Command,@odata.type,id,jobTitle\n' +
          'update,#microsoft.graph.user,not-a-guid,x\n' +
          'update,#microsoft.graph.user,00000000-0000-0000-0000-000000000001,x\n',
      );
      const args = ['fulfill', '--dry-run', 'f.csv'];
      const open = await runEntra(args, { cwd: dir });
      assert.is(open.code, 3, open.stderr);
      const closed = await runEntra(args, { cwd: dir, closeOutput: true });
      assert.is(closed.code, 3);
    });
  },
);

runCommand.run();
