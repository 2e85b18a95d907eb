import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { checkMailSettings, DEFAULT_PORT, KEYS, SECTION, SECURITY } from '../sinks/password-mail.js';
import type { MailSettings } from '../types.js';
import type { SettingsLayer } from './settings.js';

type Key = (typeof KEYS)[number];

/**
 * Reads and checks the `MailSettings` section (later layers win, keys ignore case); undefined when
 * absent. `Security: None` to a host that is not loopback is refused: a password must not cross a
 * network in clear.
 */
export function readMailSettings(
  layers: SettingsLayer[],
  options: { baseDir?: string } = {},
): MailSettings | undefined {
  const prefix = `${SECTION.toLowerCase()}:`;
  const found = new Map<Key, { value: string; origin: string }>();
  for (const layer of layers)
    for (const [key, value] of layer.values) {
      if (!key.toLowerCase().startsWith(prefix)) continue;
      const short = key.slice(prefix.length);
      const known = KEYS.find((k) => k.toLowerCase() === short.toLowerCase());
      if (!known)
        throw new UsageError(
          'ERR_SETTINGS',
          `${layer.origin}: unknown key ${SECTION}:${short} (known: ${KEYS.join(', ')})`,
        );
      found.set(known, { value: known === 'Password' ? value : value.trim(), origin: layer.origin });
    }
  if (found.size === 0) return undefined;
  const where = [...new Set([...found.values()].map((f) => f.origin))].join(', ');
  const fail = (why: string): never => {
    throw new UsageError('ERR_SETTINGS', `${SECTION} in ${where}: ${why}`);
  };
  const get = (key: Key) => found.get(key)?.value || undefined;
  const host = get('Host') ?? fail('Host is missing');
  const securityText = get('Security') ?? 'StartTls';
  const security =
    SECURITY.find((s) => s.toLowerCase() === securityText.toLowerCase()) ??
    fail(`Security must be ${SECURITY.join(', ')}; got ${securityText}`);
  const portText = get('Port');
  const port = portText === undefined ? DEFAULT_PORT[security] : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`Port must be 1-65535; got ${portText}`);
  const from = get('From') ?? fail('From is missing');
  const to = get('To');
  const toColumn = get('ToColumn');
  if (to && toColumn) fail('set To (a fixed recipient) or ToColumn (a column of the input), not both');
  if (!to && !toColumn)
    fail('no recipient: set To (a fixed address) or ToColumn (e.g. a manager mail column)');
  const settings: MailSettings = { host, port, security, from };
  if (to) settings.to = to;
  if (toColumn) settings.toColumn = toColumn;
  const username = get('Username');
  const password = get('Password');
  if (password && !username) fail('Password is set but Username is not');
  if (username) settings.username = username;
  if (password) {
    registerSecret(password);
    settings.password = password;
  }
  const caFile = get('CaFile');
  if (caFile) settings.caFile = resolve(options.baseDir ?? '.', caFile);
  checkMailSettings(settings, where);
  return settings;
}
