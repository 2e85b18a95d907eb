import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fulfillCommand } from '../src/commands/fulfill.js';
import type { Emulator } from '../src/emulator/server.js';
import type { TenantData } from '../src/emulator/tenant.js';
import { entraArgs } from './helpers/cli.js';
import { sampleTenant, withEmulator } from './helpers/emulator.js';

const HEADER = 'line,Command,@odata.type,id,status,httpStatus,errorCode,message,newId,file,ownerId,key';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `entra <args>` in a child process run in `cwd` (fed `stdin`); `child` to signal it, `done` for the end. */
function entra(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [...entraArgs(), ...args], {
    cwd,
    // Trust comes from the test (--ca or NODE_EXTRA_CA_CERTS), never from the caller's environment.
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS')),
      ...env,
    },
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

async function withWork(
  options: Parameters<typeof withEmulator>[0],
  fn: (emu: Emulator, dir: string, kill: (c: ChildProcess) => void) => Promise<void>,
): Promise<void> {
  const children = new Set<ChildProcess>();
  await withEmulator(options, async (emu) => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-fulfill-'));
    try {
      await writeFile(join(dir, 'appsettings.agent.json'), JSON.stringify(emu.settings('Contoso')), {
        mode: 0o600,
      });
      await writeFile(join(dir, 'ca.pem'), emu.caPem);
      await fn(emu, dir, (c) => children.add(c));
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
}

const write = (dir: string, name: string, lines: string[]) =>
  writeFile(join(dir, name), `${lines.join('\n')}\n`);

const rows = (csv: string) => parse<Record<string, string>>(csv, { columns: true });

/** The passwords a password file holds, whatever their state. */
async function passwordsIn(path: string): Promise<Record<string, string>[]> {
  return rows(await readFile(path, 'utf8'));
}

const Cli = suite('entra fulfill (CLI)');

Cli(
  'entra fulfill FILE - --ca: results on stdout, a summary on stderr, exit 3 as a row failed; no secret shown',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir, track) => {
      await write(dir, 'new.csv', [
        'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled,jobTitle',
        'insert,#microsoft.graph.user,,Cli One,clione@contoso.onmicrosoft.com,clione,true,',
        'insert,#microsoft.graph.user,,Cli Two,clitwo@contoso.onmicrosoft.com,clitwo,true,',
        `update,#microsoft.graph.user,${ADELE},,,,,Buyer`,
        'update,#microsoft.graph.user,00000000-0000-4000-8000-000000000404,,,,,Ghost',
      ]);
      // Link rows from stdin, their navigation from --navigation.
      const run = entra(
        dir,
        [
          'fulfill',
          'new.csv',
          '-',
          '--navigation',
          'members',
          '--ca',
          'ca.pem',
          '--password-file',
          'passwords.csv',
          '--write-budget',
          'off',
        ],
        {},
        `Command,groupId,id\ninsert,${ENGINEERING},${ADELE}\n`,
      );
      track(run.child);
      const exit = await run.done;
      assert.is(exit.code, 3, exit.stderr);
      const lines = exit.stdout.trimEnd().split('\n');
      assert.is(lines[0], HEADER);
      const results = rows(exit.stdout);
      assert.equal(
        results.map((r) => `${r.file}:${r.line} ${r.status} ${r.httpStatus} ${r.errorCode}`),
        [
          'new.csv:2 ok 201 ',
          'new.csv:3 ok 201 ',
          'new.csv:4 ok 204 ',
          'new.csv:5 failed 404 Request_ResourceNotFound',
          '-:2 ok 204 ',
        ],
      );
      assert.match(
        exit.stderr,
        /entra fulfill: 5 rows: 4 ok, 0 skipped, 1 failed; \d+ batches, 0 retries, 0 throttled; [\d.]+ s\n/,
      );
      assert.is((await stat(join(dir, 'passwords.csv'))).mode & 0o777, 0o600);
      const passwords = await passwordsIn(join(dir, 'passwords.csv'));
      assert.equal(
        passwords.map((p) => `${p.userPrincipalName} ${p.state}`),
        [
          'clione@contoso.onmicrosoft.com pending',
          'clitwo@contoso.onmicrosoft.com pending',
          'clione@contoso.onmicrosoft.com created',
          'clitwo@contoso.onmicrosoft.com created',
        ],
      );
      for (const p of passwords)
        assert.not.ok(
          exit.stdout.includes(p.password!) || exit.stderr.includes(p.password!),
          'password shown',
        );
      assert.not.ok(`${exit.stdout}${exit.stderr}`.includes(emu.clientSecret), 'client secret shown');
      assert.is(emu.tenant.get(results[0]!.newId!)?.data.displayName, 'Cli One');
    }),
);

Cli('entra fulfill: a usage error exits 2 with one line on stderr and nothing on stdout', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir, track) => {
    await write(dir, 'changes.csv', [
      'Command,@odata.type,id,jobTitle',
      `update,#microsoft.graph.user,${ADELE},Buyer`,
    ]);
    const usage = entra(dir, ['fulfill', 'changes.csv', '--concurrency', '0'], {
      NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
    });
    track(usage.child);
    const bad = await usage.done;
    assert.is(bad.code, 2);
    assert.is(bad.stdout, '');
    assert.is(
      bad.stderr,
      "entra: ERR_USAGE: --concurrency must be an integer from 1 to 64, got 0\nRun 'entra fulfill --help' for usage.\n",
    );
    assert.is(emu.tenant.get(ADELE)?.data.jobTitle, 'Retail Manager');
  }),
);

