import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { entraCli } from '../bin/cli.js';
import { EXAMPLE_MAX } from '../src/commands/usage.js';
import { runEntra } from './helpers/cli.js';
import { withDir } from './helpers/common.js';

class Usage extends Error {}

/** The one-line usage error `args` get, parsed in-process (nothing runs). */
async function usageError(args: string[]): Promise<string> {
  try {
    await entraCli(args, {
      onUsageError: (text) => {
        throw new Usage(text);
      },
    }).parseAsync();
  } catch (error) {
    if (error instanceof Usage) return error.message;
    throw error;
  }
  throw new Error(`no usage error for ${args.join(' ')}`);
}

/** What `entra <args>` prints for --help or completion, at a terminal width of `columns`, in-process. */
function output(args: string[], columns = 80): Promise<{ text: string; argv: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    // With a callback, parse() hands over what it would print instead of printing it.
    void entraCli(args, { columns }).parse(args, {}, (error, argv, text) =>
      error ? reject(error) : resolve({ text, argv }),
    );
  });
}

const COMMANDS = [
  [],
  ['emulate'],
  ['export'],
  ['fulfill'],
  ['doctor'],
  ['skus'],
  ['state'],
  ['schema'],
  ['protect'],
  ['protect', 'value'],
  ['protect', 'file'],
  ['protect', 'decrypt'],
  ['completion'],
];

// ---

const Errors = suite('entraCli: usage errors');

Errors('an unknown flag is named once, with the flag it most likely meant', async () => {
  assert.is(
    await usageError(['export', '--ignore-cookie']),
    'unknown option --ignore-cookie (did you mean --ignore-cookies?)',
  );
  assert.is(
    await usageError(['fulfill', '--dryrun', 'f.csv']),
    'unknown option --dryrun (did you mean --dry-run?)',
  );
  assert.is(await usageError(['export', '--zzz']), 'unknown option --zzz');
  assert.is(await usageError(['export', '-x']), 'unknown option -x');
});

Errors('an unknown command or sub-command gets the nearest one and the list', async () => {
  assert.is(
    await usageError(['exprt']),
    "unknown command 'exprt' (did you mean 'export'?); commands: emulate, export, fulfill, doctor, state, skus, schema, protect, completion",
  );
  assert.is(
    await usageError(['protect', 'valu']),
    "unknown command 'valu' (did you mean 'value'?); commands: value, file, decrypt",
  );
  assert.is(await usageError(['export', 'extra']), "unexpected argument 'extra'");
});

Errors('a number option quotes what was typed when it is not a number', async () => {
  assert.is(await usageError(['emulate', '--users', 'abc']), "--users expects a number, got 'abc'");
  assert.is(await usageError(['emulate', '--port=x1']), "--port expects a number, got 'x1'");
  assert.is(await usageError(['emulate', '--users']), '--users needs a number');
  assert.is(await usageError(['emulate', '--seed', '1', '--seed', '2']), '--seed is given more than once');
  assert.is(
    await usageError(['fulfill', '--concurrency', 'many']),
    "--concurrency expects a number, got 'many'",
  );
  assert.is(
    await usageError(['export', '--parallel', 'x']),
    "--parallel expects auto or a number of requests in flight, got 'x'",
  );
});

Errors('--parallel takes auto or a number', async () => {
  for (const [typed, parsed] of [
    ['auto', 'auto'],
    ['AUTO', 'auto'],
    ['8', 8],
    ['1', 1],
  ] as const) {
    const { argv } = await output(['export', '--parallel', typed, '--help']);
    assert.is(argv.parallel, parsed, typed);
  }
});

Errors('bad choices are one line naming each option, the value and the choices', async () => {
  assert.is(
    await usageError(['fulfill', '--navigation', 'x', '--format', 'xml']),
    "--navigation 'x' is not one of members, owners, manager; --format 'xml' is not one of csv, ndjson",
  );
  assert.is(await usageError(['export', '--format']), '--format needs a value: one of csv, ndjson');
});

