import yargs, { type Argv, type FallbackCompletionFunction } from 'yargs';
import { emulate } from '../src/commands/emulate.js';
import { doctorCommand } from '../src/commands/doctor.js';
import { skusCommand } from '../src/commands/skus.js';
import { exportConnections, fulfillConnections } from '../src/commands/multi-commands.js';
import { tuneHeapForExport } from '../src/heap-growth.js';
import { protectCommand } from '../src/commands/protect.js';
import { runCommand, usageHint } from '../src/commands/process-io.js';
import { schemaCommand } from '../src/commands/schema.js';
import { stateCommand } from '../src/commands/state.js';
import {
  exitCodesEpilog,
  helpWidth,
  numberOption,
  parallelOption,
  typedValue,
  usageMessage,
} from '../src/commands/usage.js';
import { redact } from '../src/redact.js';
import { UsageError } from '../src/errors.js';

/** The commands, and the sub-commands of those that have them (for "did you mean"). */
const COMMANDS: Record<string, string[]> = {
  '': ['emulate', 'export', 'fulfill', 'doctor', 'state', 'skus', 'schema', 'protect', 'completion'],
  protect: ['value', 'file', 'decrypt'],
};

/** Adds examples that paste as one line each: `[comment, command]`, a blank line between two. */
function examples<T>(y: Argv<T>, list: [string, string][]): Argv<T> {
  list.forEach(([comment, command], i) => {
    if (i > 0) y = y.example('', '');
    y = y.example(`# ${comment}`, '').example(command, '');
  });
  return y;
}

/** The options of every command that connects to a tenant. */
function connectionOptions<T>(y: Argv<T>) {
  return y
    .option('settings', {
      alias: 's',
      type: 'string',
      describe: 'Settings file (a sample: samples/appsettings.agent.json)',
      default: 'appsettings.agent.json',
    })
    .option('setting', {
      type: 'string',
      array: true,
      describe:
        'Override one setting, KEY=VALUE (e.g. Connections:Contoso:TenantId=...); keep secrets out of command lines',
    })
    .option('connection', {
      alias: 'c',
      type: 'string',
      describe: 'Connection name (default: the only one)',
    });
}

/** `--connection` of a command that works on one connection: given twice, a usage error (not the last one). */
function oneConnection<T>(y: Argv<T>, command: string) {
  return y.option('connection', {
    type: 'string',
    describe: 'Connection name (default: the only one)',
    coerce: (value: unknown) => {
      if (Array.isArray(value))
        throw new UsageError(
          'ERR_USAGE',
          `--connection is given more than once: entra ${command} works on one connection (export and fulfill take several)`,
        );
      return value as string;
    },
  });
}

/** `--all` and `--jobs`, and what repeating `--connection` does, for the commands that run several connections. */
function manyOptions<T>(y: Argv<T>, paths: string, number: (name: string) => (v: unknown) => number) {
  return y
    .option('connection', {
      type: 'string',
      describe: `Connection name (default: the only one); repeat it to run several at once (${paths})`,
    })
    .option('all', {
      type: 'boolean',
      describe: 'Run every connection of the settings, each with its own lock, token, files and exit code',
    })
    .option('jobs', {
      type: 'number',
      describe: 'Connections run at once with several --connection or --all (default 4)',
      coerce: number('jobs'),
    });
}

/** The exit code of a run of several connections, for the help of the commands that have them. */
const MANY_EXIT =
  'With several connections (--connection repeated, --all), each one writes its stderr lines prefixed [Name] and ends with a line ' +
  "'entra: Name: exit N' (with the error code when it failed); the exit code is the most severe of theirs: 130, then 1, 2, 4, 3, 0.";

/**
 * The `entra` command table: yargs over `args` (the command line without node and the script).
 * Handlers call src/commands/*; bin/entra.ts parses the process's arguments with it.
 */
