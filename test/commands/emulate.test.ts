import { spawn } from 'node:child_process';
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkEmulateArgs, startEmulate, type EmulateArgs } from '../../src/commands/emulate.js';
import { entraArgs, runEntra } from '../helpers/cli.js';
import { failure, withDir } from '../helpers/common.js';
import { testTls } from '../helpers/identity-server.js';

const gone = (path: string) =>
  access(path).then(
    () => false,
    () => true,
  );

const Check = suite('checkEmulateArgs');

Check(
  'checkEmulateArgs(args) makes every bad value a usage error naming the option and the range',
  async () => {
    const cases: [Partial<EmulateArgs>, string][] = [
      [{ users: -5 }, '--users must be a whole number from 0 to 10000000, got -5'],
      [{ users: Number.NaN }, '--users must be a whole number from 0 to 10000000, got NaN'],
      [{ users: 1.5 }, '--users must be a whole number from 0 to 10000000, got 1.5'],
      [{ groups: -1 }, '--groups must be a whole number from 0 to 1000000, got -1'],
      [{ port: 99999 }, '--port must be a whole number from 0 to 65535, got 99999'],
      [{ seed: -1 }, '--seed must be a whole number from 0 to 4294967295, got -1'],
      [{ latency: -10 }, '--latency must be a whole number from 0 to 600000, got -10'],
      [{ jitter: 1e9 }, '--jitter must be a whole number from 0 to 600000, got 1000000000'],
      [{ pageSize: 0 }, '--page-size must be a whole number from 1 to 100000, got 0'],
      [{ tenant: '' }, '--tenant needs a tenant JSON file'],
      [{ settingsOut: '' }, '--settings-out needs a path'],
      [
        { connection: '..' },
        "--connection '..' is not usable in file names (it must not begin or end with a dot)",
      ],
      [{ connection: 'Con_toso' }, `--connection 'Con_toso' must not contain < > : " / \\ | ? * or _`],
      [{ caOut: '/dev/null' }, '--ca-out /dev/null: not a regular file (it is a character device)'],
      [
        { certificateOut: '/proc/xyz' },
        '--certificate-out /proc/xyz: cannot create this folder (no such file or folder, ENOENT)',
      ],
    ];
    for (const [args, message] of cases)
      assert.is(await failure(checkEmulateArgs(args), 'ERR_USAGE'), message, JSON.stringify(args));
    await withDir(async (dir) => {
      await writeFile(join(dir, 'file'), '');
      assert.is(
        await failure(checkEmulateArgs({ settingsOut: join(dir, 'file', 'a.json') }), 'ERR_USAGE'),
        `--settings-out ${dir}/file/a.json: ${dir}/file is a file, not a folder`,
      );
    });
  },
);

Check.run();

// ---

const Start = suite('startEmulate');

Start('startEmulate(args) without caOut keeps the CA in a temp folder that close() removes', async () => {
  const running = await startEmulate({ throttle: false }, { tls: testTls() });
  const caFile = running.info.caFile as string;
  try {
    assert.ok(running.temporary && caFile.startsWith(running.temporary), caFile);
    assert.not.ok(await gone(caFile));
  } finally {
    await running.close();
  }
  assert.ok(await gone(running.temporary));
});

Start('startEmulate({ port }) on a port in use is a usage error naming it', async () => {
  const first = await startEmulate({ throttle: false }, { tls: testTls() });
  try {
    const port = Number(new URL(first.emu.url).port);
    assert.is(
      await failure(startEmulate({ port, throttle: false }, { tls: testTls() }), 'ERR_USAGE'),
      `--port ${port}: in use; pick another, or leave --port out`,
    );
  } finally {
    await first.close();
  }
});

Start.run();

// ---

const Cli = suite('entra emulate (CLI)');

Cli('entra emulate --users abc / -5 / --port 99999 exit 2 with one line and start nothing', async () => {
  const cases: [string[], string][] = [
    [['--users', 'abc'], "entra: ERR_USAGE: --users expects a number, got 'abc'"],
    [['--users', '-5'], 'entra: ERR_USAGE: --users must be a whole number from 0 to 10000000, got -5'],
    [['--port', '99999'], 'entra: ERR_USAGE: --port must be a whole number from 0 to 65535, got 99999'],
  ];
  for (const [args, line] of cases) {
    const r = await runEntra(['emulate', ...args]);
    assert.is(r.code, 2, r.stderr);
    assert.is(r.stdout, '');
    assert.is(r.stderr.split('\n')[0], line);
  }
});

Cli(
  'entra emulate without --ca-out removes its CA on SIGINT (exit 130), SIGTERM (exit 0) and SIGHUP (a closed terminal, exit 129)',
  async () => {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 0],
      ['SIGHUP', 129],
    ] as const) {
      const child = spawn(process.execPath, [...entraArgs(), 'emulate', '--quiet'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
      const line = await new Promise<string>((resolve) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.once('close', () => resolve(out));
      });
      const { caFile } = JSON.parse(line) as { caFile: string };
      assert.not.ok(await gone(caFile), 'the CA exists while the emulator runs');
      child.kill(signal);
      assert.is(await exit, code);
      assert.ok(await gone(caFile), `${signal} left ${caFile}`);
      assert.ok(await gone(join(caFile, '..')));
    }
  },
);

Cli.run();
