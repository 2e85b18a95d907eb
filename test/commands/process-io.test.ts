import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { entraArgs, runEntra } from '../helpers/cli.js';
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

runCommand(
  'entra doctor and entra skus stopped by SIGTERM or SIGINT while they wait exit 130, as export and fulfill do',
  async () => {
    // A host that takes connections and never answers: the first request (the token) waits on it.
    const sockets = new Set<Socket>();
    let arrived: () => void = () => {};
    const host = createServer((socket) => {
      sockets.add(socket);
      arrived();
    });
    await new Promise<void>((done) => host.listen(0, '127.0.0.1', done));
    const { port } = host.address() as AddressInfo;
    try {
      await withDir(async (dir) => {
        const url = `https://127.0.0.1:${port}`;
        const settings = {
          Connections: {
            Contoso: {
              ApplicationId: '00000000-0000-0000-0000-000000000001',
              TenantId: '00000000-0000-0000-0000-000000000002',
              ApplicationKey: 'not-a-real-secret',
              MicrosoftAuthorityPath: `${url}/{0}`,
              MicrosoftGraphPathApi: `${url}/v1.0/`,
            },
          },
        };
        await writeFile(join(dir, 'appsettings.agent.json'), JSON.stringify(settings), { mode: 0o600 });
        for (const command of ['doctor', 'skus'])
          for (const signal of ['SIGTERM', 'SIGINT'] as const) {
            const connected = new Promise<void>((resolve) => (arrived = resolve));
            const child = spawn(process.execPath, [...entraArgs(), command], {
              cwd: dir,
              stdio: ['ignore', 'ignore', 'pipe'],
            });
            let stderr = '';
            child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
            const exit = new Promise<[number | null, string | null]>((resolve) =>
              child.once('close', (code, killed) => resolve([code, killed])),
            );
            await connected;
            child.kill(signal);
            const [code, killed] = await exit;
            assert.equal([code, killed], [130, null], `${command} ${signal}: ${stderr}`);
            assert.match(stderr, new RegExp(`entra: ERR_INTERRUPTED: interrupted \\(${signal}\\)\\n$`));
            for (const socket of sockets) socket.destroy();
          }
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      host.close();
    }
  },
);

runCommand.run();
