import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { generateSelfSignedCertificate } from '../emulator/ca.js';
import { signJwt } from '../emulator/jwt.js';
import type { Emulator, EmulatorOptions } from '../emulator/server.js';
import { UsageError } from '../errors.js';
import { CYBERARK_AGENT_FILE } from '../settings/cyberark-layer.js';
import { writeFileAtomic } from '../sinks/atomic-file.js';

/**
 * The credential side of `entra emulate`: every way the connector can sign in, served by the emulator
 * and written out so that a user can try it (`--certificate-out`, `--federated-token-out`,
 * `--managed-identity`, `--key-vault`, `--cyberark`), and the settings that use the chosen one.
 */

export interface CredentialFlags {
  /** Folder for `app.pem` (certificate + key), `app.pfx` and `app.pfx.password`. */
  certificateOut?: string;
  /** File for a federated assertion (workload identity), rewritten every 30 minutes. */
  federatedTokenOut?: string;
  managedIdentity?: boolean;
  keyVault?: boolean;
  /** Folder for the CyberArk client certificate and key. */
  cyberark?: string;
  settingsOut?: string;
  connection?: string;
}

/** The emulated external issuer of federated assertions (a reserved `.invalid` name: never on the network). */
export const FEDERATED_ISSUER = 'https://oidc.emulator.invalid/entra-connector';
/** The subject of the federated credential, Kubernetes service-account style. */
export const FEDERATED_SUBJECT = 'system:serviceaccount:entra:entra-connector';
export const FEDERATED_AUDIENCE = 'api://AzureADTokenExchange';
/** A federated assertion is valid this long, and rewritten halfway through. */
const ASSERTION_LIFETIME_S = 3600;
export const KEY_VAULT_NAME = 'contoso-kv';
export const CYBERARK_APP_ID = 'EntraConnector';
export const CYBERARK_SAFE = 'EntraSafe';

/** Checks the flags: one credential for the connection of `--settings-out`. */
export function checkCredentialFlags(flags: CredentialFlags): void {
  const kinds = [
    flags.certificateOut !== undefined ? '--certificate-out' : '',
    flags.federatedTokenOut !== undefined ? '--federated-token-out' : '',
    flags.managedIdentity && !flags.keyVault ? '--managed-identity' : '',
    flags.keyVault ? '--key-vault' : '',
    flags.cyberark !== undefined ? '--cyberark' : '',
  ].filter(Boolean);
  for (const [name, value] of [
    ['--certificate-out', flags.certificateOut],
    ['--federated-token-out', flags.federatedTokenOut],
    ['--cyberark', flags.cyberark],
  ] as const)
    if (value === '') throw new UsageError('ERR_USAGE', `${name} needs a path`);
  if (flags.settingsOut !== undefined && kinds.length > 1)
    throw new UsageError(
      'ERR_USAGE',
      `--settings-out writes one credential, but ${kinds.join(', ')} each give one: keep one of them ` +
        '(--managed-identity goes with --key-vault: the vault is then read as the managed identity)',
    );
}

/** Emulator options the flags need before it starts: the app's certificate, its federated credential... */
export interface PreparedCredentials {
  options: Partial<EmulatorOptions>;
  certificate?: ReturnType<typeof generateSelfSignedCertificate>;
  /** The emulated issuer's signing key pair (PEM). */
  issuerKey?: { publicKey: string; privateKey: string };
}

export function prepareCredentials(flags: CredentialFlags): PreparedCredentials {
  const prepared: PreparedCredentials = { options: {} };
  if (flags.certificateOut !== undefined) {
    prepared.certificate = generateSelfSignedCertificate({ commonName: 'entra-connector' });
    prepared.options.certificates = [prepared.certificate.certPem];
  }
  if (flags.federatedTokenOut !== undefined) {
    prepared.issuerKey = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    prepared.options.federatedCredentials = [
      {
        issuer: FEDERATED_ISSUER,
        subject: FEDERATED_SUBJECT,
        audiences: [FEDERATED_AUDIENCE],
        publicKeyPem: prepared.issuerKey.publicKey,
      },
    ];
  }
  if (flags.managedIdentity) prepared.options.managedIdentity = {};
  if (flags.cyberark !== undefined) prepared.options.cyberArk = {};
  return prepared;
}

/** Writes `text` to `path` (mode 0600) atomically, so a reader never sees half of it. */
async function writePrivate(path: string, text: string | Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text, { mode: 0o600 });
}

/** What the credential flags set up, for the JSON line and the settings. */
export interface CredentialSetup {
  /** Fields added to the JSON line (never a secret but the IDENTITY_HEADER it is asked for). */
  info: Record<string, unknown>;
  /** Stops the assertion rewriting. */
  stop: () => void;
  /** Writes `--settings-out` (and, with CyberArk, its agent file) using the chosen credential. */
  writeSettings: (settingsOut: string, caFile: string) => Promise<string[]>;
}

