import yargs, { type Argv } from 'yargs';
import { emulate } from '../src/commands/emulate.js';
import { doctorCommand } from '../src/commands/doctor.js';
import { exportCommand } from '../src/commands/export.js';
import { fulfillCommand } from '../src/commands/fulfill.js';
import { protectCommand } from '../src/commands/protect.js';
import { runCommand } from '../src/commands/process-io.js';
import { redact } from '../src/redact.js';

/** The options of every command that connects to a tenant. */
function connectionOptions<T>(y: Argv<T>) {
  return y
    .option('settings', { type: 'string', describe: 'Settings file', default: 'appsettings.agent.json' })
    .option('setting', {
      type: 'string',
      array: true,
      describe:
        'Override one setting, KEY=VALUE (e.g. Connections:Contoso:TenantId=...); keep secrets out of command lines',
    })
    .option('connection', { type: 'string', describe: 'Connection name (default: the only one)' });
}

/**
 * The `entra` command table: yargs over `args` (the command line without node and the script).
 * Handlers call src/commands/*; bin/entra.ts parses the process's arguments with it.
 */
export function entraCli(args: string[]) {
  // yargs-parser drops a lone '-': glue it to the flags where it means stdout, and carry it through
  // as STDIN where it names fulfill's input file (`entra fulfill changes.csv -`).
  const STDIN = '\u0000stdin';
  const fulfilling = args.find((a) => !a.startsWith('-')) === 'fulfill';
  const argv = args.flatMap((arg, i, all) =>
    arg === '-' && ['--output', '--results', '-o'].includes(all[i - 1] ?? '')
      ? []
      : arg === '--output' || arg === '--results'
        ? all[i + 1] === '-'
          ? [`${arg}=-`]
          : [arg]
        : arg === '-' && fulfilling
          ? [STDIN]
          : [arg],
  );
  return yargs(argv)
    .scriptName('entra')
    .usage('$0 <command> [options]')
    .option('verbose', { type: 'boolean', describe: 'One line per request, stack traces on errors' })
    .option('quiet', { type: 'boolean', describe: 'No progress or summary on stderr' })
    .command(
      'emulate',
      'Serve an emulated Microsoft Graph and identity platform on 127.0.0.1 (HTTPS)',
      (y) =>
        y
          .option('port', { type: 'number', describe: 'Port (default: a free one)' })
          .option('tenant', { type: 'string', describe: 'Tenant JSON file (default: the sample tenant)' })
          .option('users', { type: 'number', describe: 'Generate a tenant with N users' })
          .option('groups', { type: 'number', describe: 'Generate M groups' })
          .option('seed', { type: 'number', describe: 'Seed of the generated tenant', default: 1 })
          .option('latency', { type: 'number', describe: 'Added latency per request, ms' })
          .option('jitter', { type: 'number', describe: 'Random extra latency up to this, ms' })
          .option('faults', {
            type: 'string',
            describe: "Faults, e.g. '429:0.1,503*3@/users/delta,reset:0.01'",
          })
          .option('throttle', {
            type: 'boolean',
            default: true,
            describe: "Graph's throttling limits (--no-throttle to switch off)",
          })
          .option('page-size', { type: 'number', describe: 'Objects per delta page (default 200)' })
          .option('settings-out', { type: 'string', describe: 'Write a ready appsettings.agent.json here' })
          .option('ca-out', { type: 'string', describe: "Write the emulator's CA certificate here" })
          .option('connection', {
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
          })
          .example(
            '$0 emulate --settings-out appsettings.agent.json --ca-out ca.pem',
            'Serve the sample tenant',
          )
          .example(
            '$0 emulate --certificate-out certs --settings-out appsettings.agent.json --ca-out ca.pem',
            'Sign in with a certificate (settings use certs/app.pem)',
          )
          .example(
            '$0 emulate --key-vault --managed-identity --settings-out appsettings.agent.json --ca-out ca.pem',
            'The secret in Key Vault, read as the managed identity: no secret in the settings',
          )
          .example('$0 emulate --users 100000 --groups 5000 --seed 7', 'Serve a generated tenant')
          .example("$0 emulate --latency 100 --faults '429:0.05,reset:0.01'", 'A slow, unreliable Graph'),
      (args) => runCommand(() => emulate(args), args),
    )
    .command(
      'export',
      'Export users, groups, roles and service principals, and their links, to CSV (delta queries)',
      (y) =>
        connectionOptions(y)
          .option('output', {
            type: 'string',
            describe: "Output folder, or '-' for stdout",
            default: 'ExportOutput',
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
          .option('entities', {
            type: 'string',
            array: true,
            describe: 'Entities to export, e.g. user,group',
          })
          .option('select', {
            type: 'string',
            array: true,
            describe: 'Attributes per entity, e.g. user=displayName,mail',
          })
          .option('mapping', { type: 'string', describe: 'Mapping file: JSON or Identity Manager XML' })
          .option('format', {
            choices: ['csv', 'ndjson'] as const,
            describe: 'Format with --output - (default csv)',
          })
          .option('table', {
            type: 'string',
            describe: 'Table written to stdout with --format csv (default directoryobjects)',
          })
          .option('parallel', {
            type: 'number',
            describe:
              'Complete rounds of users and groups in N parallel partitions (see README, Performance)',
          })
          .option('demo', {
            type: 'boolean',
            describe: 'Export the built-in emulated sample tenant (no settings needed; cookies are not read)',
          })
          .option('ca', {
            type: 'string',
            describe: 'PEM CA file to trust besides the system roots (e.g. from entra emulate --ca-out)',
          })
          .option('progress', { type: 'boolean', describe: 'Progress lines on stderr even without a TTY' })
          .example('$0 export --demo', 'Export the emulated sample tenant to ./ExportOutput')
          .example(
            '$0 export --settings appsettings.agent.json --connection Contoso',
            'A complete round the first time, incremental rounds from the cookies after',
          )
          .example('$0 export --ignore-cookies', 'A complete round, whatever the cookies say')
          .example(
            '$0 export --entities user,group --select user=displayName,mail',
            'Only users and groups; users with id, displayName and mail',
          )
          .example(
            '$0 export --ca ca.pem',
            'Against `entra emulate --ca-out ca.pem` (or NODE_EXTRA_CA_CERTS=ca.pem)',
          )
          .example('$0 export --output - --format csv --table members_group | wc -l', 'One table to stdout')
          .example(
            '$0 export --output - --format ndjson | jq -c \'select(.table=="directoryobjects")\'',
            'Every row of every table as NDJSON',
          )
          .epilog(
            'Exit codes: 0 done, 1 runtime failure (Graph, network, files), 2 usage or settings error (nothing written), 130 interrupted. ' +
              'A failed or interrupted run leaves the previous CSVs and cookies as they were.',
          ),
      (args) => runCommand(() => exportCommand(args), args),
    )
    .command(
      'fulfill [files..]',
      'Apply command CSVs to the tenant: create, update, delete objects; add and remove members and owners',
      (y) =>
        connectionOptions(
          y.positional('files', {
            type: 'string',
            array: true,
            describe: "Command CSV files, or '-' for stdin",
          }),
        )
          .option('results', { type: 'string', describe: "Results file, or '-' for stdout", default: '-' })
          .option('format', {
            choices: ['csv', 'ndjson'] as const,
            default: 'csv' as const,
            describe: 'Results format',
          })
          .option('dry-run', { type: 'boolean', describe: 'Send nothing; report every planned request' })
          .option('journal', {
            type: 'string',
            describe: 'Journal file: a rerun skips finished rows, never creates twice',
          })
          .option('navigation', {
            choices: ['members', 'owners'] as const,
            describe: 'Navigation of link rows when the file name does not say',
          })
          .option('concurrency', { type: 'number', default: 4, describe: '$batch requests in flight' })
          .option('password-file', {
            type: 'string',
            describe: 'Protected file (mode 0600) for generated initial passwords',
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
          .example('$0 fulfill Contoso_directoryobjects.csv --dry-run', 'Show the requests, send nothing')
          .example(
            '$0 fulfill changes.csv Contoso_members_group.csv --journal run.journal --results results.csv',
            'Apply, safely replayable',
          )
          .example(
            '$0 fulfill new-users.csv --password-file passwords.csv',
            'Create users with generated passwords',
          )
          .example('cat links.csv | $0 fulfill - --navigation members', 'Link rows from stdin'),
      (args) =>
        runCommand(
          () => fulfillCommand({ ...args, files: args.files?.map((f) => (f === STDIN ? '-' : f)) }),
          args,
        ),
    )
    .command(
      'doctor',
      'Check a connection end to end without changing anything: settings, token, permissions, one delta page per entity',
      (y) =>
        connectionOptions(y)
          .option('ca', {
            type: 'string',
            describe: "Extra CA certificate (PEM) to trust, e.g. the emulator's",
          })
          .option('entities', {
            type: 'string',
            array: true,
            describe: 'Entities to check, e.g. user,group (default: all four)',
          })
          .example(
            '$0 doctor --settings appsettings.agent.json',
            'One verdict line per check; exit 1 if any fails',
          )
          .example(
            'Connections__Contoso__ApplicationKey=... $0 doctor --entities user',
            'Check a secret given in the environment, and only what exporting users needs',
          )
          .epilog(
            'Each setting is shown with the layer it came from (file, encrypted file, Azure Key Vault, CyberArk, environment, command line, default); ' +
              'secrets show as ***. Exit codes: 0 ready, 1 a check failed, 2 the settings cannot be read.',
          ),
      (args) => runCommand(() => doctorCommand(args), args),
    )
    .command('protect', 'Encrypt settings values for the EncryptionCertificate, and decrypt them', (y) => {
      const certificate = (c: typeof y) =>
        c
          .option('certificate', {
            type: 'string',
            describe: 'Certificate: PEM, or PFX (password in $ENTRA_CERTIFICATE_PASSWORD)',
          })
          .option('private-key', {
            type: 'string',
            describe: 'Separate PEM private key of --certificate (decrypt)',
          })
          .option('password', {
            type: 'string',
            describe: 'PFX password; prefer $ENTRA_CERTIFICATE_PASSWORD',
          })
          .option('settings', {
            type: 'string',
            describe: 'Take the EncryptionCertificate section of this settings file',
          })
          .option('key', {
            type: 'string',
            describe: 'Setting key the value is bound to, e.g. Connections:Contoso:ApplicationKey',
          });
      return y
        .command(
          'value [values..]',
          'Print one ciphertext per value (values from stdin, one per line, when none is given)',
          (c) => certificate(c).positional('values', { type: 'string', array: true }),
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
            ),
        )
        .command(
          'file <input> <output>',
          'Write OUTPUT (mode 0600) with every string value of the settings file INPUT encrypted',
          (c) =>
            certificate(c)
              .positional('input', { type: 'string', demandOption: true })
              .positional('output', { type: 'string', demandOption: true })
              .option('force', { type: 'boolean', describe: 'Replace an existing OUTPUT' }),
          (args) => runCommand(() => protectCommand({ ...args, action: 'file' }), args),
        )
        .command(
          'decrypt [values..]',
          'Decrypt values (or stdin), or --file: an encrypted settings or password file (private key needed)',
          (c) =>
            certificate(c)
              .positional('values', { type: 'string', array: true })
              .option('file', {
                type: 'string',
                describe: 'Encrypted settings (JSON) or password (CSV) file',
              }),
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
            ),
        )
        .example(
          '$0 protect value --certificate enc.pem --key Connections:Contoso:ApplicationKey < secret.txt',
          'Encrypt a secret read from stdin',
        )
        .example(
          '$0 protect file appsettings.agent.json appsettings.encrypted.agent.json --settings appsettings.agent.json',
          'Encrypt a settings file',
        )
        .example(
          'ENTRA_CERTIFICATE_PASSWORD=... $0 protect decrypt --certificate enc.pfx --file passwords.csv',
          'Read generated passwords',
        )
        .demandCommand(1, 'Name a protect command: value, file or decrypt');
    })
    .demandCommand(1, 'Name a command: export, fulfill, emulate, doctor or protect (see --help)')
    .strict()
    .fail((message, error) => {
      if (error) throw error;
      process.stderr.write(redact(`entra: ERR_USAGE: ${message}\nRun 'entra --help' for usage.\n`));
      process.exit(2);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 110));
}
