import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { ToolError, UsageError } from '../errors.js';
import { trustedCertificateAuthorities } from '../graph/https-trust.js';
import { registerSecret } from '../redact.js';
import type { GeneratedPassword, Logger, MailSecurity, MailSettings } from '../types.js';
import type { PasswordSink } from './password-file.js';

/**
 * A protected password sink that e-mails each created user's initial password through SMTP
 * (`MailSettings` section). A message is sent only on `confirm` (the user exists); nothing is written
 * to disk, ever. The price: a password held in memory between `prepare` and `confirm` is lost if the
 * process dies there (the user exists, nobody knows its password: reset it). Where that matters, also
 * record the passwords with the encrypted password file sink (password-encrypted-file.ts).
 *
 * | key | meaning |
 * |---|---|
 * | `Host`, `Port` | the SMTP server; Port defaults to 587 (StartTls), 465 (Tls), 25 (None) |
 * | `Security` | `StartTls` (default; STARTTLS required), `Tls` (TLS from the start), `None` (loopback hosts only) |
 * | `Username`, `Password` | optional SMTP authentication |
 * | `From` | the sender |
 * | `To` or `ToColumn` | a fixed recipient, or the input column holding it (e.g. the manager's mail) |
 * | `CaFile` | an extra PEM CA to trust besides Node's roots (certificates are always verified) |
 */

export type { MailSecurity, MailSettings } from '../types.js';

/**
 * A generated password with the recipient that `ToColumn` names, taken by the fulfill command from
 * the input row (`GeneratedPassword.recipient` once to-request carries it).
 */
export interface MailedPassword extends GeneratedPassword {
  recipient?: string;
}

export interface PasswordMailOptions {
  logger: Logger;
  /** Milliseconds to connect, greet and wait for each answer; default 30 000. */
  timeoutMs?: number;
}

export const SECTION = 'MailSettings';
export const KEYS = [
  'Host',
  'Port',
  'Security',
  'Username',
  'Password',
  'From',
  'To',
  'ToColumn',
  'CaFile',
] as const;
export const SECURITY: MailSecurity[] = ['StartTls', 'Tls', 'None'];
export const DEFAULT_PORT: Record<MailSecurity, number> = { StartTls: 587, Tls: 465, None: 25 };
const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$|^[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>$/;

/** True for hosts that never leave the machine: `localhost`, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return isIP(h) === 6 && (h === '::1' || h === '0:0:0:0:0:0:0:1');
}

/** Checks mail settings, however they were made: `Security: None` only to a loopback host, real addresses. */
export function checkMailSettings(settings: MailSettings, where = SECTION): void {
  const fail = (why: string): never => {
    throw new UsageError('ERR_SETTINGS', `${SECTION} in ${where}: ${why}`);
  };
  if (!SECURITY.includes(settings.security)) fail(`Security must be ${SECURITY.join(', ')}`);
  if (settings.security === 'None' && !isLoopbackHost(settings.host))
    fail(
      `Security None is refused for ${settings.host}: a password must not cross a network in clear (use StartTls or Tls; None is for a relay on this machine only)`,
    );
  if (!ADDRESS.test(settings.from)) fail('From is not an e-mail address');
  if (settings.to !== undefined && !ADDRESS.test(settings.to)) fail('To is not an e-mail address');
}

/**
 * Opens the mail sink: checks the settings, then connects once (TLS verified, authentication tried)
 * so that a wrong server fails the run before any user is created.
 * @example const sink = await openPasswordMail(readMailSettings(layers)!, { logger });
 */
export async function openPasswordMail(
  settings: MailSettings,
  options: PasswordMailOptions,
): Promise<PasswordSink> {
  checkMailSettings(settings);
  const { logger } = options;
  let ca: string | undefined;
  if (settings.caFile) {
    try {
      ca = await readFile(settings.caFile, 'utf8');
    } catch (error) {
      throw new UsageError(
        'ERR_SETTINGS',
        `${SECTION}:CaFile ${settings.caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { cause: error },
      );
    }
  }
  const timeout = options.timeoutMs ?? 30_000;
  const server = `${settings.host}:${settings.port}`;
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === 'Tls',
    requireTLS: settings.security === 'StartTls',
    ignoreTLS: settings.security === 'None',
    // An extra CA is added to Node's roots, never put in their place; verification is never off.
    tls: {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(ca ? { ca: trustedCertificateAuthorities(ca) } : {}),
    },
    ...(settings.username ? { auth: { user: settings.username, pass: settings.password ?? '' } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  try {
    await transport.verify();
  } catch (error) {
    transport.close();
    const code = (error as NodeJS.ErrnoException).code;
    const hint = /certificate|self.signed|CERT_|UNABLE_TO/i.test(`${code} ${(error as Error).message}`)
      ? `; trust its CA with ${SECTION}:CaFile`
      : '';
    throw new ToolError(
      'ERR_PASSWORD_MAIL',
      `cannot use SMTP server ${server} (${settings.security}): ${(error as Error).message}${hint}`,
      { cause: error },
    );
  }

  const failures: string[] = [];
  let queue: Promise<void> = Promise.resolve();
  const recipientOf = (entry: MailedPassword): string | undefined =>
    settings.to ?? (entry.recipient?.trim() || undefined);

  const send = async (entry: MailedPassword): Promise<void> => {
    const upn = entry.userPrincipalName;
    const to = recipientOf(entry);
    if (!to) {
      failures.push(upn);
      logger.warn(
        `the initial password of ${upn} (${entry.file}:${entry.line}) was not mailed: column ${settings.toColumn} is empty`,
      );
      return;
    }
    try {
      await transport.sendMail({
        from: settings.from,
        to,
        subject: `Initial password of the new account ${upn}`,
        text: messageText(upn, entry.password),
      });
      logger.verbose(`mailed the initial password of ${upn} to ${to}`);
    } catch (error) {
      failures.push(upn);
      logger.warn(
        `the initial password of ${upn} (${entry.file}:${entry.line}) could not be mailed to ${to} through ${server}: ${(error as Error).message}`,
      );
    }
  };

  return {
    prepare: async (entries: MailedPassword[]) => {
      for (const e of entries) {
        registerSecret(e.password);
        if (!recipientOf(e))
          logger.warn(
            `${e.file}:${e.line}: no recipient for ${e.userPrincipalName} in column ${settings.toColumn}: its initial password cannot be mailed`,
          );
      }
    },
    // Sent one after the other, in the background: a slow SMTP server does not hold up Graph writes.
    confirm: async (entry: MailedPassword) => {
      queue = queue.then(() => send(entry));
    },
    discard: async () => {},
    // Nothing survives a run: a password an earlier run left pending was never mailed, and is lost.
    settleEarlier: async () => false,
    close: async () => {
      await queue;
      transport.close();
      if (failures.length)
        throw new ToolError(
          'ERR_PASSWORD_MAIL',
          `${failures.length} initial password(s) could not be mailed (${failures.slice(0, 5).join(', ')}${failures.length > 5 ? ', ...' : ''}): reset them`,
        );
    },
  };
}

function messageText(upn: string, password: string): string {
  return [
    `A Microsoft Entra ID account has been created: ${upn}`,
    '',
    `Initial password: ${password}`,
    '',
    'It must be changed at the first sign-in. Hand it to the account holder',
    'through a trusted channel, then delete this message.',
    '',
  ].join('\n');
}
