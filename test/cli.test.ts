import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { entraArgs } from './helpers/cli.js';
import { testTls } from './helpers/identity-server.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Context {
  emu: Emulator;
  dir: string;
  env: NodeJS.ProcessEnv;
  children: Set<ChildProcess>;
}

const CLI = suite<Context>('entra export (CLI)');

/** Starts `entra ...` (the bundled sources) in the test folder, trusting the emulator's CA the standard way. */
function entra(context: Context, args: string[]): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [...entraArgs(), ...args], {
    cwd: context.dir,
    env: context.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  context.children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      context.children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** The export's files, by `out/<name>` and `cookies/<name>`; temp and lock files apart. */
async function snapshot(context: Context): Promise<{ files: Map<string, string>; temps: string[] }> {
  const files = new Map<string, string>();
  const temps: string[] = [];
  for (const folder of ['ExportOutput', 'ExportCookies']) {
    const names = await readdir(join(context.dir, folder)).catch(() => [] as string[]);
    for (const name of names.sort())
      // A killed run's temp files and lock stay until the next run sweeps them or takes the lock over;
      // its part files and checkpoint until the next run resumes from them or removes them.
      if (/\.(tmp|lock|csv\.part)$|_resume\.json$/.test(name)) temps.push(`${folder}/${name}`);
      // The run record changes with every scheduled run, failed ones too (test/commands/state.test.ts).
      else if (!name.endsWith('_runs.json'))
        files.set(`${folder}/${name}`, await readFile(join(context.dir, folder, name), 'utf8'));
  }
  return { files, temps };
}

const deltaRequests = (emu: Emulator) => emu.requests.filter((r) => r.path.includes('/delta')).length;

/** Waits until the emulator has answered `n` more delta requests than `from`. */
async function untilRequests(emu: Emulator, from: number, n: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 1500 && deltaRequests(emu) - from < n; i++) {
    if (child.exitCode !== null) throw new Error(`the export ended before ${n} requests`);
    await sleep(10);
  }
}

CLI.before(async (context) => {
  context.children = new Set();
  context.emu = await startEmulator({
    throttle: false,
    tls: testTls(),
    generate: { users: 400, groups: 20, seed: 11 },
    deltaLimits: { objects: 25, links: 40, scan: 500 },
  });
  context.dir = await mkdtemp(join(tmpdir(), 'entra-cli-'));
  await writeFile(join(context.dir, 'ca.pem'), context.emu.caPem);
  await writeFile(
    join(context.dir, 'appsettings.agent.json'),
    JSON.stringify(context.emu.settings('Contoso'), null, 2),
    { mode: 0o600 },
  );
  context.env = { ...process.env, NODE_EXTRA_CA_CERTS: join(context.dir, 'ca.pem') };
  delete context.env.NODE_OPTIONS;
});

CLI.after(async (context) => {
  for (const child of context.children) child.kill('SIGKILL');
  await context.emu?.close();
  if (context.dir) await rm(context.dir, { recursive: true, force: true });
});

CLI(
  'entra export --help lists the options, examples and exit codes; bad flags and settings exit 2',
  async (context) => {
    const [help, unknown, format, connection] = await Promise.all([
      entra(context, ['export', '--help']).done,
      entra(context, ['export', '--nope']).done,
      entra(context, ['export', '--format', 'xml']).done,
      entra(context, ['export', '--connection', 'Fabrikam']).done,
    ]);
    assert.is(help.code, 0, help.stderr);
    assert.ok(help.stdout.startsWith('entra export\n'), help.stdout);
    for (const text of [
      '--ca ',
      '--ignore-cookies',
      'entra export --demo\n',
      'entra export -o - -f ndjson | jq -c',
      'entra export --ca ca.pem',
      '130  interrupted',
    ])
      assert.ok(help.stdout.includes(text), text);
    for (const [run, line] of [
      [unknown, 'entra: ERR_USAGE: unknown option --nope\n'],
      [format, "entra: ERR_USAGE: --format 'xml' is not one of csv, ndjson\n"],
      [connection, "entra: ERR_SETTINGS: no connection 'Fabrikam' in "],
    ] as const) {
      assert.is(run.code, 2, run.stderr);
      assert.is(run.stdout, '');
      assert.ok(run.stderr.startsWith(line), run.stderr);
    }
    assert.equal((await snapshot(context)).files.size, 0);
  },
);

CLI('entra export writes the files, nothing on stdout, and a summary on stderr', async (context) => {
  const run = await entra(context, ['export']).done;
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout, '');
  assert.match(
    run.stderr,
    /^entra export: Contoso: user complete, group complete, directoryRole complete, servicePrincipal complete; directoryobjects insert \d+, .*; \d+ pages, 0 retries, [\d.]+ s\nentra export: wrote Contoso_directoryobjects\.csv, Contoso_members_group\.csv, Contoso_owners_group\.csv, Contoso_members_directoryRole\.csv in .*ExportOutput; cookies in .*ExportCookies\n$/,
  );
  const { files, temps } = await snapshot(context);
  assert.is(files.size, 12);
  assert.equal(temps, []);
});

