import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  loadEncryptionCertificate,
  readCertificateFile,
  type EncryptionCertificate,
} from '../credentials/encryption-certificate.js';
import { decryptValue, encryptValue } from '../credentials/envelope.js';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { decryptSettingsDocument, encryptSettingsJson } from '../settings/encrypted-layer.js';
import { environmentLayer, parseJsonText, readSettingsFile } from '../settings/settings.js';
import { writeFileAtomic } from '../sinks/atomic-file.js';
import { decryptPasswordCsv } from '../sinks/password-encrypted-file.js';
import { stderrLogger, type CommonOptions } from './process-io.js';

/** The environment variable holding the PFX password (or PEM key passphrase) of `--certificate`. */
export const CERTIFICATE_PASSWORD_VARIABLE = 'ENTRA_CERTIFICATE_PASSWORD';

export interface ProtectArgs extends CommonOptions {
  action: 'value' | 'file' | 'decrypt';
  /** `value` / `decrypt`: the values; stdin (one per line) when none. */
  values?: string[];
  /** `file`: the plain settings file read, and the encrypted file written. */
  input?: string;
  output?: string;
  /** `file`: replace an existing output. */
  force?: boolean;
  /** `decrypt`: an encrypted settings file (JSON) or encrypted password file (CSV). */
  file?: string;
  /** PEM or PFX; the alternative to `settings`. */
  certificate?: string;
  /** A separate PEM private key for `certificate`. */
  privateKey?: string;
  /** PFX password (prefer the environment variable). */
  password?: string;
  /** A settings file whose `EncryptionCertificate` section names the certificate. */
  settings?: string;
  /** The setting key a value is bound to (`Connections:Contoso:ApplicationKey`). */
  key?: string;
}

interface ProtectIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/**
 * `entra protect value|file|decrypt`: encrypts values or a whole settings file for the
 * `EncryptionCertificate` (certificate only), and decrypts them (private key needed). Data on stdout,
 * messages on stderr.
 */
export async function protectCommand(
  args: ProtectArgs,
  io: ProtectIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const log = stderrLogger(args, io.stderr);
  const certificate = await certificateFor(args, io, (m) => log.warn(m), args.action === 'decrypt');
  if (args.action === 'value') {
    const values = await valuesOf(args, io, 'values to encrypt');
    const context = args.key === undefined ? {} : { key: args.key };
    io.stdout.write(values.map((v) => `${encryptValue(v, certificate.certificatePem, context)}\n`).join(''));
    log.info(
      `entra protect: ${values.length} value(s) encrypted for certificate ${certificate.thumbprintSha256}`,
    );
    return 0;
  }
  if (args.action === 'file') return protectFile(args, certificate, (m) => log.info(m));
  return decrypt(args, io, certificate);
}

async function certificateFor(
  args: ProtectArgs,
  io: ProtectIo,
  warn: (m: string) => void,
  needPrivateKey: boolean,
): Promise<EncryptionCertificate> {
  if (args.certificate && args.settings)
    throw new UsageError('ERR_USAGE', 'give --certificate or --settings, not both');
  if (args.privateKey && !args.certificate)
    throw new UsageError('ERR_USAGE', '--private-key goes with --certificate');
  if (args.password !== undefined)
    warn(
      `--password is visible in shell history and to other users of this machine: prefer the environment variable ${CERTIFICATE_PASSWORD_VARIABLE}`,
    );
  if (args.certificate) {
    const password = args.password ?? io.env[CERTIFICATE_PASSWORD_VARIABLE];
    registerSecret(password);
    return readCertificateFile(resolve(args.certificate), {
      ...(password ? { password } : {}),
      ...(args.privateKey ? { keyFile: resolve(args.privateKey) } : {}),
      requirePrivateKey: needPrivateKey,
    });
  }
  const file = resolve(args.settings ?? 'appsettings.agent.json');
  if (!args.settings && !(await stat(file).catch(() => undefined)))
    throw new UsageError(
      'ERR_USAGE',
      'name the certificate: --certificate FILE (PEM or PFX), or --settings FILE with an EncryptionCertificate section',
    );
  const layers = [await readSettingsFile(file), environmentLayer(io.env)];
  const certificate = await loadEncryptionCertificate(layers, {
    baseDir: dirname(file),
    requirePrivateKey: needPrivateKey,
  });
  if (!certificate)
    throw new UsageError(
      'ERR_SETTINGS',
      `${file} has no EncryptionCertificate section (File, and Password for a PFX): add one, or give --certificate`,
    );
  return certificate;
}