export function entraCli(
  args: string[],
  options: {
    /** Terminal width for help (default: stdout's). */
    columns?: number;
    /** Reports a usage error (default: `entra: ERR_USAGE: ...` on stderr, exit 2); tests throw instead. */
    onUsageError?: (text: string, help: string) => never;
  } = {},
) {
  // yargs-parser drops a lone '-': glue it to the flags where it means stdout, and carry it through
  // as STDIN where it names fulfill's input file (`entra fulfill changes.csv -`).
  const STDIN = '\u0000stdin';
  const TO_STDOUT: Record<string, string> = { '--output': '--output', '-o': '--output', '--results': '--results', '-r': '--results', '--summary': '--summary' }; // prettier-ignore
  const fulfilling = args.find((a) => !a.startsWith('-')) === 'fulfill';
  const argv = args.flatMap((arg, i, all) =>
    arg === '-' && TO_STDOUT[all[i - 1] ?? '']
      ? []
      : TO_STDOUT[arg] && all[i + 1] === '-'
        ? [`${TO_STDOUT[arg]}=-`]
        : arg === '-' && fulfilling
          ? [STDIN]
          : [arg],
  );
  const number = (name: string) => numberOption(name, (n) => typedValue(argv, n));
  const cli: Argv = yargs(argv);
  return cli
    .scriptName('entra')
    .usage('$0 <command> [options]')
    .option('verbose', {
      alias: 'v',
      type: 'boolean',
      describe: 'One line per request, stack traces on errors',
    })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'No progress or summary on stderr' })
    .command(
      'emulate',
      'Serve an emulated Microsoft Graph and identity platform on 127.0.0.1 (HTTPS)',
      (y) =>
        examples(
          y
            .option('port', {
              alias: 'p',
              type: 'number',
              describe: 'Port (default: a free one)',
              coerce: number('port'),
            })
            .option('tenant', { type: 'string', describe: 'Tenant JSON file (default: the sample tenant)' })
            .option('users', {
              type: 'number',
              describe: 'Generate a tenant with N users',
              coerce: number('users'),
            })
            .option('groups', { type: 'number', describe: 'Generate M groups', coerce: number('groups') })
            .option('seed', {
              type: 'number',
              describe: 'Seed of the generated tenant',
              default: 1,
              coerce: number('seed'),
            })
            .option('latency', {
              type: 'number',
              describe: 'Added latency per request, ms',
              coerce: number('latency'),
            })
            .option('jitter', {
              type: 'number',
              describe: 'Random extra latency up to this, ms',
              coerce: number('jitter'),
            })
            .option('faults', {
              type: 'string',
              describe: "Faults, e.g. '429:0.1,503*3@/users/delta,reset:0.01'",
            })
            .option('throttle', {
              type: 'boolean',
              default: true,
              describe: "Graph's throttling limits (--no-throttle to switch off)",
            })
            .option('page-size', {
              type: 'number',
              describe: 'Objects per delta page (default 200)',
              coerce: number('page-size'),
            })
            .option('settings-out', { type: 'string', describe: 'Write a ready appsettings.agent.json here' })
            .option('ca-out', {
              type: 'string',
              describe: "Write the emulator's CA certificate here (default: a temp file, removed at the end)",
            })
            .option('connection', {
              alias: 'c',
              type: 'string',
              default: 'Contoso',
              describe: 'Connection name in --settings-out',
            })
            .option('certificate-out', {
              type: 'string',
              describe:
                'Register a generated certificate on the app; write DIR/app.pem (certificate + key), DIR/app.pfx and its password in DIR/app.pfx.password',
            })
            .option('federated-token-out', {
              type: 'string',
              describe:
                'Register a federated credential (workload identity) on the app; write a signed assertion to FILE (valid 1 hour, rewritten every 30 minutes)',
            })
            .option('managed-identity', {
              type: 'boolean',
              describe:
                'Serve an App Service style managed-identity endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER in the JSON line)',
            })
            .option('key-vault', {
              type: 'boolean',
              describe:
                "Serve an Azure Key Vault holding the app's secret (Connections--<connection>--ApplicationKey), readable by the app and the managed identity",
            })
            .option('cyberark', {
              type: 'string',
              describe:
                "Serve a CyberArk CCP (mutual TLS) holding the app's secret; write its client certificate and key to DIR",
            }),
          [
            [
              'Serve the sample tenant; write settings and the CA for the connector',
              '$0 emulate --settings-out appsettings.agent.json --ca-out ca.pem',
            ],
            [
              'Sign in with a certificate (the settings use certs/app.pem)',
              '$0 emulate --certificate-out certs --settings-out appsettings.agent.json',
            ],
            [
              'The secret in Key Vault, read as the managed identity: none in kv.json',
              '$0 emulate --key-vault --managed-identity --settings-out kv.json',
            ],
            ['Serve a generated tenant', '$0 emulate --users 100000 --groups 5000 --seed 7'],
            ['A slow, unreliable Graph', "$0 emulate --latency 100 --faults '429:0.05,reset:0.01'"],
          ],
        ).epilog(
          'Ctrl-C, SIGTERM or closing its terminal (SIGHUP, exit 129) stops it and removes the temp CA.\n\n' +
            exitCodesEpilog([0, 1, 2, 130], {
              0: '0 stopped by SIGTERM',
              1: '1 could not start',
              2: '2 a bad option (or a --port in use), nothing started',
              130: '130 interrupted (Ctrl-C)',
            }),
        ),
      (args) => runCommand(() => emulate(args), args, 'entra emulate --help'),
    )
    .command(
      'export',
      'Export users, groups, roles and service principals, and their links, to CSV (delta queries)',
      (y) =>
        examples(
          manyOptions(
            connectionOptions(y),
            '{connection} in --output or --cookies is replaced by each name',
            number,
          )
            .option('output', {
              alias: 'o',
              type: 'string',
              describe: "Output folder (default ExportOutput; DemoOutput with --demo), or '-' for stdout",
            })
            .option('cookies', {
              type: 'string',
              describe: 'Folder of the delta cookies',
              default: 'ExportCookies',
            })
            .option('ignore-cookies', {
              type: 'boolean',
              describe: 'Run a complete round even where cookies exist',
            })
            .option('advance-cookies', {
              type: 'boolean',
              describe:
                "Move the connection's cookies even from a run that is not its scheduled run (--output -, another folder, other --entities/--select)",
            })
            .option('diff', {
              type: 'boolean',
              describe:
                "Exact changes against the connection's snapshot: insert only for the new, update only when cells changed, delete for what is gone (complete rounds too)",
            })
            .option('entities', {
              alias: 'e',
              type: 'string',
              array: true,
              describe: 'Entities to export, e.g. user,group (see entra schema)',
            })
            .option('select', {
              type: 'string',
              array: true,
              describe: 'Attributes per entity, e.g. user=displayName,mail,manager (see entra schema user)',
            })
            .option('mapping', {
              alias: 'm',
              type: 'string',
              describe: 'Mapping file: JSON or Identity Manager XML',
            })
            .option('format', {
              alias: 'f',
              choices: ['csv', 'ndjson'] as const,
              describe: 'Format with --output - (default csv)',
            })
            .option('table', {
              alias: 't',
              type: 'string',
              describe: 'Table written to stdout with --format csv (default directoryobjects)',
            })
            .option('parallel', {
              type: 'string',
              describe:
                "Complete rounds of users and groups in parallel partitions: auto (default: adapted to Graph's answers, for large tenants) or N requests in flight; 1 = the sequential round (see README, Performance)",
              coerce: parallelOption((n) => typedValue(argv, n)),
            })
            .option('demo', {
              type: 'boolean',
              describe:
                'Export the built-in emulated sample tenant to ./DemoOutput as connection Demo (no settings, no cookies)',
            })
            .option('ca', {
              type: 'string',
              describe: 'PEM CA file to trust besides the system roots (e.g. from entra emulate --ca-out)',
            })
            .option('progress', { type: 'boolean', describe: 'Progress lines on stderr even without a TTY' })
            .option('max-deletes', {
              type: 'string',
              describe:
                "Stop a round with more delete rows than N, or P% of the snapshot's objects, or off (default 500; settings key ExportMaxDeletes)",
            })
            .option('force', { type: 'boolean', describe: 'Pass the --max-deletes threshold this once' })
            .option('summary', {
              type: 'string',
              describe:
                "Write one JSON document of the run to FILE when it ends, failed runs too (rows per table and command, pages, requests, retries, throttle waits, modes, cookie ages, duration, exit status); '-' for stdout with --output DIR",
            }),
          [
            ['Export the emulated sample tenant to ./DemoOutput', '$0 export --demo'],
            [
              'A complete round the first time, incremental rounds from the cookies after',
              '$0 export -s appsettings.agent.json -c Contoso',
            ],
            ['A complete round, whatever the cookies say', '$0 export --ignore-cookies'],
            ['Exact changes against the snapshot, deletes too, whatever the round', '$0 export --diff'],
            [
              'Only users and groups; users with id, displayName and mail',
              '$0 export -e user,group --select user=displayName,mail',
            ],
            [
              'Users with their managers: Contoso_manager_user.csv (Command,userId,id)',
              '$0 export --select user=displayName,manager',
            ],
            [
              'Against entra emulate --ca-out ca.pem (or NODE_EXTRA_CA_CERTS=ca.pem)',
              '$0 export --ca ca.pem',
            ],
            ['One table to stdout', '$0 export -o - -t members_group | wc -l'],
            [
              'Every row of every table as NDJSON',
              `$0 export -o - -f ndjson | jq -c 'select(.table=="members_group")'`,
            ],
            [
              'Stop (exit 4, nothing written) when a round deletes more than 50 rows',
              '$0 export --max-deletes 50',
            ],
            ['After looking at an exit 4: let this one round through', '$0 export --force'],
            [
              'Two tenants at once, each into a folder of its own; exit code: the worst',
              "$0 export -c Contoso -c Fabrikam -o 'ExportOutput/{connection}'",
            ],
            ['Every connection of the settings, two at a time', '$0 export --all --jobs 2'],
            [
              'For a scheduler: a JSON summary of the run, also when it fails',
              '$0 export --summary run.json; jq .exit,.rows run.json',
            ],
            [
              'A large complete round that a killed run can resume (checkpointed)',
              '$0 export --ignore-cookies --parallel 1',
            ],
          ],
        ).epilog(
          "Which runs advance cookies: a run into the scheduled run's folder with the mapping of the cookies (or the first run) does; " +
            'a run to stdout, into another folder, or with other --entities/--select, reads them and moves none unless --advance-cookies ' +
            "(and may not write into the scheduled run's folder); --demo has none. One run at a time per connection " +
            '(a lock in the cookie folder). A failed, interrupted or killed run leaves the previous CSVs and cookies as they were. ' +
            'A scheduled run killed while reading continues on the next run from its last checkpoint (every 50 pages; hidden .<connection>_<table>.csv.part files and .<connection>_resume.json), ' +
            '--parallel partitions included (each where it stopped), except --diff runs, which start that round over. ' +
            'A round whose delete rows (all tables) exceed --max-deletes writes nothing and keeps the cookies (exit 4); with --output - the rows went out as they came, the cookies stay. ' +
            '--diff keeps a snapshot beside the cookies (<connection>_snapshot.sqlite), committed with them; without --diff it is neither read nor written.\n\n' +
            exitCodesEpilog([0, 1, 2, 4, 130], {
              4: '4 more delete rows than --max-deletes: nothing written, cookies kept',
            }) +
            `\n\n${MANY_EXIT}`,
        ),
      (args) =>
        runCommand(
          () => {
            tuneHeapForExport();
            return exportConnections(args);
          },
          args,
          'entra export --help',
        ),
    )
    .command(
      'fulfill [files..]',
      'Apply command CSVs to the tenant: create, update, delete objects; invite guests; add and remove members, owners and managers; assign licences',
      (y) =>
        examples(
          manyOptions(
            connectionOptions(
              y.positional('files', {
                type: 'string',
                array: true,
                describe: "Command CSV files, or '-' for stdin",
              }),
            ),
            'inputs and --results name theirs with {connection}, as --journal and --password-file if given',
            number,
          )
            .option('results', {
              alias: 'r',
              type: 'string',
              describe: "Results file, or '-' for stdout",
              default: '-',
            })
            .option('format', {
              alias: 'f',
              choices: ['csv', 'ndjson'] as const,
              default: 'csv' as const,
              describe: 'Results format',
            })
            .option('dry-run', {
              alias: 'n',
              type: 'boolean',
              describe:
                'Write nothing; run every check of the run (passwords, names looked up with reads) and report each planned request',
            })
            .option('journal', {
              alias: 'j',
              type: 'string',
              describe: 'Journal file: a rerun skips finished rows, never creates twice',
            })
            .option('navigation', {
              choices: ['members', 'owners', 'manager'] as const,
              describe: 'Navigation of link rows when the file name does not say',
            })
            .option('concurrency', {
              type: 'number',
              default: 4,
              describe: '$batch requests in flight',
              coerce: number('concurrency'),
            })
            .option('encoding', {
              type: 'string',
              describe: 'Encoding of input files without a byte order mark, if not UTF-8 (e.g. windows-1252)',
            })
            .option('delimiter', {
              type: 'string',
              describe: 'Input delimiter: , ; tab or | (detected from the header by default)',
            })
            .option('password-file', {
              type: 'string',
              describe: 'Protected file (mode 0600) for generated initial passwords',
            })
            .option('redeem-urls', {
              type: 'boolean',
              describe:
                "Add invited guests' inviteRedeemUrl to the results (needs --results FILE, written mode 0600)",
            })
            .option('write-budget', {
              type: 'string',
              describe: "Pace writes: WRITES/SECONDS (Graph's 3000/150 by default) or off",
            })
            .option('ca', {
              type: 'string',
              describe: "Extra CA certificate (PEM) to trust, e.g. the emulator's",
            })
            .option('progress', { type: 'boolean', describe: 'Progress lines on stderr even without a TTY' })
            .option('max-deletes', {
              type: 'string',
              describe:
                'Send nothing when the input has more delete rows than N, or P% of its rows, or off (default 500; settings key FulfillMaxDeletes)',
            })
            .option('force', { type: 'boolean', describe: 'Pass the --max-deletes threshold this once' })
            .option('summary', {
              type: 'string',
              describe:
                "Write one JSON document of the run to FILE when it ends, failed runs too (results per table, command and status, requests, retries, throttle and budget waits, duration, exit status); '-' for stdout with --results FILE",
            }),
          [
            ['Show the requests, send nothing', '$0 fulfill Contoso_directoryobjects.csv --dry-run'],
            [
              'Apply, safely replayable: a rerun skips what is done',
              '$0 fulfill changes.csv --journal run.journal --results results.csv',
            ],
            [
              'Create users with generated passwords',
              '$0 fulfill new-users.csv --password-file passwords.csv',
            ],
            ['Link rows from stdin', 'cat links.csv | $0 fulfill - --navigation members'],
            ['A CSV saved by Excel on Windows', '$0 fulfill changes.csv --encoding windows-1252'],
            [
              'Set and remove managers (Command,userId,id); a replay is skipped',
              '$0 fulfill Contoso_manager_user.csv',
            ],
            [
              'Licences: an array is the whole set, {"add":[..],"remove":[..]} a change',
              '$0 fulfill licences.csv',
            ],
            [
              'Invite guests (invitedUserEmailAddress cells), keep their redeem links',
              '$0 fulfill guests.csv --results results.csv --redeem-urls',
            ],
            [
              'Refuse files with more than 5% delete rows (exit 4, nothing sent)',
              '$0 fulfill changes.csv --max-deletes 5%',
            ],
            [
              'Each connection its own input and results: {connection} is its name',
              "$0 fulfill --all 'in/{connection}.csv' -r 'out/{connection}.csv'",
            ],
            [
              'For a scheduler: results to a file, the JSON summary on stdout',
              "$0 fulfill changes.csv -r results.csv --summary - | jq '.status'",
            ],
          ],
        ).epilog(
          'Delete rows are counted in a first pass over the files, before anything is sent (stdin too: it is copied to a ' +
            'temp file first); --dry-run counts them too and exits 4 where a real run would stop.\n\n' +
            exitCodesEpilog([0, 1, 2, 3, 4, 130], {
              4: '4 more delete rows than --max-deletes: nothing sent',
            }) +
            `\n\n${MANY_EXIT}`,
        ),
      (args) =>
        runCommand(
          async () => {
            // STDIN stands for a lone '-' only among the input files; after any other option it is a mistake.
            for (const [key, value] of Object.entries(args))
              if (key !== 'files' && /^[a-z][a-z-]+$/.test(key) && [value].flat().includes(STDIN))
                throw new UsageError(
                  'ERR_USAGE',
                  `--${key} -: not a value of this option ('-' is stdin or stdout for the input files, --results and --summary only)`,
                );
            if (args.files?.includes(''))
              throw new UsageError(
                'ERR_USAGE',
                "an input file name is empty: name a CSV file, or '-' for stdin",
              );
            return fulfillConnections({ ...args, files: args.files?.map((f) => (f === STDIN ? '-' : f)) });
          },
          args,
          'entra fulfill --help',
        ),
    )
    .command(
      'doctor',
      'Check a connection end to end without changing anything: settings, token, permissions, one delta page per entity',
      (y) =>
        examples(
          oneConnection(connectionOptions(y), 'doctor')
            .option('ca', {
              type: 'string',
              describe: "Extra CA certificate (PEM) to trust, e.g. the emulator's",
            })
            .option('entities', {
              alias: 'e',
              type: 'string',
              array: true,
              describe: 'Entities to check, e.g. user,group (default: all four)',
            })
            .option('json', {
              type: 'boolean',
              describe: 'One JSON document on stdout: every check with its verdict, and the overall verdict',
            }),
          [
            ['One verdict line per check; exit 1 if any fails', '$0 doctor -s appsettings.agent.json'],
            [
              'For monitoring: the failed checks',
              '$0 doctor --json | jq \'.checks[] | select(.verdict=="FAIL")\'',
            ],
            [
              'A secret from the environment; only what exporting users needs',
              'Connections__Contoso__ApplicationKey=... $0 doctor -e user',
            ],
          ],
        ).epilog(
          'Each setting is shown with the layer it came from (file, encrypted file, Azure Key Vault, CyberArk, environment, command line, default); ' +
            'secrets show as ***.\n\n' +
            exitCodesEpilog([0, 1, 2, 130], {
              0: '0 ready',
              1: '1 a check failed (an unreachable host fails within seconds)',
              2: '2 the settings cannot be read',
            }),
        ),
      (args) => runCommand(() => doctorCommand(args), args, 'entra doctor --help'),
    )
    .command(
      'skus',
      "List the tenant's licence SKUs (skuId, skuPartNumber, seats bought and used) on stdout",
      (y) =>
        examples(
          oneConnection(connectionOptions(y), 'skus')
            .option('ca', {
              type: 'string',
              describe: "Extra CA certificate (PEM) to trust, e.g. the emulator's",
            })
            .option('format', {
              alias: 'f',
              choices: ['csv', 'ndjson'] as const,
              default: 'csv' as const,
              describe: 'csv (skuId,skuPartNumber,enabled,consumedUnits,capabilityStatus) or ndjson',
            }),
          [
            ['The SKUs, to map the skuIds of an export to their names', '$0 skus'],
            [
              'Seats left per SKU',
              "$0 skus -f ndjson | jq -r '[.skuPartNumber,.enabled-.consumedUnits]|@tsv'",
            ],
          ],
        ).epilog(
          'Needs Organization.Read.All (or Directory.Read.All).\n\n' +
            exitCodesEpilog([0, 1, 2, 130], { 1: '1 Graph refused or cannot be reached' }),
        ),
      (args) => runCommand(() => skusCommand(args), args, 'entra skus --help'),
    )
    .command(
      'state',
      "A connection's state: each cookie's age and days left, $select, snapshot counts, the last runs",
      (y) =>
        examples(
          y
            .option('connection', {
              alias: 'c',
              type: 'string',
              describe: 'Connection name (default: every connection with state in the cookie folder)',
            })
            .option('cookies', {
              type: 'string',
              describe: 'Folder of the delta cookies',
              default: 'ExportCookies',
            })
            .option('json', {
              type: 'boolean',
              describe: 'One JSON document, for schedulers and monitoring',
            }),
          [
            ['Every connection in ./ExportCookies', '$0 state'],
            [
              'Days left before the user cookie expires',
              "$0 state -c Contoso --json | jq '.connections[0].entities'",
            ],
          ],
        ).epilog(
          'Reads the cookie folder only: no settings, no token, no request. A cookie older than 7 days means a ' +
            'complete round next time (export warns from 5 days on).\n\n' +
            exitCodesEpilog([0, 2], { 2: '2 no state for --connection in the cookie folder' }),
        ),
      (args) => runCommand(() => stateCommand(args), args, 'entra state --help'),
    )
    .command(
      'schema [entity]',
      'List the attributes of each entity: type, exportable or Get-only, writable or read-only; and the link tables',
      (y) =>
        examples(
          y
            .positional('entity', {
              type: 'string',
              describe: 'user, group, directoryRole or servicePrincipal (default: a summary of each)',
            })
            .option('json', { type: 'boolean', describe: 'JSON, for programs' }),
          [
            ['The entities, their attribute counts and link tables', '$0 schema'],
            ['What can be exported of users, and what fulfill can write', '$0 schema user'],
            ['The names only', "$0 schema user --json | jq -r '.attributes[].name'"],
          ],
        ).epilog(exitCodesEpilog([0, 2], { 2: '2 unknown entity' })),
      (args) => runCommand(() => schemaCommand(args), args, 'entra schema --help'),
    )
    .command('protect', 'Encrypt settings values for the EncryptionCertificate, and decrypt them', (y) => {
      // Each sub-command takes only what it uses: encrypting needs no private key.
      const certificate = <U>(c: Argv<U>) =>
        c
          .option('certificate', {
            type: 'string',
            describe: 'Certificate: PEM, or PFX (password in $ENTRA_CERTIFICATE_PASSWORD)',
          })
          .option('password', {
            type: 'string',
            describe: 'PFX password; prefer $ENTRA_CERTIFICATE_PASSWORD',
          })
          .option('settings', {
            alias: 's',
            type: 'string',
            describe: 'Take the EncryptionCertificate section of this settings file',
          });
      const key = <U>(c: Argv<U>) =>
        c.option('key', {
          type: 'string',
          describe: 'Setting key the value is bound to, e.g. Connections:Contoso:ApplicationKey',
        });
      const valueExample: [string, string] = [
        "Encrypt a secret from stdin for the settings' EncryptionCertificate",
        '$0 protect value --key Connections:Contoso:ApplicationKey < secret.txt',
      ];
      const fileExample: [string, string] = [
        'Encrypt every value of a settings file',
        '$0 protect file appsettings.agent.json appsettings.encrypted.agent.json',
      ];
      const decryptExample: [string, string] = [
        'Read generated passwords (PFX password in $ENTRA_CERTIFICATE_PASSWORD)',
        '$0 protect decrypt --certificate enc.pfx --file passwords.csv',
      ];
      const epilog = exitCodesEpilog([0, 1, 2, 130]);
      return examples(
        y
          .command(
            'value [values..]',
            'Print one ciphertext per value (values from stdin, one per line, when none is given)',
            (c) =>
              examples(key(certificate(c)).positional('values', { type: 'string', array: true }), [
                valueExample,
              ]).epilog(epilog),
            (args) =>
              runCommand(
                // Values after `--` (a value starting with '-') land in `_`, after the two command names.
                () =>
                  protectCommand({
                    ...args,
                    action: 'value',
                    values: [...(args.values ?? []), ...args._.slice(2).map(String)],
                  }),
                args,
                'entra protect value --help',
              ),
          )
          .command(
            'file <input> <output>',
            'Write OUTPUT (mode 0600) with every string value of the settings file INPUT encrypted',
            (c) =>
              examples(
                certificate(c)
                  .positional('input', { type: 'string', demandOption: true })
                  .positional('output', { type: 'string', demandOption: true })
                  .option('force', { type: 'boolean', describe: 'Replace an existing OUTPUT' }),
                [fileExample],
              ).epilog(epilog),
            (args) =>
              runCommand(
                () => protectCommand({ ...args, action: 'file' }),
                args,
                'entra protect file --help',
              ),
          )
          .command(
            'decrypt [values..]',
            'Decrypt values (or stdin), or --file: an encrypted settings or password file (private key needed)',
            (c) =>
              examples(
                key(certificate(c))
                  .positional('values', { type: 'string', array: true })
                  .option('private-key', {
                    type: 'string',
                    describe: 'Separate PEM private key of --certificate',
                  })
                  .option('file', {
                    type: 'string',
                    describe: 'Encrypted settings (JSON) or password (CSV) file',
                  }),
                [decryptExample],
              ).epilog(epilog),
            (args) =>
              runCommand(
                // Values after `--` (a value starting with '-') land in `_`, after the two command names.
                () =>
                  protectCommand({
                    ...args,
                    action: 'decrypt',
                    values: [...(args.values ?? []), ...args._.slice(2).map(String)],
                  }),
                args,
                'entra protect decrypt --help',
              ),
          ),
        [valueExample, fileExample, decryptExample],
      )
        .epilog(epilog)
        .demandCommand(1, 'name a protect command: value, file or decrypt');
    })
    .command(
      'completion',
      'Print a shell completion script (bash, zsh): entra completion >> ~/.bashrc',
      // yargs' completion command prints its script even for --help: this one has help, then prints
      // yargs' script; yargs' own stays hidden under another name.
      (y) =>
        examples(y, [
          ['Tab completion of commands and options in bash', '$0 completion >> ~/.bashrc'],
          ['The same in zsh', '$0 completion >> ~/.zshrc'],
        ]).epilog(exitCodesEpilog([0])),
      () => {
        // Not in @types/yargs: the script's name and the command it names in its comments.
        (cli as unknown as { showCompletionScript($0: string, cmd: string): void }).showCompletionScript(
          'entra',
          'completion',
        );
      },
    )
    .completion(
      'completion-script',
      false,
      // yargs offers `--v` beside `--verbose` for a short alias: keep the real spellings only.
      ((_current, _argv, completionFilter, done) =>
        completionFilter((_error, list) =>
          done((list ?? []).filter((c) => !/^--[^-]$/.test(c))),
        )) satisfies FallbackCompletionFunction,
    )
    .demandCommand(1, `name a command: ${COMMANDS['']!.join(', ')} (see entra --help)`)
    .strict()
    .fail((message, error) => {
      // yargs' own checks (and our number options) end here; anything else is a bug, shown as such.
      if (error && error.name !== 'YError') throw error;
      // Not in @types/yargs: the command path being parsed, and the options it declares.
      const internals = cli as unknown as {
        getInternalMethods(): { getContext(): { commands: string[] } };
        getOptions(): { key: Record<string, unknown> };
      };
      const path = internals.getInternalMethods().getContext().commands;
      const known = Object.keys(internals.getOptions().key);
      const text = usageMessage(message, argv, known, COMMANDS[path.join(' ')] ?? []);
      const help = ['entra', ...path, '--help'].join(' ');
      if (options.onUsageError) options.onUsageError(text, help);
      process.stderr.write(redact(`entra: ERR_USAGE: ${text}\n${usageHint(help)}`));
      process.exit(2);
    })
    .help()
    .alias('help', 'h')
    .example('# Try it: export an emulated sample tenant to ./DemoOutput', '')
    .example('$0 export --demo', '')
    .example('', '')
    .example('# Check a connection end to end, changing nothing', '')
    .example('$0 doctor -s appsettings.agent.json', '')
    .example('', '')
    .example('# What can be exported of users, and what fulfill can write', '')
    .example('$0 schema user', '')
    .example('', '')
    .example('# Tab completion of commands and options in bash or zsh', '')
    .example('$0 completion >> ~/.bashrc', '')
    .alias('version', 'V')
    .epilog(
      `${exitCodesEpilog([0, 1, 2, 3, 4, 130])}\n\nEach command's --help has examples; the README has the walk-throughs.`,
    )
    .wrap(helpWidth(options.columns ?? process.stdout.columns));
}
