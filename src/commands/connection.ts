import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadEncryptionCertificate, readCertificateFile } from '../credentials/encryption-certificate.js';
import { UsageError } from '../errors.js';
import { createGraphClient, type GraphClient } from '../graph/client.js';
import { createManagedIdentityTokenProvider } from '../graph/managed-identity-token.js';
import { createTokenProvider, type TokenCredential, type TokenProvider } from '../graph/token.js';
import { registerSecret } from '../redact.js';
import { readCyberArkLayer } from '../settings/cyberark-layer.js';
import { readEncryptedSettings } from '../settings/encrypted-layer.js';
import { readKeyVaultLayer } from '../settings/key-vault-layer.js';
import { isSecretKey, warnIfExposed } from '../settings/permissions-check.js';
import {
  environmentLayer,
  readSettingsFile,
  resolveConnection,
  type ConnectionSettings,
  type SettingsLayer,
} from '../settings/settings.js';
import { silentLogger, type Logger } from '../types.js';
import { sampleSettingsPath } from './package-root.js';

export interface ConnectionArgs {
  settings?: string;
  connection?: string;
  /** `--setting KEY=VALUE`, the command-line layer (e.g. `Connections:Contoso:TenantId=...`). */
  setting?: string[];
}

export interface OpenConnection {
  settings: ConnectionSettings;
  /** How the connection signs in, for messages: `client secret`, `certificate <path>`... (never a secret). */
  credential: string;
  client: GraphClient;
  /** The client's token provider: ask it first to fail early on refused credentials. */
  tokens: TokenProvider;
  /** Where the settings came from, for messages. */
  settingsFile: string;
}

/** `KEY=VALUE` flags → the command-line layer (keys ':'-joined or '__'-joined, as in the environment). */
export function commandLineLayer(settings: string[] | undefined): SettingsLayer | undefined {
  if (!settings?.length) return undefined;
  const values = new Map<string, string>();
  for (const item of settings) {
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new UsageError(
        'ERR_USAGE',
        `--setting expects KEY=VALUE (e.g. Connections:Contoso:TenantId=...), got '${item.split('=')[0]}'`,
      );
    values.set(item.slice(0, eq).replace(/__/g, ':'), item.slice(eq + 1));
  }
  return { origin: 'command line', values };
}

/** Registers for redaction every value of `layer` whose key names a secret, as soon as it is read. */
function registerLayerSecrets(layer: SettingsLayer | undefined): void {
  for (const [key, value] of layer?.values ?? []) if (isSecretKey(key)) registerSecret(value);
}

/**
 * The settings layers of a run, in precedence order (later wins, key by key): the plain file, its
 * encrypted sibling, Azure Key Vault, CyberArk, the environment, the command line.
 */