/** The values from the command line, else one per line from stdin (empty lines skipped). */
async function valuesOf(args: ProtectArgs, io: ProtectIo, what: string): Promise<string[]> {
  if (args.values?.length) return args.values.map(String);
  if (io.stdin.isTTY) io.stderr.write(`entra protect: type the ${what}, one per line, then Ctrl-D\n`);
  const values: string[] = [];
  for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false }))
    if (line !== '') values.push(line);
  if (values.length === 0)
    throw new UsageError('ERR_USAGE', `no ${what}: give them as arguments, or one per line on stdin`);
  return values;
}

async function protectFile(
  args: ProtectArgs,
  certificate: EncryptionCertificate,
  info: (m: string) => void,
): Promise<number> {
  if (!args.input || !args.output) throw new UsageError('ERR_USAGE', 'protect file needs IN and OUT');
  const input = resolve(args.input);
  const output = resolve(args.output);
  const inStat = await stat(input).catch(() => undefined);
  const outStat = await stat(output).catch(() => undefined);
  if (!inStat) throw new UsageError('ERR_USAGE', `settings file not found: ${input}`);
  if (input === output || (outStat && outStat.ino === inStat.ino && outStat.dev === inStat.dev))
    throw new UsageError('ERR_USAGE', `OUT is IN (${input}): write the encrypted settings to another file`);
  if (outStat && !args.force)
    throw new UsageError('ERR_USAGE', `${output} exists: remove it, or give --force to replace it`);
  const json = parseJsonText(await readFile(input, 'utf8'), input, 'ERR_SETTINGS');
  const result = encryptSettingsJson(json, certificate.certificatePem);
  await writeFileAtomic(output, `${JSON.stringify(result.json, null, 2)}\n`, { mode: 0o600 });
  const notes = [
    result.alreadyEncrypted.length ? `${result.alreadyEncrypted.length} already encrypted, kept` : '',
    result.dropped.length ? `${result.dropped.join(', ')} left out: it stays in the plain file` : '',
  ].filter(Boolean);
  info(
    `entra protect: wrote ${output} (mode 600): ${result.encrypted.length} value(s) encrypted for certificate ${certificate.thumbprintSha256}` +
      (notes.length ? `; ${notes.join('; ')}` : ''),
  );
  info(`entra protect: ${input} is unchanged: remove from it the secrets now in ${output}`);
  return 0;
}

async function decrypt(
  args: ProtectArgs,
  io: ProtectIo,
  certificate: EncryptionCertificate,
): Promise<number> {
  const key = { privateKey: certificate.privateKey!, thumbprintSha256: certificate.thumbprintSha256 };
  if (args.file) {
    if (args.values?.length) throw new UsageError('ERR_USAGE', 'give values or --file, not both');
    const path = resolve(args.file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new UsageError('ERR_USAGE', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`, {
        cause: error,
      });
    }
    if (/^\uFEFF?\s*\{/.test(text)) {
      const document = decryptSettingsDocument(parseJsonText(text, path, 'ERR_SETTINGS'), key, path);
      io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    } else io.stdout.write(decryptPasswordCsv(text, key, path));
    return 0;
  }
  const values = await valuesOf(args, io, 'values to decrypt');
  const lines = values.map((v, i) => {
    const plain = decryptValue(v, key, {
      ...(args.key === undefined ? {} : { key: args.key }),
      label: values.length > 1 ? `value ${i + 1}` : 'the value',
    });
    registerSecret(plain);
    return `${plain}\n`;
  });
  io.stdout.write(lines.join(''));
  return 0;
}