Cli.run();

// ---

const Crash = suite('entra fulfill --journal (CLI): interruptions');

/** Runs `fn` with stderr (warnings) swallowed. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = () => true;
  try {
    return await fn();
  } finally {
    process.stderr.write = write;
  }
}

const uuid = (kind: number, n: number) => `00000000-0000-4000-8${kind}00-${String(n).padStart(12, '0')}`;

/** The sample tenant plus 30 users and 4 groups with fixed ids, so that two emulators start equal. */
async function crashTenant(): Promise<TenantData> {
  const data = await sampleTenant();
  for (let n = 0; n < 30; n++)
    data.users!.push({
      id: uuid(1, n),
      accountEnabled: true,
      displayName: `Crash User ${n}`,
      mailNickname: `crashuser${n}`,
      userPrincipalName: `crashuser${n}@contoso.onmicrosoft.com`,
    });
  for (let n = 0; n < 4; n++)
    data.groups!.push({
      id: uuid(2, n),
      displayName: `Crash Group ${n}`,
      mailNickname: `crashgroup${n}`,
      mailEnabled: false,
      securityEnabled: true,
      groupTypes: [],
    });
  return data;
}

async function crashFiles(dir: string): Promise<string[]> {
  await write(dir, 'objects.csv', [
    'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled,jobTitle',
    ...Array.from(
      { length: 20 },
      (_, n) => `insert,#microsoft.graph.user,,New ${n},new${n}@contoso.onmicrosoft.com,new${n},true,Hire`,
    ),
    ...Array.from({ length: 5 }, (_, n) => `insert,#microsoft.graph.group,,Team ${n},,team${n},,`),
    ...Array.from({ length: 20 }, (_, n) => `update,#microsoft.graph.user,${uuid(1, n)},,,,,Title ${n}`),
    `delete,#microsoft.graph.user,${uuid(1, 29)},,,,,`,
  ]);
  await write(dir, 'Contoso_members_group.csv', [
    'Command,groupId,id',
    ...Array.from({ length: 56 }, (_, n) => `insert,${uuid(2, n % 4)},${uuid(1, Math.floor(n / 2))}`),
  ]);
  await write(dir, 'Contoso_owners_group.csv', [
    'Command,groupId,id',
    ...[0, 1, 2, 3].map((g) => `insert,${uuid(2, g)},${uuid(1, g)}`),
  ]);
  return ['objects.csv', 'Contoso_members_group.csv', 'Contoso_owners_group.csv'];
}

