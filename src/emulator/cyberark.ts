import { X509Certificate, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import { createCertificateAuthority, type CertificateAndKey } from './ca.js';

/**
 * CyberArk's Central Credential Provider (AAM CCP) REST call, on its own HTTPS listener that requires a
 * client certificate signed by the emulator's client CA (mutual TLS): `GET /AIMWebService/api/Accounts?
 * AppID=..&Safe=..&Folder=..&Object=..` → the account with its password in `Content`; failures as
 * `{ErrorCode, ErrorMsg}` with CCP's codes and HTTP statuses. Applications (AppIDs) are authorized by
 * client-certificate thumbprint and by safe; an AppID that may not read a safe gets APPAP004E, like an
 * object that does not exist (the CCP does not tell them apart).
 */

/** A password object as the CCP returns it (the values it stores are strings). */
export interface CyberArkAccount {
  Content: string;
  UserName?: string;
  Address?: string;
  Database?: string;
  PolicyID?: string;
  DeviceType?: string;
  LogonDomain?: string;
  Folder?: string;
  /** The CPM is changing the password: `FailRequestOnPasswordChange=true` then fails with APPAP282E. */
  PasswordChangeInProcess?: boolean;
}

export interface CyberArkApplication {
  appId: string;
  /** SHA-256 thumbprints (hex, any case) of the client certificates allowed; none = any the client CA signed. */
  allowedThumbprints?: string[];
  /** Safes the application is a member of (List and Retrieve). */
  safes: string[];
}

export interface CyberArkOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The server certificate and the CA that signed it; by default the client CA signs a fresh one. */
  tls?: { caPem: string; server: CertificateAndKey };
  applications?: CyberArkApplication[];
  /** Safes → object name → account. */
  safes?: Record<string, Record<string, CyberArkAccount>>;
}

/** A client certificate signed by the emulator's client CA. */
export interface ClientCertificate extends CertificateAndKey {
  thumbprintSha256: string;
  /** The certificate and key as a PKCS#12 (PFX) file protected by `password`. */
  toPfx(password: string): Buffer;
}

export interface CyberArkEmulator {
  /** `https://127.0.0.1:<port>` (the `Server` setting). */
  url: string;
  /** The CA that signed the server certificate (to trust). */
  caPem: string;
  /** The CA whose client certificates the listener accepts. */
  clientCaPem: string;
  issueClientCertificate(commonName: string): ClientCertificate;
  addApplication(app: CyberArkApplication): void;
  setObject(safe: string, name: string, account: CyberArkAccount): void;
  deleteObject(safe: string, name: string): boolean;
  /** Simulates the CCP losing its Vault (APPAP007E). */
  setVaultAvailable(available: boolean): void;
  /** Every request answered: AppID, object, status and CCP error code (never the password). */
  requests: { appId?: string; object?: string; status: number; errorCode?: string }[];
  close(): Promise<void>;
}

const NOT_FOUND_TAIL =
  'Please check that there is a password object that answers your query in the Vault and that both the Provider ' +
  'and the application user have the appropriate permissions needed in order to use the password.';

