import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { acquireLock, connectionLockPath } from '../../src/sinks/run-lock.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'csv-parse/sync';
import type { Emulator, EmulatorOptions } from '../../src/emulator/server.js';
import { formatError, ToolError, UsageError } from '../../src/errors.js';
import {
  exportConnections,
  fulfillConnections,
  type ExportManyArgs,
  type FulfillManyArgs,
} from '../../src/commands/multi-commands.js';
import {
  LinePrefixer,
  requestedConnections,
  runConnections,
  worstExitCode,
} from '../../src/commands/multi.js';
import { spawn } from 'node:child_process';
import { entraArgs, runEntra } from '../helpers/cli.js';
import { sampleTenant, withEmulator } from '../helpers/emulator.js';
import { csvObjects, textSink } from '../helpers/export-harness.js';

/**
 * Several connections in one process: two emulators (one tenant each) behind the connections Contoso
 * and Fabrikam of one settings file.
 */

interface Two {
  contoso: Emulator;
  fabrikam: Emulator;
  dir: string;
  settings: string;
  ca: string;
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Two emulators, a settings file naming both (`fabrikam` overrides Fabrikam's keys), and a temp folder. */
async function withTwo(
  fn: (t: Two) => Promise<void>,
  fabrikam: Record<string, string> = {},
  emulator: EmulatorOptions = {},
): Promise<void> {
  await withEmulator({ tenant: await sampleTenant(), ...emulator }, (contoso) =>
    withEmulator({ generate: { users: 12, groups: 2, seed: 3 }, ...emulator }, async (other) => {
      const dir = await mkdtemp(join(tmpdir(), 'entra-many-'));
      try {
        const a = contoso.settings('Contoso') as { Connections: Record<string, object> };
        const b = other.settings('Fabrikam') as { Connections: Record<string, Record<string, string>> };
        Object.assign(b.Connections.Fabrikam!, fabrikam);
        const settings = join(dir, 'appsettings.agent.json');
        await writeFile(
          settings,
          JSON.stringify({ Connections: { ...a.Connections, ...b.Connections } }, null, 2),
          { mode: 0o600 },
        );
        const ca = join(dir, 'ca.pem');
        await writeFile(ca, contoso.caPem);
        await fn({ contoso, fabrikam: other, dir, settings, ca });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
  );
}

/** Runs `entra export` for several connections in-process, as runCommand would. */
async function exportMany(t: Two, args: Partial<ExportManyArgs>): Promise<Outcome> {
  const stdout = textSink();
  const stderr = textSink();
  let code: number;
  try {
    code = await exportConnections({ settings: t.settings, ca: t.ca, ...args }, {}, { stdout, stderr });
  } catch (error) {
    stderr.text += `${formatError(error).join('\n')}\n`;
    code = error instanceof ToolError ? error.exitCode : 1;
  }
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Runs `entra fulfill` for several connections in-process. */
async function fulfillMany(t: Two, args: Partial<FulfillManyArgs>): Promise<Outcome> {
  const stderr = textSink();
  let code: number;
  try {
    code = await fulfillConnections(
      { settings: t.settings, ca: t.ca, writeBudget: 'off', ...args },
      {},
      { stderr },
    );
  } catch (error) {
    stderr.text += `${formatError(error).join('\n')}\n`;
    code = error instanceof ToolError ? error.exitCode : 1;
  }
  return { code, stdout: '', stderr: stderr.text };
}

const ids = (csv: string, type: string) =>
  csvObjects(csv)
    .filter((o) => o['@odata.type'] === type)
    .map((o) => o.id)
    .sort();
const tenantIds = (emu: Emulator, entity: 'user' | 'group') =>
  emu.tenant
    .list(entity)
    .map((o) => o.id)
    .sort();
const finalLines = (stderr: string) => stderr.split('\n').filter((l) => /^entra: [A-Za-z]+: /.test(l));

const Units = suite('several connections: the pieces');

Units('requestedConnections: one run, several, --all, and the contradictions', () => {
  assert.is(requestedConnections({}), undefined);
  assert.is(requestedConnections({ connection: 'Contoso' }), undefined);
  assert.is(requestedConnections({ connection: ['Contoso'] }), undefined);
  assert.equal(requestedConnections({ connection: ['Contoso', 'Fabrikam'] }), ['Contoso', 'Fabrikam']);
  assert.equal(requestedConnections({ all: true }), []);
  const usage = (args: Parameters<typeof requestedConnections>[0], text: RegExp) => {
    try {
      requestedConnections(args);
      assert.unreachable('no usage error');
    } catch (e) {
      assert.instance(e, ToolError);
      assert.is((e as ToolError).exitCode, 2);
      assert.match((e as Error).message, text);
    }
  };
  usage({ all: true, connection: 'Contoso' }, /--all or --connection, not both/);
  usage({ connection: ['Contoso', 'contoso'] }, /--connection contoso is given twice/);
  usage({ connection: ['Contoso', 'Fabrikam'], jobs: 0 }, /--jobs must be an integer from 1 to 64/);
});

Units('worstExitCode: interrupted, failed, usage, threshold, rows failed, done', () => {
  assert.is(worstExitCode([0, 0]), 0);
  assert.is(worstExitCode([0, 3]), 3);
  assert.is(worstExitCode([3, 4]), 4);
  assert.is(worstExitCode([3, 1, 2]), 1);
  assert.is(worstExitCode([1, 130, 0]), 130);
});

Units('LinePrefixer: each line prefixed once, a partial line held until its end', async () => {
  const sink = textSink();
  const p = new LinePrefixer(sink, '[Contoso] ');
  p.write('one\ntw');
  p.write('o\nthree');
  assert.is(sink.text, '[Contoso] one\n[Contoso] two\n');
  await new Promise<void>((resolve) => p.end(resolve));
  assert.is(sink.text, '[Contoso] one\n[Contoso] two\n[Contoso] three\n');
  assert.is(p.isTTY, false);
});

Units('runConnections: 16 at once, each listening for Ctrl-C, and no listener-leak warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const names = Array.from({ length: 16 }, (_, i) => `T${String.fromCharCode(65 + i)}`);
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  let running = 0;
  const stderr = textSink();
  try {
    const code = await runConnections({
      names,
      jobs: 16,
      stderr,
      run: async (name) => {
        const listener = () => undefined;
        process.on('SIGINT', listener);
        process.on('SIGTERM', listener);
        if (++running === names.length) release();
        await all;
        process.off('SIGINT', listener);
        process.off('SIGTERM', listener);
        return name === 'TC' ? 3 : 0;
      },
    });
    assert.is(code, 3);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(warnings, []);
    assert.is(finalLines(stderr.text).length, 16);
    assert.ok(finalLines(stderr.text).includes('entra: TC: exit 3'));
  } finally {
    process.off('warning', onWarning);
  }
});

Units(
  "runConnections: a connection's command-line mistake ends the run with the pointer to help, once",
  async () => {
    const stderr = textSink();
    const code = await runConnections({
      names: ['TA', 'TB'],
      stderr,
      help: 'entra export --help',
      run: () => Promise.reject(new UsageError('ERR_USAGE', '--output x: not a folder (it is a file)')),
    });
    assert.is(code, 2);
    assert.ok(
      stderr.text.endsWith("entra: TB: ERR_USAGE exit 2\nRun 'entra export --help' for usage.\n"),
      stderr.text,
    );
    assert.is(stderr.text.split('for usage').length, 2);
    // A bad settings file is no command-line mistake: its message says where, help would not.
    const other = textSink();
    await runConnections({
      names: ['TA'],
      stderr: other,
      help: 'entra export --help',
      run: () => Promise.reject(new UsageError('ERR_SETTINGS', 'x.json: not JSON')),
    });
    assert.not.match(other.text, /for usage/);
  },
);

const Export = suite('entra export, several connections');

Export('two connections at once: each into its own folder, with its own cookies and summary', () =>
  withTwo(async (t) => {
    const out = join(t.dir, 'out', '{connection}');
    const cookies = join(t.dir, 'cookies', '{connection}');
    const summary = join(t.dir, '{connection}.summary.json');
    const r = await exportMany(t, { connection: ['Contoso', 'Fabrikam'], output: out, cookies, summary });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, '');
    for (const name of ['Contoso', 'Fabrikam']) {
      // One --summary per connection: the document of a one-connection run.
      const s = JSON.parse(await readFile(join(t.dir, `${name}.summary.json`), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(
        [s.command, s.connection, s.exit, s.output],
        ['export', name, 0, join(t.dir, 'out', name)],
      );
    }
    for (const [name, emu] of [
      ['Contoso', t.contoso],
      ['Fabrikam', t.fabrikam],
    ] as const) {
      assert.equal(
        await readdir(join(t.dir, 'out', name)).then((f) => f.every((n) => n.startsWith(`${name}_`))),
        true,
      );
      const csv = await readFile(join(t.dir, 'out', name, `${name}_directoryobjects.csv`), 'utf8');
      assert.equal(ids(csv, '#microsoft.graph.user'), tenantIds(emu, 'user'), `${name}'s users`);
      assert.equal(ids(csv, '#microsoft.graph.group'), tenantIds(emu, 'group'), `${name}'s groups`);
      const jar = await readdir(join(t.dir, 'cookies', name));
      assert.ok(
        jar.some((f) => f.startsWith(`${name}_cookie_user`)),
        jar.join(' '),
      );
      assert.not.ok(
        jar.some((f) => !f.startsWith(name)),
        jar.join(' '),
      );
      // Its summary line, prefixed with its name.
      assert.match(r.stderr, new RegExp(`^\\[${name}\\] entra export: ${name}: `, 'm'));
    }
    // Every line says whose it is: prefixed, or one of the final lines.
    for (const line of r.stderr.split('\n').filter(Boolean))
      assert.ok(
        /^\[(Contoso|Fabrikam)\] /.test(line) || /^entra: (Contoso|Fabrikam): exit 0$/.test(line),
        line,
      );
    assert.equal(finalLines(r.stderr), ['entra: Contoso: exit 0', 'entra: Fabrikam: exit 0']);

    // The next run reads each connection's own cookies: incremental rounds, nothing changed.
    t.fabrikam.tenant.update(tenantIds(t.fabrikam, 'user')[0]!, { jobTitle: 'Moved' });
    const again = await exportMany(t, { connection: ['Contoso', 'Fabrikam'], output: out, cookies });
    assert.is(again.code, 0, again.stderr);
    assert.not.match(again.stderr, /complete round/);
    const contoso = csvObjects(
      await readFile(join(t.dir, 'out', 'Contoso', 'Contoso_directoryobjects.csv'), 'utf8'),
    );
    const fabrikam = csvObjects(
      await readFile(join(t.dir, 'out', 'Fabrikam', 'Fabrikam_directoryobjects.csv'), 'utf8'),
    );
    assert.is(contoso.length, 0);
    assert.equal(
      fabrikam.map((o) => o.id),
      [tenantIds(t.fabrikam, 'user')[0]],
    );
  }),
);

Export('one connection refused (bad secret): the other finishes; exit 1 and a line per connection', () =>
  withTwo(
    async (t) => {
      const out = join(t.dir, 'out');
      const r = await exportMany(t, { all: true, output: out, cookies: join(t.dir, 'cookies') });
      assert.is(r.code, 1, r.stderr);
      assert.equal(finalLines(r.stderr), ['entra: Contoso: exit 0', 'entra: Fabrikam: ERR_AUTH exit 1']);
      assert.match(r.stderr, /^\[Fabrikam\] entra: ERR_AUTH: /m);
      assert.not.match(r.stderr, /wrong-secret/);
      // One folder for both (file names carry the connection): Contoso's files only.
      const files = await readdir(out);
      assert.ok(files.includes('Contoso_directoryobjects.csv'), files.join(' '));
      assert.not.ok(
        files.some((f) => f.startsWith('Fabrikam')),
        files.join(' '),
      );
      const csv = await readFile(join(out, 'Contoso_directoryobjects.csv'), 'utf8');
      assert.equal(ids(csv, '#microsoft.graph.user'), tenantIds(t.contoso, 'user'));
    },
    { ApplicationKey: 'wrong-secret-value' },
  ),
);

Export(
  'a connection with incomplete settings fails alone (exit 2); --quiet keeps the lines of failures',
  () =>
    withTwo(
      async (t) => {
        const out = join(t.dir, 'out');
        const r = await exportMany(t, {
          all: true,
          output: out,
          cookies: join(t.dir, 'cookies'),
          quiet: true,
        });
        assert.is(r.code, 2, r.stderr);
        // --quiet: the failures only.
        assert.equal(finalLines(r.stderr), ['entra: Fabrikam: ERR_SETTINGS exit 2']);
        assert.match(r.stderr, /^\[Fabrikam\] entra: ERR_SETTINGS: .*TenantId/m);
        assert.ok((await readdir(out)).includes('Contoso_directoryobjects.csv'));
      },
      { TenantId: '' },
    ),
);

Export('each connection takes its own lock: one held elsewhere fails that connection only', () =>
  withTwo(async (t) => {
    const cookies = join(t.dir, 'cookies');
    await mkdir(cookies);
    const held = await acquireLock(connectionLockPath(cookies, 'Fabrikam'), { command: 'another run' });
    try {
      const r = await exportMany(t, { all: true, output: join(t.dir, 'out'), cookies });
      assert.is(r.code, 1, r.stderr);
      assert.equal(finalLines(r.stderr), ['entra: Contoso: exit 0', 'entra: Fabrikam: ERR_LOCKED exit 1']);
      assert.match(r.stderr, /^\[Fabrikam\] entra: ERR_LOCKED: .*Fabrikam\.lock is held by another run/m);
      const jar = await readdir(cookies);
      assert.ok(
        jar.some((f) => f.startsWith('Contoso_cookie_')),
        jar.join(' '),
      );
      assert.not.ok(
        jar.some((f) => f.startsWith('Fabrikam_cookie_')),
        jar.join(' '),
      );
      // Contoso's lock is released; Fabrikam's is still the other run's.
      assert.not.ok(jar.includes('Contoso.lock'), jar.join(' '));
      assert.ok(jar.includes('Fabrikam.lock'));
    } finally {
      await held.release();
    }
  }),
);

Export('--jobs 1: one connection after the other', () =>
  withTwo(async (t) => {
    const r = await exportMany(t, {
      connection: ['Fabrikam', 'Contoso'],
      jobs: 1,
      output: join(t.dir, 'out'),
      cookies: join(t.dir, 'cookies'),
    });
    assert.is(r.code, 0, r.stderr);
    const owners = r.stderr
      .split('\n')
      .map((l) => /^\[(\w+)\]/.exec(l)?.[1])
      .filter(Boolean);
    const firstContoso = owners.indexOf('Contoso');
    assert.ok(firstContoso > 0);
    assert.ok(
      owners.slice(firstContoso).every((o) => o === 'Contoso'),
      owners.join(' '),
    );
    assert.equal(finalLines(r.stderr), ['entra: Fabrikam: exit 0', 'entra: Contoso: exit 0']);
  }),
);

Export('refused before anything runs: stdout, --demo, an unknown name, a bad flag', () =>
  withTwo(async (t) => {
    const out = join(t.dir, 'out');
    const cases: [Partial<ExportManyArgs>, RegExp][] = [
      [{ all: true, output: '-' }, /--output - is one stream/],
      [{ connection: ['Contoso', 'Fabrikam'], demo: true }, /--demo exports the built-in sample tenant/],
      [
        { connection: ['Contoso', 'Fabricam'], output: out },
        /no connection 'Fabricam' .*available: Contoso, Fabrikam/,
      ],
      [{ all: true, output: out, maxDeletes: 'lots' }, /max-deletes/],
      [{ all: true, output: out, parallel: 0 }, /--parallel must be auto or an integer/],
      [{ all: true, connection: 'Contoso', output: out }, /not both/],
    ];
    for (const [args, message] of cases) {
      const r = await exportMany(t, { cookies: join(t.dir, 'cookies'), ...args });
      assert.is(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.match(r.stderr, message);
      // One line: no connection started.
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(await readdir(t.dir).then((f) => f.filter((n) => n === 'out' || n === 'cookies')), []);
  }),
);

Export('{connection} in a one-connection run: the name of the only connection, or the one named', () =>
  withTwo(async (t) => {
    const r = await exportMany(t, {
      connection: 'Fabrikam',
      output: join(t.dir, 'out', '{connection}'),
      cookies: join(t.dir, 'cookies'),
      select: ['user=displayName'],
      entities: ['user'],
    });
    assert.is(r.code, 0, r.stderr);
    assert.ok((await readdir(join(t.dir, 'out', 'Fabrikam'))).includes('Fabrikam_directoryobjects.csv'));
    // No prefixes and no final lines: a one-connection run is the one-connection command.
    assert.not.match(r.stderr, /^\[/m);
    assert.equal(
      finalLines(r.stderr).filter((l) => / exit /.test(l)),
      [],
    );
    const both = await exportMany(t, { output: join(t.dir, 'o2', '{connection}') });
    assert.is(both.code, 2);
    assert.match(both.stderr, /2 connections .*choose one with --connection, or --all/);
  }),
);

const Fulfill = suite('entra fulfill, several connections');

const NEW_GROUP = (name: string) => [
  'Command,@odata.type,id,displayName,mailNickname,mailEnabled,securityEnabled',
  `insert,#microsoft.graph.group,,${name} Admins,${name.toLowerCase()}admins,false,true`,
];

Fulfill('each connection its own input, results and journal: the rows go to its own tenant', () =>
  withTwo(async (t) => {
    await writeFile(join(t.dir, 'Contoso.csv'), `${NEW_GROUP('Contoso').join('\n')}\n`);
    await writeFile(join(t.dir, 'Fabrikam.csv'), `${NEW_GROUP('Fabrikam').join('\n')}\n`);
    const before = {
      contoso: tenantIds(t.contoso, 'group').length,
      fabrikam: tenantIds(t.fabrikam, 'group').length,
    };
    const args: Partial<FulfillManyArgs> = {
      all: true,
      files: [join(t.dir, '{connection}.csv')],
      results: join(t.dir, 'results-{connection}.csv'),
      journal: join(t.dir, '{connection}.journal'),
    };
    const r = await fulfillMany(t, args);
    assert.is(r.code, 0, r.stderr);
    assert.equal(finalLines(r.stderr), ['entra: Contoso: exit 0', 'entra: Fabrikam: exit 0']);
    assert.match(r.stderr, /^\[Contoso\] entra fulfill: 1 rows: 1 ok/m);
    for (const [name, emu, count] of [
      ['Contoso', t.contoso, before.contoso],
      ['Fabrikam', t.fabrikam, before.fabrikam],
    ] as const) {
      const groups = emu.tenant.list('group').map((g) => g.data.displayName);
      assert.is(groups.length, count + 1, name);
      assert.ok(groups.includes(`${name} Admins`), `${name}: ${groups.join(', ')}`);
      const results = parse<Record<string, string>>(
        await readFile(join(t.dir, `results-${name}.csv`), 'utf8'),
        { columns: true },
      );
      assert.is(results.length, 1);
      assert.is(results[0]!.status, 'ok', JSON.stringify(results[0]));
    }
    // A rerun with the same journals sends nothing again.
    const again = await fulfillMany(t, args);
    assert.is(again.code, 0, again.stderr);
    assert.is(t.contoso.tenant.list('group').length, before.contoso + 1);
    assert.is(t.fabrikam.tenant.list('group').length, before.fabrikam + 1);
  }),
);

Fulfill('one tenant refuses the secret: the other is written; exit 1', () =>
  withTwo(
    async (t) => {
      await writeFile(join(t.dir, 'Contoso.csv'), `${NEW_GROUP('Contoso').join('\n')}\n`);
      await writeFile(join(t.dir, 'Fabrikam.csv'), `${NEW_GROUP('Fabrikam').join('\n')}\n`);
      const r = await fulfillMany(t, {
        connection: ['Contoso', 'Fabrikam'],
        files: [join(t.dir, '{connection}.csv')],
        results: join(t.dir, 'results-{connection}.csv'),
      });
      assert.is(r.code, 1, r.stderr);
      assert.equal(finalLines(r.stderr), ['entra: Contoso: exit 0', 'entra: Fabrikam: ERR_AUTH exit 1']);
      assert.ok(t.contoso.tenant.list('group').some((g) => g.data.displayName === 'Contoso Admins'));
      assert.not.ok(t.fabrikam.tenant.list('group').some((g) => g.data.displayName === 'Fabrikam Admins'));
    },
    { ApplicationKey: 'wrong-secret-value' },
  ),
);

Fulfill('refused before anything is sent: shared inputs, stdin, results to stdout, a missing input', () =>
  withTwo(async (t) => {
    await writeFile(join(t.dir, 'Contoso.csv'), `${NEW_GROUP('Contoso').join('\n')}\n`);
    await writeFile(join(t.dir, 'shared.csv'), `${NEW_GROUP('Shared').join('\n')}\n`);
    const each = join(t.dir, '{connection}.csv');
    const results = join(t.dir, 'r-{connection}.csv');
    const cases: [Partial<FulfillManyArgs>, RegExp][] = [
      [{ files: [join(t.dir, 'shared.csv')], results }, /shared\.csv would go to each of them/],
      [{ files: ['-'], results }, /stdin is one input/],
      [{ files: [each], results: '-' }, /--results needs \{connection\}.*stdout is one stream/],
      [{ files: [each] }, /--results needs \{connection\}/],
      [{ files: [each], results, journal: join(t.dir, 'one.journal') }, /--journal needs \{connection\}/],
      [
        { files: [each], results },
        /connection Fabrikam: cannot read its input .*Fabrikam\.csv: ENOENT; nothing was sent/,
      ],
    ];
    const snapshot = () => JSON.stringify([t.contoso.tenant.list('group'), t.fabrikam.tenant.list('group')]);
    const before = snapshot();
    for (const [args, message] of cases) {
      const r = await fulfillMany(t, { all: true, ...args });
      assert.is(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.is(snapshot(), before);
  }),
);

const Cli = suite('entra export --all, the process');

Cli("the exit code is the worst connection's; a final line per connection; help names --all and --jobs", () =>
  withTwo(
    async (t) => {
      const r = await runEntra(
        [
          'export',
          '--all',
          '-s',
          t.settings,
          '--ca',
          t.ca,
          '-o',
          join(t.dir, 'out'),
          '--cookies',
          join(t.dir, 'c'),
          '-e',
          'user',
        ],
        { cwd: t.dir },
      );
      assert.is(r.code, 1, r.stderr);
      assert.equal(finalLines(r.stderr), ['entra: Contoso: exit 0', 'entra: Fabrikam: ERR_AUTH exit 1']);
      const help = await runEntra(['export', '--help']);
      assert.match(help.stdout, /--all/);
      assert.match(help.stdout, /--jobs/);
      assert.match(help.stdout, /the exit code is the most severe/);
    },
    { ApplicationKey: 'wrong-secret-value' },
  ),
);

Cli('Ctrl-C: the running connection stops as alone (exit 130), the next one does not start', () =>
  withTwo(
    async (t) => {
      const out = join(t.dir, 'out');
      const child = spawn(
        process.execPath,
        [
          ...entraArgs(),
          'export',
          '-c',
          'Contoso',
          '-c',
          'Fabrikam',
          '--jobs',
          '1',
          '--verbose',
          '-s',
          t.settings,
          '--ca',
          t.ca,
          '-o',
          out,
          '--cookies',
          join(t.dir, 'c'),
        ],
        { cwd: t.dir, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // At Contoso's second read from Graph (lines of --verbose), well inside its rounds; not at a time.
        if (!sent && (stderr.match(/^\[Contoso\] .*GET /gm)?.length ?? 0) >= 2) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.ok(sent, stderr);
      assert.is(code, 130, stderr);
      assert.match(stderr, /^\[Contoso\] entra: ERR_INTERRUPTED: /m);
      assert.equal(finalLines(stderr), [
        'entra: Contoso: ERR_INTERRUPTED exit 130',
        'entra: Fabrikam: ERR_INTERRUPTED not started, exit 130',
      ]);
      assert.not.match(stderr, /^\[Fabrikam\]/m);
      assert.equal(await readdir(out).catch(() => []), []);
    },
    {},
    { latency: { fixedMs: 300 } },
  ),
);

Cli('doctor and skus work on one connection: --connection twice is a usage error', async () => {
  for (const command of ['doctor', 'skus']) {
    const r = await runEntra([command, '-c', 'Contoso', '-c', 'Fabrikam']);
    assert.is(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^entra: ERR_USAGE: --connection is given more than once: entra ${command} works on one connection`,
      ),
    );
  }
});

Units.run();
Export.run();
Fulfill.run();
Cli.run();