/** The tenant by stable names (ids of created objects differ between runs), without timestamps. */
function snapshot(emu: Emulator): string {
  const name = new Map<string, string>();
  const entities = ['user', 'group', 'servicePrincipal', 'directoryRole'] as const;
  for (const e of entities)
    for (const o of emu.tenant.list(e))
      name.set(
        o.id,
        `${e}:${String(o.data.userPrincipalName ?? o.data.mailNickname ?? o.data.displayName).toLowerCase()}`,
      );
  const objects = entities.flatMap((e) =>
    emu.tenant.list(e).map((o) => ({
      name: name.get(o.id),
      data: Object.fromEntries(
        Object.entries(o.data)
          .filter(([k]) => !k.endsWith('DateTime'))
          .sort(),
      ),
      members: emu.tenant
        .links(o.id, 'members')
        .map((id) => name.get(id))
        .sort(),
      owners: emu.tenant
        .links(o.id, 'owners')
        .map((id) => name.get(id))
        .sort(),
    })),
  );
  return JSON.stringify(
    objects.sort((a, b) => a.name!.localeCompare(b.name!)),
    null,
    1,
  );
}

const ARGS = [
  '--password-file',
  'passwords.csv',
  '--journal',
  'run.journal',
  '--write-budget',
  'off',
  '--concurrency',
  '1',
];

/** Starts a run and sends `signal` a random moment after the emulator has answered a new $batch. */
async function interrupt(
  emu: Emulator,
  dir: string,
  files: string[],
  signal: NodeJS.Signals,
  track: (c: ChildProcess) => void,
): Promise<{ exit: Exit; delay: number }> {
  const seen = emu.requests.filter((r) => r.path.endsWith('/$batch')).length;
  const run = entra(dir, ['fulfill', ...files, ...ARGS, '--results', `results-${signal}.csv`], {
    NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
  });
  track(run.child);
  const delay = Math.floor(Math.random() * 300);
  let ended = false;
  void run.done.then(() => (ended = true));
  while (!ended && emu.requests.filter((r) => r.path.endsWith('/$batch')).length === seen)
    await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, delay));
  run.child.kill(signal);
  return { exit: await run.done, delay };
}

Crash(
  'entra fulfill --journal after SIGINT and SIGKILL at random moments ends as an uninterrupted run',
  async () => {
    let expected = '';
    // The uninterrupted run, in-process: the same code as the binary, without a process start.
    await withWork({ tenant: await crashTenant() }, async (emu, dir) => {
      const files = await crashFiles(dir);
      const code = await quietly(() =>
        fulfillCommand(
          {
            files: files.map((f) => join(dir, f)),
            settings: join(dir, 'appsettings.agent.json'),
            ca: join(dir, 'ca.pem'),
            passwordFile: join(dir, 'passwords.csv'),
            results: join(dir, 'results.csv'),
            writeBudget: 'off',
            quiet: true,
          },
          {},
        ),
      );
      assert.is(code, 0);
      expected = snapshot(emu);
    });
    await withWork(
      { tenant: await crashTenant(), latency: { fixedMs: 60, jitterMs: 40 } },
      async (emu, dir, track) => {
        const files = await crashFiles(dir);
        const first = await interrupt(emu, dir, files, 'SIGINT', track);
        assert.ok(
          first.exit.code === 130 || first.exit.code === 0,
          `SIGINT after ${first.delay} ms: exit ${first.exit.code}\n${first.exit.stderr}`,
        );
        if (first.exit.code === 130) {
          assert.match(first.exit.stderr, /entra: ERR_INTERRUPTED: interrupted after \d+ rows/);
          // What a second Ctrl-C does, said when the first one comes.
          assert.match(
            first.exit.stderr,
            /interrupted: finishing the requests in flight, sending nothing more \(Ctrl-C again stops at once; rerun with the same --journal to finish\)/,
          );
        }
        for (const r of rows(await readFile(join(dir, 'results-SIGINT.csv'), 'utf8')))
          assert.ok(r.status !== 'failed' || r.errorCode === 'ERR_INTERRUPTED', JSON.stringify(r));
        const second = await interrupt(emu, dir, files, 'SIGKILL', track);
        assert.ok(
          second.exit.signal === 'SIGKILL' || second.exit.code === 0,
          `SIGKILL after ${second.delay} ms`,
        );

        const rerun = entra(dir, ['fulfill', ...files, ...ARGS], {
          NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
        });
        track(rerun.child);
        const exit = await rerun.done;
        assert.is(exit.code, 0, exit.stderr);
        const results = rows(exit.stdout);
        assert.is(results.length, 46 + 56 + 4);
        assert.ok(
          results.every((r) => r.status === 'ok' || r.status === 'skipped'),
          exit.stdout,
        );
        assert.fixture(snapshot(emu), expected);

        // Each created user's password ends `created` exactly once; none is left pending or shown.
        const passwords = await passwordsIn(join(dir, 'passwords.csv'));
        const created = passwords
          .filter((p) => p.state === 'created')
          .map((p) => p.userPrincipalName)
          .sort();
        assert.equal(created, Array.from({ length: 20 }, (_, n) => `new${n}@contoso.onmicrosoft.com`).sort());
        const settled = new Set(passwords.filter((p) => p.state !== 'pending').map((p) => p.password));
        assert.equal(
          passwords.filter((p) => !settled.has(p.password)),
          [],
          'no password left pending',
        );
        for (const p of passwords) assert.not.ok(`${exit.stdout}${exit.stderr}`.includes(p.password!));
      },
    );
  },
);

