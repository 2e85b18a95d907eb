import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { createGraphClient, type GraphClient } from '../graph/client.js';
import { createTokenProvider, type TokenCredential, type TokenProvider } from '../graph/token.js';
import { registerSecret } from '../redact.js';
import {
  environmentLayer,
  readSettingsFile,
  resolveConnection,
  type ConnectionSettings,
  type SettingsLayer,
} from '../settings/settings.js';
import type { Logger } from '../types.js';

export interface ConnectionArgs {
  settings?: string;
  connection?: string;
}

export interface OpenConnection {
  settings: ConnectionSettings;
  client: GraphClient;
  /** The client's token provider: ask it first to fail early on refused credentials. */
  tokens: TokenProvider;
  /** Where the settings came from, for messages. */
  settingsFile: string;
}

/** The settings layers of a run, in precedence order (later wins): the file, then the environment. */
export async function settingsLayers(
  args: ConnectionArgs,
  env: NodeJS.ProcessEnv,
): Promise<{ layers: SettingsLayer[]; file: string }> {
  const file = resolve(args.settings ?? 'appsettings.agent.json');
  const layers = [await readSettingsFile(file), environmentLayer(env)];
  return { layers, file };
}

/** The credential msal-node gets for a connection: exactly one kind. */
export function credentialOf(settings: ConnectionSettings): TokenCredential {
  if (settings.applicationKey) return { kind: 'secret', secret: settings.applicationKey };
  throw new UsageError(
    'ERR_SETTINGS',
    `connection "${settings.name}": certificate credentials are not supported yet; set ApplicationKey`,
  );
}

/**
 * Resolves the connection and builds its token provider and Graph client. Everything that can be
 * checked without calling Graph is checked here, so bad settings fail before anything is written.
 */
export function connect(
  layers: SettingsLayer[],
  options: { connection?: string; ca?: string; logger: Logger; settingsFile: string; timeoutMs?: number },
): OpenConnection {
  const settings = resolveConnection(layers, options.connection);
  registerSecret(settings.applicationKey);
  registerSecret(settings.certificatePassword);
  const tokens = createTokenProvider({
    authority: settings.authority,
    clientId: settings.applicationId,
    credential: credentialOf(settings),
    scope: settings.scope,
    connection: settings.name,
    logger: options.logger,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const client = createGraphClient({
    baseUrl: settings.graphUrl,
    getToken: (o) => tokens.getToken(o),
    logger: options.logger,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  return { settings, client, tokens, settingsFile: options.settingsFile };
}