/** Serves and writes out what the flags ask for, once the emulator runs. */
export async function setUpCredentials(
  emu: Emulator,
  flags: CredentialFlags,
  prepared: PreparedCredentials,
): Promise<CredentialSetup> {
  const connection = flags.connection ?? 'Contoso';
  const info: Record<string, unknown> = {};
  const files: Record<string, string> = {};
  let timer: NodeJS.Timeout | undefined;

  if (prepared.certificate && flags.certificateOut !== undefined) {
    const dir = resolve(flags.certificateOut);
    const { certPem, keyPem } = prepared.certificate;
    const password = randomBytes(12).toString('base64url');
    files.pem = join(dir, 'app.pem');
    await writePrivate(files.pem, `${certPem.trim()}\n${keyPem.trim()}\n`);
    await writePrivate(join(dir, 'app.pfx'), prepared.certificate.toPfx(password));
    await writePrivate(join(dir, 'app.pfx.password'), password);
    info.certificate = {
      pem: files.pem,
      pfx: join(dir, 'app.pfx'),
      passwordFile: join(dir, 'app.pfx.password'),
      thumbprint: prepared.certificate.thumbprintSha1.toUpperCase(),
    };
  }

  if (prepared.issuerKey && flags.federatedTokenOut !== undefined) {
    const file = resolve(flags.federatedTokenOut);
    const key = prepared.issuerKey.privateKey;
    const write = async () => {
      const iat = Math.floor(emu.clock.now() / 1000);
      const assertion = signJwt(
        { typ: 'JWT', kid: 'emulator-issuer' },
        {
          iss: FEDERATED_ISSUER,
          sub: FEDERATED_SUBJECT,
          aud: FEDERATED_AUDIENCE,
          iat,
          nbf: iat,
          exp: iat + ASSERTION_LIFETIME_S,
          jti: randomUUID(),
        },
        key,
      );
      await writePrivate(file, `${assertion}\n`);
    };
    await write();
    // Kubernetes rewrites a projected service-account token well before it expires: so does this.
    timer = setInterval(() => void write().catch(() => undefined), (ASSERTION_LIFETIME_S / 2) * 1000);
    timer.unref();
    files.assertion = file;
    info.federatedToken = {
      file,
      issuer: FEDERATED_ISSUER,
      subject: FEDERATED_SUBJECT,
      lifetimeSeconds: ASSERTION_LIFETIME_S,
    };
  }

  const mi = emu.managedIdentity;
  if (mi) {
    info.IDENTITY_ENDPOINT = mi.endpoint;
    info.IDENTITY_HEADER = mi.header;
    info.managedIdentityClientId = mi.clientId;
  }

  if (flags.keyVault) {
    emu.keyVault.setSecret(KEY_VAULT_NAME, `Connections--${connection}--ApplicationKey`, emu.clientSecret);
    emu.keyVault.allow(KEY_VAULT_NAME, emu.clientId, ['get', 'list']);
    if (mi) emu.keyVault.allow(KEY_VAULT_NAME, mi.clientId, ['get', 'list']);
    info.keyVault = emu.keyVault.url(KEY_VAULT_NAME);
  }

  const ccp = emu.cyberArk;
  if (ccp && flags.cyberark !== undefined) {
    const dir = resolve(flags.cyberark);
    const client = ccp.issueClientCertificate('entra-connector');
    ccp.addApplication({
      appId: CYBERARK_APP_ID,
      allowedThumbprints: [client.thumbprintSha256],
      safes: [CYBERARK_SAFE],
    });
    ccp.setObject(CYBERARK_SAFE, `${connection}-ApplicationKey`, {
      Content: emu.clientSecret,
      UserName: emu.clientId,
    });
    files.clientCertificate = join(dir, 'client.pem');
    files.clientKey = join(dir, 'client-key.pem');
    await writePrivate(files.clientCertificate, client.certPem);
    await writePrivate(files.clientKey, client.keyPem);
    info.cyberArk = {
      server: ccp.url,
      appId: CYBERARK_APP_ID,
      safe: CYBERARK_SAFE,
      object: `${connection}-ApplicationKey`,
      clientCertificate: files.clientCertificate,
      clientKey: files.clientKey,
    };
  }

  async function writeSettings(settingsOut: string, caFile: string): Promise<string[]> {
    const path = resolve(settingsOut);
    const rel = (file: string) => relative(dirname(path), file).split(sep).join('/');
    const document = emu.settings(connection) as {
      Connections: Record<string, Record<string, unknown>>;
    } & Record<string, unknown>;
    const conn = document.Connections[connection]!;
    const written = [path];
    if (files.pem || files.assertion || flags.keyVault || flags.cyberark !== undefined || mi)
      delete conn.ApplicationKey;
    if (files.pem) conn.CertificatePath = rel(files.pem);
    else if (files.assertion) conn.ClientAssertionFile = rel(files.assertion);
    else if (mi && !flags.keyVault) conn.ManagedIdentity = true;
    if (flags.keyVault)
      document.AzureKeyVault = {
        Vault: info.keyVault,
        ...(mi
          ? { Authentication: 'ManagedIdentity' }
          : {
              Authentication: 'ClientSecret',
              TenantId: emu.tenantId,
              ApplicationId: emu.clientId,
              ApplicationKey: emu.clientSecret,
              MicrosoftAuthorityPath: `${emu.url}/{0}`,
            }),
      };
    if (files.clientCertificate && files.clientKey && ccp) {
      document.CyberArk = {
        Server: ccp.url,
        ApplicationId: CYBERARK_APP_ID,
        SafeName: CYBERARK_SAFE,
        ClientCertificate: rel(files.clientCertificate),
        ClientCertificateKey: rel(files.clientKey),
        CaFile: rel(resolve(caFile)),
      };
      const agent = join(dirname(path), CYBERARK_AGENT_FILE);
      await writePrivate(
        agent,
        `${JSON.stringify({ Connections: { [connection]: { ApplicationKey: `${connection}-ApplicationKey` } } }, null, 2)}\n`,
      );
      written.push(agent);
    }
    await writePrivate(path, `${JSON.stringify(document, null, 2)}\n`);
    return written;
  }

  return { info, stop: () => clearInterval(timer), writeSettings };
}
