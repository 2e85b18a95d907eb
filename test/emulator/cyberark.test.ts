import https from 'node:https';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { startCyberArk, type ClientCertificate, type CyberArkEmulator } from '../../src/emulator/cyberark.js';
import { withEmulator } from '../helpers/emulator.js';

const APP_ID = 'EntraConnector';
const SAFE = 'EntraSafe';

interface Answer {
  status: number;
  json: any;
}

/** One CCP request; `cert` is the client certificate (none when absent). */
function ccp(
  emu: { url: string; caPem: string },
  query: Record<string, string>,
  cert?: { certPem: string; keyPem: string },
): Promise<Answer> {
  const url = new URL(`${emu.url}/AIMWebService/api/Accounts`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { ca: emu.caPem, agent: false, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let shared: { emu: CyberArkEmulator; allowed: ClientCertificate; other: ClientCertificate } | undefined;

/** One CCP for the suite (its CA and certificates take a moment to make), reset before each test. */
async function ccpEmulator() {
  if (!shared) {
    const emu = await startCyberArk();
    shared = {
      emu,
      allowed: emu.issueClientCertificate('connector'),
      other: emu.issueClientCertificate('other'),
    };
  }
  const { emu, allowed } = shared;
  emu.addApplication({
    appId: APP_ID,
    allowedThumbprints: [allowed.thumbprintSha256.toUpperCase()],
    safes: [SAFE],
  });
  emu.setObject(SAFE, 'Contoso-ApplicationKey', {
    Content: 'pa55-from-cyberark',
    UserName: 'entra-connector',
    Address: 'login.microsoftonline.com',
    PolicyID: 'AzureApplication',
    DeviceType: 'Application',
  });
  emu.setObject('OtherSafe', 'Hidden', { Content: 'hidden-value' });
  emu.setVaultAvailable(true);
  return shared;
}

const Ccp = suite('startCyberArk()');
Ccp.after(async () => {
  await shared?.emu.close();
});

Ccp('GET /AIMWebService/api/Accounts with an allowed client certificate returns the account', async () => {
  const { emu, allowed } = await ccpEmulator();
  const r = await ccp(emu, { AppID: APP_ID, Safe: SAFE, Object: 'Contoso-ApplicationKey' }, allowed);
  assert.is(r.status, 200);
  assert.equal(r.json, {
    Content: 'pa55-from-cyberark',
    UserName: 'entra-connector',
    Address: 'login.microsoftonline.com',
    PolicyID: 'AzureApplication',
    DeviceType: 'Application',
    Folder: 'Root',
    Safe: SAFE,
    Name: 'Contoso-ApplicationKey',
    CreationMethod: 'PVWA',
    PasswordChangeInProcess: 'False',
  });
  assert.equal(emu.requests.at(-1), { appId: APP_ID, object: 'Contoso-ApplicationKey', status: 200 });
});

Ccp('without a client certificate, or with one its CA did not sign, the TLS handshake fails', async () => {
  const { emu } = await ccpEmulator();
  const query = { AppID: APP_ID, Safe: SAFE, Object: 'Contoso-ApplicationKey' };
  await ccp(emu, query).then(
    () => assert.unreachable('no client certificate must not get an answer'),
    (error: NodeJS.ErrnoException) => assert.ok(error.code || error.message),
  );
  const stranger = generateSelfSignedCertificate({ commonName: 'stranger', keyBits: 2048 });
  await ccp(emu, query, stranger).then(
    () => assert.unreachable('a self-signed client certificate must not get an answer'),
    (error: NodeJS.ErrnoException) => assert.ok(error.code || error.message),
  );
});

Ccp(
  'an unknown AppID gets 403 APPAP008E; a certificate not allowed for the AppID 403 APPAP306E',
  async () => {
    const { emu, allowed, other } = await ccpEmulator();
    const unknown = await ccp(
      emu,
      { AppID: 'Nobody', Safe: SAFE, Object: 'Contoso-ApplicationKey' },
      allowed,
    );
    assert.is(unknown.status, 403);
    assert.is(unknown.json.ErrorCode, 'APPAP008E');
    assert.equal(Object.keys(unknown.json).sort(), ['ErrorCode', 'ErrorMsg']);
    const refused = await ccp(emu, { AppID: APP_ID, Safe: SAFE, Object: 'Contoso-ApplicationKey' }, other);
    assert.is(refused.status, 403);
    assert.is(refused.json.ErrorCode, 'APPAP306E');
    assert.match(
      refused.json.ErrorMsg,
      /^Authentication error for App ID \[EntraConnector\]\. Reason: APPAP133E/,
    );
  },
);

Ccp('a missing object, or one in a safe the AppID may not use, gets 404 APPAP004E', async () => {
  const { emu, allowed } = await ccpEmulator();
  const missing = await ccp(emu, { AppID: APP_ID, Safe: SAFE, Object: 'Nope' }, allowed);
  assert.is(missing.status, 404);
  assert.is(missing.json.ErrorCode, 'APPAP004E');
  assert.match(
    missing.json.ErrorMsg,
    /^Password object matching query \[Safe=EntraSafe;Folder=Root;Object=Nope\] was not found/,
  );
  const hidden = await ccp(emu, { AppID: APP_ID, Safe: 'OtherSafe', Object: 'Hidden' }, allowed);
  assert.is(hidden.status, 404);
  assert.is(hidden.json.ErrorCode, 'APPAP004E');
});

Ccp('a missing AppID gets 400 AIMWS031E; a Vault outage 400 APPAP007E', async () => {
  const { emu, allowed } = await ccpEmulator();
  const noApp = await ccp(emu, { Safe: SAFE, Object: 'Contoso-ApplicationKey' }, allowed);
  assert.is(noApp.status, 400);
  assert.is(noApp.json.ErrorCode, 'AIMWS031E');
  emu.setVaultAvailable(false);
  const down = await ccp(emu, { AppID: APP_ID, Safe: SAFE, Object: 'Contoso-ApplicationKey' }, allowed);
  assert.is(down.status, 400);
  assert.is(down.json.ErrorCode, 'APPAP007E');
});

Ccp.run();

// ---

const Wiring = suite('startEmulator({ cyberArk })');

Wiring('serves the CCP with a certificate from the emulator CA and closes it with the emulator', async () => {
  await withEmulator(
    {
      cyberArk: {
        applications: [{ appId: APP_ID, safes: [SAFE] }],
        safes: { [SAFE]: { Key: { Content: 'v4lue!' } } },
      },
    },
    async (emu) => {
      const ca = emu.cyberArk!;
      assert.is(ca.caPem, emu.caPem);
      const cert = ca.issueClientCertificate('connector');
      const r = await ccp(
        { url: ca.url, caPem: emu.caPem },
        { AppID: APP_ID, Safe: SAFE, Object: 'Key' },
        cert,
      );
      assert.is(r.json.Content, 'v4lue!');
    },
  );
});

Wiring.run();
