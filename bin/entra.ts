#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { emulate } from '../src/commands/emulate.js';
import { runCommand } from '../src/commands/process-io.js';

const cli = yargs(hideBin(process.argv))
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
        .example(
          '$0 emulate --settings-out appsettings.agent.json --ca-out ca.pem',
          'Serve the sample tenant',
        )
        .example('$0 emulate --users 100000 --groups 5000 --seed 7', 'Serve a generated tenant')
        .example("$0 emulate --latency 100 --faults '429:0.05,reset:0.01'", 'A slow, unreliable Graph'),
    (args) => runCommand(() => emulate(args), args),
  )
  .demandCommand(1, 'Name a command: emulate, export or fulfill (see --help)')
  .strict()
  .fail((message, error, y) => {
    if (error) throw error;
    process.stderr.write(
      `${y.help() ? '' : ''}entra: ERR_USAGE: ${message}\nRun 'entra --help' for usage.\n`,
    );
    process.exit(2);
  })
  .help()
  .wrap(Math.min(110, process.stdout.columns || 110));

await cli.parseAsync();