Errors('a missing command says which there are', async () => {
  assert.match(
    await usageError([]),
    /^name a command: emulate, export, fulfill, doctor, state, skus, schema, protect/,
  );
  assert.is(await usageError(['protect']), 'name a protect command: value, file or decrypt');
});

Errors.run();

// ---

const Help = suite('entraCli: help');

Help("every command's help lists its exit codes; fulfill's include 3 and 4", async () => {
  for (const command of COMMANDS) {
    const { text } = await output([...command, '--help']);
    assert.match(text, /\nExit codes:\n {2}0 {4}/, command.join(' '));
  }
  const { text } = await output(['fulfill', '--help']);
  assert.match(text, /\n {2}3 {4}finished, but some rows failed \(see the results\)\n/);
  assert.match(text, /\n {2}4 {4}more delete rows than --max-deletes: nothing sent\n/);
  assert.match(text, /\n {2}130 {2}interrupted \(Ctrl-C, SIGTERM\)/);
  // Commands that wait on Graph or stdin can be interrupted too, with the same code.
  for (const command of [['doctor'], ['skus'], ['protect', 'value']])
    assert.match((await output([...command, '--help'])).text, /\n {2}130 {2}interrupted/, command.join(' '));
});

Help('every example is one line that pastes whole, on an 80-column terminal', async () => {
  for (const command of COMMANDS) {
    const { text } = await output([...command, '--help'], 80);
    const block = text.split('\nExamples:\n')[1]?.split(/\n\n(?! {2})/)[0];
    assert.ok(block, `${command.join(' ')} has examples`);
    for (const example of block.split('\n\n')) {
      const lines = example.split('\n');
      assert.is(lines.length, 2, `one comment and one command line:\n${example}`);
      assert.match(lines[0]!, /^ {2}# /);
      assert.ok(lines[1]!.length - 2 <= EXAMPLE_MAX, lines[1]);
      assert.match(lines[1]!, /^ {2}(\S+=\S+ |cat \S+ \| )?entra /);
    }
  }
});

Help("protect's sub-commands show only the options that apply to them", async () => {
  const options = async (sub: string) =>
    (await output(['protect', sub, '--help'])).text.match(/--[a-z-]+/g)!.filter((o) => o !== '--help');
  const value = await options('value');
  const file = await options('file');
  const decrypt = await options('decrypt');
  for (const o of ['--certificate', '--password', '--settings', '--key'])
    assert.ok(value.includes(o), `value ${o}`);
  for (const o of ['--private-key', '--force', '--file']) assert.not.ok(value.includes(o), `value ${o}`);
  assert.ok(file.includes('--force'));
  for (const o of ['--private-key', '--key', '--file']) assert.not.ok(file.includes(o), `file ${o}`);
  for (const o of ['--private-key', '--file', '--key']) assert.ok(decrypt.includes(o), `decrypt ${o}`);
  assert.not.ok(decrypt.includes('--force'));
});

Help('short flags stand for the common options, and -o - / -r - mean stdout', async () => {
  const exported = (
    await output([
      'export',
      '-o',
      '-',
      '-s',
      'a.json',
      '-c',
      'Contoso',
      '-e',
      'user',
      '-f',
      'ndjson',
      '--help',
    ])
  ).argv;
  assert.equal(
    [exported.output, exported.settings, exported.connection, exported.entities, exported.format],
    ['-', 'a.json', 'Contoso', ['user'], 'ndjson'],
  );
  const fulfilled = (await output(['fulfill', 'f.csv', '-n', '-j', 'run.journal', '-r', '-', '--help'])).argv;
  assert.equal([fulfilled.dryRun, fulfilled.journal, fulfilled.results], [true, 'run.journal', '-']);
  const { text } = await output(['export', '--help']);
  for (const flag of [
    '-o, --output',
    '-s, --settings',
    '-c, --connection',
    '-e, --entities',
    '-m, --mapping',
  ])
    assert.ok(text.includes(flag), flag);
});

Help.run();

// ---

const Completion = suite('entraCli: completion');

Completion('entra completion prints a bash/zsh script; the completions list real flags only', async () => {
  const { text } = await output(['completion']);
  assert.match(text, /^###-begin-entra-completions-###/);
  assert.match(text, /entra --get-yargs-completions/);
  // yargs answers completion queries after parse() returns: ask a real process.
  const { stdout: flags } = await runEntra(['--get-yargs-completions', 'export', '--']);
  const list = flags.split('\n');
  assert.ok(list.includes('--ignore-cookies'));
  assert.not.ok(list.includes('--o'), flags);
  // Its help is help, not the script.
  const help = await output(['completion', '--help']);
  assert.not.match(help.text, /###-begin-entra-completions-###/);
  assert.match(help.text, /^entra completion\n/);
});

Completion.run();

// ---

const Process = suite('entra (CLI): usage errors');

Process('entra export --ignore-cookie exits 2 with one clear line and a pointer to help', async () => {
  const r = await runEntra(['export', '--ignore-cookie']);
  assert.is(r.code, 2);
  assert.is(r.stdout, '');
  assert.is(
    r.stderr,
    "entra: ERR_USAGE: unknown option --ignore-cookie (did you mean --ignore-cookies?)\nRun 'entra export --help' for usage.\n",
  );
});

Process(
  "every command's own usage errors end as yargs' do: one line, the pointer to help, exit 2",
  async () => {
    // Each found by the command itself (not by yargs): a range, a contradiction, a name, a missing option.
    const cases = [
      ['emulate', '--users', '-5'],
      ['export', '--jobs', '0', '-c', 'A', '-c', 'B'],
      ['fulfill', '--redeem-urls', 'f.csv'],
      ['doctor', '-c', 'A', '-c', 'A'],
      ['skus', '-c', 'A', '-c', 'B'],
      ['schema', 'bogus'],
      ['protect', 'value', '--key', 'Connections:A:ApplicationKey'],
      ['protect', 'decrypt', 'abc'],
    ];
    await withDir(async (dir) => {
      for (const args of cases) {
        const r = await runEntra(args, { cwd: dir });
        const help = ['entra', ...args.slice(0, args[0] === 'protect' ? 2 : 1), '--help'].join(' ');
        assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.is(r.stdout, '');
        assert.match(
          r.stderr,
          new RegExp(`^entra: ERR_USAGE: [^\\n]+\\nRun '${help}' for usage\\.\\n$`),
          args.join(' '),
        );
      }
    });
  },
);

Process(
  "a lone '-' is stdout after --summary, and a usage error naming the option where it means nothing",
  async () => {
    await withDir(async (dir) => {
      const cases = [
        ['fulfill', 'c.csv', '--journal', '-'],
        ['fulfill', 'c.csv', '--password-file', '-'],
        ['fulfill', 'c.csv', '-s', '-'],
        ['fulfill', 'c.csv', '--encoding', '-'],
      ];
      for (const args of cases) {
        const r = await runEntra(args, { cwd: dir });
        assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        const option = args[2] === '-s' ? '--settings' : args[2]!;
        assert.match(r.stderr, new RegExp(`^entra: ERR_USAGE: ${option} -: not a value of this option \\(`));
        assert.not.ok(r.stderr.includes('\u0000'), 'no internal marker');
      }
      const empty = await runEntra(['fulfill', ''], { cwd: dir });
      assert.is(empty.code, 2, empty.stderr);
      assert.is(
        empty.stderr,
        "entra: ERR_USAGE: an input file name is empty: name a CSV file, or '-' for stdin\nRun 'entra fulfill --help' for usage.\n",
      );
      // As the README and fulfill --help write it: the summary on stdout, the rows in files.
      const run = await runEntra(['export', '--demo', '-o', 'out', '--summary', '-', '-q'], { cwd: dir });
      assert.is(run.code, 0, run.stderr);
      assert.is(JSON.parse(run.stdout).command, 'export');
    });
  },
);

Process.run();