Crash(
  'two entra fulfill runs with the same --journal at once: the second fails at once with ERR_LOCKED; no group is created twice',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir, track) => {
      const nicknames = ['lockgroup1', 'lockgroup2', 'lockgroup3'];
      await write(dir, 'groups.csv', [
        'Command,@odata.type,id,displayName,mailNickname,mailEnabled,securityEnabled',
        ...nicknames.map((n) => `insert,#microsoft.graph.group,,Lock ${n},${n},false,true`),
      ]);
      const journal = join(dir, 'run.journal');
      const args = (results: string) => ({
        files: [join(dir, 'groups.csv')],
        settings: join(dir, 'appsettings.agent.json'),
        ca: join(dir, 'ca.pem'),
        journal,
        results: join(dir, results),
        writeBudget: 'off',
        quiet: true,
      });
      // Graph throttles the first run's $batch twice (Retry-After 2 s): it holds its lock for 4 s or more,
      // while the second run (no $batch before the lock) meets it. A latency on every request would slow
      // the second run's token as much, and let the first end before the second reaches the lock.
      const unthrottle = emu.faults.add({
        kind: 'status',
        status: 429,
        retryAfter: 2,
        count: 2,
        match: 'POST /v1.0/$batch',
      });
      let first: { child: ChildProcess; done: Promise<Exit> };
      try {
        first = entra(dir, ['fulfill', 'groups.csv', '-j', 'run.journal', '-r', 'first.csv', '-q'], {
          NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
        });
        track(first.child);
        let ended = false;
        void first.done.then(() => (ended = true));
        while (!ended && (await stat(`${journal}.lock`).catch(() => undefined)) === undefined)
          await new Promise((r) => setTimeout(r, 5));
        assert.not.ok(ended, 'the first run ended before it was seen holding the lock');
        // The second run, in-process (no process start: it reaches the lock at once).
        const error = await quietly(() => fulfillCommand(args('second.csv'), {})).then(
          () => undefined,
          (e: unknown) => e as Error & { code?: string; exitCode?: number },
        );
        assert.is(error?.code, 'ERR_LOCKED', String(error));
        assert.is(error?.exitCode, 1);
        assert.match(
          error!.message,
          new RegExp(`run\\.journal\\.lock is held by entra fulfill .*pid ${first.child.pid} `),
        );
        assert.match(error!.message, /: one run at a time per journal;/);
        assert.is(await stat(join(dir, 'second.csv')).catch(() => undefined), undefined, 'no results');
      } finally {
        unthrottle();
      }
      const done = await first.done;
      assert.is(done.code, 0, done.stderr);
      assert.equal(
        rows(await readFile(join(dir, 'first.csv'), 'utf8')).map((r) => r.status),
        ['ok', 'ok', 'ok'],
      );
      // Once the first has ended, the same journal runs again: every row is finished, nothing is sent.
      const batches = () => emu.requests.filter((r) => r.path.endsWith('/$batch')).length;
      const sent = batches();
      const again = entra(dir, ['fulfill', 'groups.csv', '-j', 'run.journal', '-r', 'again.csv', '-q'], {
        NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
      });
      track(again.child);
      const end = await again.done;
      assert.is(end.code, 0, end.stderr);
      assert.is(batches(), sent, 'the rerun sends nothing');
      assert.is(rows(await readFile(join(dir, 'again.csv'), 'utf8')).length, 3);
      for (const n of nicknames)
        assert.is(
          emu.tenant.list('group').filter((g) => g.data.mailNickname === n).length,
          1,
          `${n}: created once`,
        );
    }),
);

Crash.run();