CLI(
  'entra export killed (SIGKILL) at random moments leaves files and cookies as they were; the next run gets the whole delta',
  async (context) => {
    const { emu } = context;
    const before = await snapshot(context);
    const nina = emu.tenant.createUser({ displayName: 'Nina Novak' });
    // Enough changes for a delta round of several pages.
    const changed = emu.tenant.list('user').slice(0, 120);
    for (const [i, user] of changed.entries()) emu.tenant.update(user.id, { jobTitle: `Killjoy ${i}` });
    const group = emu.tenant.list('group')[3]!;
    emu.tenant.addMember(group.id, nina.id);
    try {
      // Once at a random time from the start, once after a random number of answered pages. The round
      // reads 6 pages of users one after the other: at 500 ms each it lasts over 3 s, so a kill within
      // 1.5 s of the start always lands before the end, whatever the machine's speed.
      for (const when of ['time', 'pages'] as const) {
        emu.faults.latency = { fixedMs: when === 'time' ? 500 : 60, jitterMs: 0 };
        const from = deltaRequests(emu);
        const { child, done } = entra(context, ['export']);
        if (when === 'time') await sleep(Math.random() * 1500);
        else await untilRequests(emu, from, 1 + Math.floor(Math.random() * 4), child);
        child.kill('SIGKILL');
        const exit = await done;
        assert.is(exit.signal, 'SIGKILL', `killed (${when}): ${exit.stderr}`);
        const after = await snapshot(context);
        assert.equal(after.files, before.files, `files after a kill (${when})`);
        // Killed while reading pages: its temp files are still there, for the next run to sweep.
        if (when === 'pages') assert.ok(after.temps.length > 0, 'temp files of the killed run');
      }
    } finally {
      emu.faults.latency = { fixedMs: 0, jitterMs: 0 };
    }
    const run = await entra(context, ['export']).done;
    assert.is(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /^entra export: Contoso: user incremental, group incremental, directoryRole incremental, servicePrincipal incremental;/m,
    );
    const { files, temps } = await snapshot(context);
    assert.equal(temps, [], 'temp files of killed runs are swept');
    const objects = files.get('ExportOutput/Contoso_directoryobjects.csv')!.split('\n').filter(Boolean);
    assert.is(objects.length, 1 + 1 + changed.length + 1);
    assert.ok(objects.some((l) => l.startsWith('update,#microsoft.graph.user,') && l.includes(nina.id)));
    for (const [i, user] of changed.entries())
      assert.ok(
        objects.some(
          (l) =>
            l.startsWith('update,#microsoft.graph.user,') &&
            l.includes(user.id) &&
            l.includes(`,Killjoy ${i},`),
        ),
        user.id,
      );
    assert.ok(objects.some((l) => l.startsWith(`update,#microsoft.graph.group,`) && l.includes(group.id)));
    assert.is(
      files.get('ExportOutput/Contoso_members_group.csv'),
      `Command,groupId,id\ninsert,${group.id},${nina.id}\n`,
    );
  },
);

CLI(
  'entra export interrupted (SIGINT) exits 130, removes its temp files and leaves the previous files',
  async (context) => {
    const { emu } = context;
    const before = await snapshot(context);
    emu.tenant.update(emu.tenant.list('user')[9]!.id, { jobTitle: 'Interrupted' });
    emu.faults.latency = { fixedMs: 60, jitterMs: 0 };
    let exit: Exit;
    try {
      const from = deltaRequests(emu);
      const { child, done } = entra(context, ['export', '--ignore-cookies']);
      await untilRequests(emu, from, 3, child);
      child.kill('SIGINT');
      const atSignal = deltaRequests(emu);
      const started = performance.now();
      exit = await done;
      assert.ok(performance.now() - started < 15_000, 'exits without hanging');
      // Without waiting for the round to end: at most the requests already in flight (4 entities, each
      // reading a page and prefetching the next) reach Graph after the signal.
      const late = deltaRequests(emu) - atSignal;
      assert.ok(late <= 8, `${late} delta requests after SIGINT`);
    } finally {
      emu.faults.latency = { fixedMs: 0, jitterMs: 0 };
    }
    assert.is(exit.code, 130, exit.stderr);
    assert.is(exit.stdout, '');
    assert.is(
      exit.stderr,
      'entra: ERR_INTERRUPTED: interrupted; previous outputs and cookies are unchanged\n',
    );
    const after = await snapshot(context);
    assert.equal(after.temps, []);
    assert.equal(after.files, before.files);
  },
);

CLI(
  'entra export --output - | head -1 ends cleanly (EPIPE is not an error) and advances no cookie',
  async (context) => {
    const before = await snapshot(context);
    const shell = spawn(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" "${entraArgs()[0]}" export --ignore-cookies --output - 2>stderr.txt | head -1`,
      ],
      { cwd: context.dir, env: context.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    context.children.add(shell);
    let stdout = '';
    shell.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => shell.once('close', resolve));
    context.children.delete(shell);
    const stderr = await readFile(join(context.dir, 'stderr.txt'), 'utf8');
    assert.is(code, 0, stderr);
    assert.match(stdout, /^Command,@odata\.type,accountEnabled,appDisplayName,.*,visibility\n$/);
    assert.not.match(stderr, /ERR|EPIPE|Error/);
    assert.match(stderr, /output closed early; cookies not advanced/);
    assert.equal((await snapshot(context)).files, before.files);
  },
);

CLI.run();
