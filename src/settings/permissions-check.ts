import { stat } from 'node:fs/promises';
import { platform } from 'node:os';
import { isEncrypted } from '../credentials/envelope.js';
import type { Logger } from '../types.js';
import { ENCRYPTED_SETTINGS_FILE } from './encrypted-layer.js';
import { isSecretKey, type SettingsLayer } from './settings.js';

export { isSecretKey };

function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * Warns (one line) when the settings file at `path` holds a secret in clear and its mode lets the
 * group or other users read it, naming the file, the keys and the fix. Returns the exposed keys.
 * Does nothing on Windows, whose ACLs mode bits do not describe.
 * @example await warnIfExposed(file, await readSettingsFile(file), logger);
 */
export async function warnIfExposed(
  path: string,
  layer: SettingsLayer,
  logger: Pick<Logger, 'warn'>,
  options: { platform?: NodeJS.Platform } = {},
): Promise<string[]> {
  if ((options.platform ?? platform()) === 'win32') return [];
  const keys = [...layer.values]
    .filter(([key, value]) => value !== '' && isSecretKey(key) && !isEncrypted(value))
    .map(([key]) => key);
  if (keys.length === 0) return [];
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch {
    return [];
  }
  if ((mode & 0o044) === 0) return [];
  const who = mode & 0o004 ? 'every user' : 'its group';
  logger.warn(
    `${path} holds ${keys.length === 1 ? 'a secret' : 'secrets'} in clear (${keys.join(', ')}) and is readable by ${who} (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${shellQuote(path)}, or move ${keys.length === 1 ? 'it' : 'them'} to ${ENCRYPTED_SETTINGS_FILE} (entra protect)`,
  );
  return keys;
}