export async function settingsLayers(
  args: ConnectionArgs,
  env: NodeJS.ProcessEnv,
  options: { ca?: string; logger?: Logger } = {},
): Promise<{ layers: SettingsLayer[]; file: string }> {
  const log = options.logger ?? silentLogger;
  const file = resolve(args.settings ?? 'appsettings.agent.json');
  const plain = await readSettingsFile(file, { sample: sampleSettingsPath() });
  const environment = environmentLayer(env);
  const cli = commandLineLayer(args.setting);
  for (const layer of [plain, environment, cli]) registerLayerSecrets(layer);
  await warnIfExposed(file, plain, log);
  // The sections that open the vaults are read from every layer but the vaults themselves.
  const outer = cli ? [environment, cli] : [environment];
  const certificate = await loadEncryptionCertificate([plain, ...outer], { baseDir: dirname(file) });
  const encrypted = await readEncryptedSettings(file, certificate);
  const fileLayers = encrypted ? [plain, encrypted] : [plain];
  const keyVault = await readKeyVaultLayer([...fileLayers, ...outer], {
    env,
    logger: log,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const vaults = keyVault ? [...fileLayers, keyVault] : fileLayers;
  const cyberArk = await readCyberArkLayer([...vaults, ...outer], file, {
    logger: log,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const layers = [...vaults, ...(cyberArk ? [cyberArk] : []), environment, ...(cli ? [cli] : [])];
  return { layers, file };
}

/** The connection's certificate credential: PEM or PFX, checked against CertificateThumbprint when given. */
async function certificateCredential(
  settings: ConnectionSettings,
  baseDir: string,
): Promise<TokenCredential> {
  const path = resolve(baseDir, settings.certificatePath!);
  const cert = await readCertificateFile(path, {
    requirePrivateKey: true,
    ...(settings.certificatePassword ? { password: settings.certificatePassword } : {}),
    from: `connection "${settings.name}" CertificatePath`,
    passwordSetting: 'CertificatePassword',
    purpose: 'signing in with a certificate',
  });
  if (settings.certificateThumbprint) {
    const x509 = new X509Certificate(cert.certificatePem);
    const thumbs = [x509.fingerprint, x509.fingerprint256].map((t) => t.replace(/:/g, '').toUpperCase());
    if (!thumbs.includes(settings.certificateThumbprint))
      throw new UsageError(
        'ERR_SETTINGS',
        `connection "${settings.name}": the certificate in ${path} does not have CertificateThumbprint ${settings.certificateThumbprint} (it has ${thumbs[0]})`,
      );
  }
  return {
    kind: 'certificate',
    certificatePem: cert.certificatePem,
    privateKeyPem: cert.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A federated client assertion (workload identity): the file is read at each token request, as it rotates. */
function assertionCredential(settings: ConnectionSettings, baseDir: string): TokenCredential {
  const path = resolve(baseDir, settings.clientAssertionFile!);
  return {
    kind: 'assertion',
    getAssertion: async () => {
      try {
        const assertion = (await readFile(path, 'utf8')).trim();
        registerSecret(assertion);
        return assertion;
      } catch (e) {
        throw new UsageError(
          'ERR_SETTINGS',
          `connection "${settings.name}": cannot read ClientAssertionFile ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        );
      }
    },
  };
}

/**
 * Resolves the connection and builds its token provider and Graph client. Everything that can be
 * checked without calling Graph is checked here or at the first token, before anything is written.
 */
export function connect(
  layers: SettingsLayer[],
  options: {
    connection?: string;
    ca?: string;
    logger: Logger;
    settingsFile: string;
    /**
     * Tighter bounds than a run's (doctor: fail within seconds): per-request timeout and retries of
     * the Graph client and the token provider alike.
     */
    limits?: { timeoutMs: number; answerTimeoutMs?: number; retries: number };
    /** Sockets of the Graph client (default 16). */
    maxSockets?: number;
    env?: NodeJS.ProcessEnv;
  },
): OpenConnection {
  const settings = resolveConnection(layers, options.connection);
  registerSecret(settings.applicationKey);
  registerSecret(settings.certificatePassword);
  const baseDir = options.settingsFile.includes('/') ? dirname(options.settingsFile) : process.cwd();
  const credential = settings.managedIdentity
    ? `managed identity ${settings.managedIdentityClientId ?? '(system-assigned)'}`
    : settings.certificatePath
      ? `certificate ${resolve(baseDir, settings.certificatePath)}`
      : settings.clientAssertionFile
        ? `federated assertion ${resolve(baseDir, settings.clientAssertionFile)}`
        : 'client secret';
  const common = {
    scope: settings.scope,
    connection: settings.name,
    logger: options.logger,
    ...(options.ca ? { ca: options.ca } : {}),
    ...options.limits,
  };
  let tokens: TokenProvider;
  if (settings.managedIdentity) {
    tokens = createManagedIdentityTokenProvider({
      ...common,
      credential: {
        kind: 'managedIdentity',
        env: options.env ?? {},
        ...(settings.managedIdentityClientId ? { clientId: settings.managedIdentityClientId } : {}),
      },
    });
  } else {
    const build = async (): Promise<TokenProvider> =>
      createTokenProvider({
        ...common,
        authority: settings.authority,
        clientId: settings.applicationId,
        credential: settings.certificatePath
          ? await certificateCredential(settings, baseDir)
          : settings.clientAssertionFile
            ? assertionCredential(settings, baseDir)
            : { kind: 'secret', secret: settings.applicationKey! },
      });
    // Built at the first token: reading a certificate is asynchronous, and its errors surface there.
    let inner: Promise<TokenProvider> | undefined;
    tokens = {
      getToken: async (o) => {
        inner ??= build();
        return (await inner).getToken(o);
      },
    };
  }
  const client = createGraphClient({
    baseUrl: settings.graphUrl,
    getToken: (o) => tokens.getToken(o),
    logger: options.logger,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}),
    ...options.limits,
  });
  return { settings, credential, client, tokens, settingsFile: options.settingsFile };
}
