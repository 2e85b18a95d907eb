import { dirname, resolve } from 'node:path';
import { loadEncryptionCertificate } from '../credentials/encryption-certificate.js';
import type { SettingsLayer } from '../settings/settings.js';
import { openEncryptedPasswordFile } from '../sinks/password-encrypted-file.js';
import { openPasswordFile, type PasswordSink } from '../sinks/password-file.js';
import { openPasswordMail } from '../sinks/password-mail.js';
import type { Logger, MailSettings } from '../types.js';

/** Every call goes to each sink: a password mailed and kept encrypted on disk. */
function tee(sinks: PasswordSink[]): PasswordSink {
  return {
    prepare: async (entries) => {
      for (const s of sinks) await s.prepare(entries);
    },
    confirm: async (entry) => {
      for (const s of sinks) await s.confirm(entry);
    },
    discard: async (entry) => {
      for (const s of sinks) await s.discard(entry);
    },
    settleEarlier: async (upn, state) => {
      let settled = false;
      for (const s of sinks) settled = (await s.settleEarlier(upn, state)) || settled;
      return settled;
    },
    close: async () => {
      const errors: unknown[] = [];
      for (const s of sinks) await s.close().catch((e: unknown) => errors.push(e));
      if (errors.length) throw errors[0];
    },
  };
}

/**
 * The protected sinks of generated passwords: `--password-file` (encrypted for the
 * EncryptionCertificate when one is configured, else a 0600 CSV), and mail when `MailSettings` is
 * configured. Returns the column naming each recipient when mail takes it from the input.
 */
export async function openPasswordSinks(options: {
  passwordFile?: string;
  layers?: SettingsLayer[];
  settingsFile?: string;
  /** `MailSettings`, read by the command (src/settings/mail-settings.ts). */
  mail?: MailSettings;
  dryRun?: boolean;
  logger: Logger;
}): Promise<{ sink?: PasswordSink; recipientColumn?: string; mail: boolean }> {
  const baseDir = options.settingsFile ? dirname(options.settingsFile) : process.cwd();
  const { mail } = options;
  const sinks: PasswordSink[] = [];
  if (!options.dryRun) {
    if (options.passwordFile) {
      const certificate = options.layers
        ? await loadEncryptionCertificate(options.layers, { baseDir })
        : undefined;
      const path = resolve(options.passwordFile);
      sinks.push(
        certificate ? await openEncryptedPasswordFile(path, certificate) : await openPasswordFile(path),
      );
    }
    if (mail) sinks.push(await openPasswordMail(mail, { logger: options.logger }));
  }
  return {
    ...(sinks.length ? { sink: sinks.length === 1 ? sinks[0]! : tee(sinks) } : {}),
    ...(mail?.toColumn ? { recipientColumn: mail.toColumn } : {}),
    mail: mail !== undefined,
  };
}