/** Starts the CCP emulator (creates its client CA: a few hundred ms of RSA key generation). */
export async function startCyberArk(options: CyberArkOptions = {}): Promise<CyberArkEmulator> {
  const clientCa = createCertificateAuthority({ commonName: 'entra-connector emulator client CA' });
  const tls = options.tls ?? { caPem: clientCa.caPem, server: clientCa.issueServerCertificate() };
  const apps = new Map<string, CyberArkApplication>();
  const safes = new Map<
    string,
    { name: string; objects: Map<string, { name: string; account: CyberArkAccount }> }
  >();
  let vaultAvailable = true;
  const requests: CyberArkEmulator['requests'] = [];

  const addApplication = (app: CyberArkApplication) =>
    apps.set(app.appId.toLowerCase(), structuredClone(app));
  function setObject(safe: string, name: string, account: CyberArkAccount): void {
    const s = safes.get(safe.toLowerCase()) ?? { name: safe, objects: new Map() };
    s.objects.set(name.toLowerCase(), { name, account: { ...account } });
    safes.set(safe.toLowerCase(), s);
  }
  options.applications?.forEach(addApplication);
  for (const [safe, objects] of Object.entries(options.safes ?? {}))
    for (const [name, account] of Object.entries(objects)) setObject(safe, name, account);

  function answer(req: IncomingMessage): { status: number; body: unknown; appId?: string; object?: string } {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const param = (name: string) =>
      [...url.searchParams].find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1] ?? undefined;
    const appId = param('AppID');
    const object = param('Object');
    const fail = (status: number, ErrorCode: string, ErrorMsg: string) => ({
      status,
      body: { ErrorCode, ErrorMsg },
      ...(appId ? { appId } : {}),
      ...(object ? { object } : {}),
    });
    if (url.pathname.toLowerCase() !== '/aimwebservice/api/accounts')
      return { status: 404, body: '404 - File or directory not found.' };
    if (req.method !== 'GET')
      return { status: 405, body: 'The requested resource does not support this method.' };
    if (!appId) return fail(400, 'AIMWS031E', 'Invalid request. The AppID parameter is required');
    const safe = param('Safe');
    const folder = param('Folder') ?? 'Root';
    const userName = param('UserName');
    const address = param('Address');
    if (!object && !userName && !address)
      return fail(
        400,
        'AIMWS030E',
        'Invalid query format: no search criteria (Object, UserName or Address) were given',
      );
    if (!vaultAvailable)
      return fail(400, 'APPAP007E', 'Connection to the Vault has failed (Diagnostic Info: 1)');

    const app = apps.get(appId.toLowerCase());
    if (!app)
      return fail(403, 'APPAP008E', `Problem occurred while trying to use user [${appId}] in the Vault`);
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    const thumbprint = cert.raw ? createHash('sha256').update(cert.raw).digest('hex') : '';
    if (app.allowedThumbprints?.length && !app.allowedThumbprints.some((t) => t.toLowerCase() === thumbprint))
      return fail(
        403,
        'APPAP306E',
        `Authentication error for App ID [${appId}]. Reason: APPAP133E Failed to verify application authentication data: CertificateSN "${cert.serialNumber}" is unauthorized`,
      );

    const query = [
      safe ? `Safe=${safe}` : '',
      `Folder=${folder}`,
      object ? `Object=${object}` : '',
      userName ? `UserName=${userName}` : '',
      address ? `Address=${address}` : '',
    ]
      .filter(Boolean)
      .join(';');
    const allowed = app.safes.map((s) => s.toLowerCase()).filter((s) => !safe || s === safe.toLowerCase());
    const matches = allowed.flatMap((s) =>
      [...(safes.get(s)?.objects.values() ?? [])]
        .filter(
          (o) =>
            (o.account.Folder ?? 'Root').toLowerCase() === folder.toLowerCase() &&
            (!object || o.name.toLowerCase() === object.toLowerCase()) &&
            (!userName || o.account.UserName?.toLowerCase() === userName.toLowerCase()) &&
            (!address || o.account.Address?.toLowerCase() === address.toLowerCase()),
        )
        .map((o) => ({ safe: safes.get(s)!.name, ...o })),
    );
    if (matches.length === 0)
      return fail(
        404,
        'APPAP004E',
        `Password object matching query [${query}] was not found (Diagnostic Info: 5). ${NOT_FOUND_TAIL}`,
      );
    if (matches.length > 1)
      return fail(
        400,
        'APPAP227E',
        `Too many password objects matching query [${query}] were found (Diagnostic Info: 41)`,
      );
    const found = matches[0]!;
    const { PasswordChangeInProcess, ...account } = found.account;
    if (PasswordChangeInProcess && param('FailRequestOnPasswordChange')?.toLowerCase() === 'true')
      return fail(500, 'APPAP282E', `Password object [${found.name}] is currently being changed by the CPM`);
    return {
      status: 200,
      body: {
        ...account,
        Folder: account.Folder ?? 'Root',
        Safe: found.safe,
        Name: found.name,
        CreationMethod: 'PVWA',
        PasswordChangeInProcess: PasswordChangeInProcess ? 'True' : 'False',
      },
      appId,
      object: found.name,
    };
  }

  const server: Server = createServer(
    {
      cert: tls.server.certPem,
      key: tls.server.keyPem,
      ca: clientCa.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        const result = answer(req);
        const body = result.body as { ErrorCode?: string };
        requests.push({
          ...(result.appId ? { appId: result.appId } : {}),
          ...(result.object ? { object: result.object } : {}),
          status: result.status,
          ...(body?.ErrorCode ? { errorCode: body.ErrorCode } : {}),
        });
        const text = typeof result.body === 'string' ? result.body : JSON.stringify(result.body);
        res.writeHead(result.status, {
          'content-type':
            typeof result.body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
          'cache-control': 'no-cache',
          server: 'Microsoft-IIS/10.0',
          'x-powered-by': 'ASP.NET',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `https://127.0.0.1:${port}`,
    caPem: tls.caPem,
    clientCaPem: clientCa.caPem,
    issueClientCertificate(commonName) {
      const issued = clientCa.issueClientCertificate({ commonName });
      const thumbprintSha256 = createHash('sha256')
        .update(new X509Certificate(issued.certPem).raw)
        .digest('hex');
      return {
        ...issued,
        thumbprintSha256,
        toPfx(password) {
          const key = forge.pki.privateKeyFromPem(issued.keyPem);
          const cert = forge.pki.certificateFromPem(issued.certPem);
          const asn1 = forge.pkcs12.toPkcs12Asn1(key, [cert], password, {
            algorithm: '3des',
            friendlyName: commonName,
          });
          return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
        },
      };
    },
    addApplication,
    setObject,
    deleteObject: (safe, name) => safes.get(safe.toLowerCase())?.objects.delete(name.toLowerCase()) ?? false,
    setVaultAvailable: (available) => void (vaultAvailable = available),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
