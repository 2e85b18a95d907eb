import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exportCommand } from '../../src/commands/export.js';
import type { Emulator } from '../../src/emulator/server.js';
import { withEmulator } from '../helpers/emulator.js';

const TABLES = ['directoryobjects', 'members_group', 'owners_group', 'members_directoryRole'];

/** Runs an export into `name` and returns its files, rows sorted, and stderr. */
async function run(emu: Emulator, dir: string, name: string, parallel?: number, select?: string[]) {
  const stderr = Object.assign(new PassThrough(), { isTTY: false });
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await exportCommand(
    {
      settings: join(dir, 'app.json'),
      ca: join(dir, 'ca.pem'),
      output: join(dir, name),
      cookies: join(dir, `${name}-cookies`),
      ignoreCookies: true,
      ...(parallel ? { parallel } : {}),
      ...(select ? { select } : {}),
    },
    {},
    { stderr },
  );
  const files: Record<string, string> = {};
  for (const t of select ? ['directoryobjects', 'manager_user'] : TABLES) {
    const [header, ...rows] = (await readFile(join(dir, name, `Contoso_${t}.csv`), 'utf8'))
      .trimEnd()
      .split('\n');
    files[t] = [header, ...rows.sort()].join('\n');
  }
  return { code, files, stderr: err };
}

async function withDir(emu: Emulator, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'entra-parallel-'));
  try {
    await writeFile(join(dir, 'app.json'), JSON.stringify(emu.settings('Contoso')), { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), emu.caPem);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const Parallel = suite('graphParallel');

Parallel(
  'export --parallel 4 writes the same rows as the sequential complete round, through partitions',
  () =>
    withEmulator(
      { generate: { users: 600, groups: 40, seed: 11 }, deltaLimits: { objects: 50, links: 300, scan: 500 } },
      (emu) =>
        withDir(emu, async (dir) => {
          const sequential = await run(emu, dir, 'seq');
          const before = emu.requests.length;
          const parallel = await run(emu, dir, 'par', 4);
          assert.is(sequential.code, 0, sequential.stderr);
          assert.is(parallel.code, 0, parallel.stderr);
          for (const t of TABLES) assert.fixture(parallel.files[t]!, sequential.files[t]!);
          const paths = emu.requests.slice(before).map((r) => decodeURIComponent(r.path));
          assert.ok(
            paths.some((p) => p.includes('/users?') && p.includes("startswith(userPrincipalName,'a')")),
            'users listed by partition',
          );
          assert.ok(
            paths.some((p) => p.includes('/groups/delta?') && p.includes('id eq')),
            'group links by id-scoped delta rounds',
          );
          assert.ok(
            paths.some((p) => p.includes('$deltatoken=latest')),
            'state taken first',
          );
        }),
    ),
);

Parallel('export --parallel reads the managers of users through id-scoped delta rounds', () =>
  withEmulator(
    { generate: { users: 300, groups: 5, seed: 3 }, deltaLimits: { objects: 50, links: 300, scan: 500 } },
    (emu) =>
      withDir(emu, async (dir) => {
        const select = ['user=displayName,manager'];
        const sequential = await run(emu, dir, 'seq', undefined, select);
        const before = emu.requests.length;
        const parallel = await run(emu, dir, 'par', 4, select);
        assert.is(parallel.code, 0, parallel.stderr);
        assert.ok(sequential.files.manager_user!.split('\n').length > 200, 'most users have a manager');
        assert.fixture(parallel.files.manager_user!, sequential.files.manager_user!);
        assert.fixture(parallel.files.directoryobjects!, sequential.files.directoryobjects!);
        const paths = emu.requests.slice(before).map((r) => decodeURIComponent(r.path));
        assert.ok(paths.some((p) => p.includes('/users/delta?') && p.includes('id eq')));
      }),
  ),
);

Parallel('export --parallel falls back to the sequential round when the partitions miss objects', () =>
  withEmulator({ generate: { users: 50, groups: 5, seed: 2 } }, async (emu) => {
    // A userPrincipalName outside Graph's alphabet (only a tenant file could hold one): no partition has it.
    emu.tenant.store.create('user', {
      displayName: 'Odd',
      userPrincipalName: 'éva@contoso.onmicrosoft.com',
      accountEnabled: true,
    });
    await withDir(emu, async (dir) => {
      const sequential = await run(emu, dir, 'seq');
      const parallel = await run(emu, dir, 'par', 4);
      assert.is(parallel.code, 0, parallel.stderr);
      assert.match(
        parallel.stderr,
        /user: partitions by userPrincipalName cover 50 of 51 objects; running the sequential delta round/,
      );
      for (const t of TABLES) assert.fixture(parallel.files[t]!, sequential.files[t]!);
    });
  }),
);

Parallel.run();
