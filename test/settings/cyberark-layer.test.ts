import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClientCertificate } from '../../src/emulator/cyberark.js';
import type { Emulator } from '../../src/emulator/server.js';
import { UsageError } from '../../src/errors.js';
import { redact } from '../../src/redact.js';
import { CYBERARK_AGENT_FILE, readCyberArkLayer } from '../../src/settings/cyberark-layer.js';
import { flattenJson, resolveConnection, type SettingsLayer } from '../../src/settings/settings.js';
import { withEmulator } from '../helpers/emulator.js';
import { rejection } from '../helpers/common.js';

const APP_ID = 'EntraConnector';
const SAFE = 'EntraSafe';
const PFX_PASSWORD = 'pfx-pa55word!';
const FROM_CYBERARK = 'CyberArk~secret.value-0123456789';

interface Fixture {
  emu: Emulator;
  dir: string;
  settingsPath: string;
  cert: ClientCertificate;
}

/**
 * An emulator with a CCP, and a folder with a settings path, the agent file and the client certificate
 * as a PFX and as PEM files (all made at run time); `agent` null writes no agent file.
 */
function run(
  fn: (f: Fixture) => Promise<void>,
  agent: unknown = { Connections: { Contoso: { ApplicationKey: 'Contoso-ApplicationKey' } } },
) {
  return withEmulator(
    {
      cyberArk: {
        safes: {
          [SAFE]: { 'Contoso-ApplicationKey': { Content: FROM_CYBERARK, UserName: 'entra-connector' } },
        },
      },
    },
    async (emu) => {
      const dir = await mkdtemp(join(tmpdir(), 'cyberark-layer-'));
      try {
        const cert = emu.cyberArk!.issueClientCertificate('entra-connector');
        emu.cyberArk!.addApplication({
          appId: APP_ID,
          allowedThumbprints: [cert.thumbprintSha256],
          safes: [SAFE],
        });
        await writeFile(join(dir, 'client.pfx'), cert.toPfx(PFX_PASSWORD));
        await writeFile(join(dir, 'client.pem'), cert.certPem);
        await writeFile(join(dir, 'client-key.pem'), cert.keyPem);
        await writeFile(join(dir, 'ca.pem'), emu.caPem);
        if (agent !== null) await writeFile(join(dir, CYBERARK_AGENT_FILE), JSON.stringify(agent));
        await fn({ emu, dir, settingsPath: join(dir, 'appsettings.agent.json'), cert });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
}

function plain(f: Fixture, cyberArk: Record<string, string> = {}): SettingsLayer {
  const settings = f.emu.settings('Contoso') as { Connections: { Contoso: Record<string, string> } };
  settings.Connections.Contoso.ApplicationKey = 'from-the-file';
  return flattenJson(
    {
      ...settings,
      CyberArk: {
        Server: f.emu.cyberArk!.url,
        ApplicationId: APP_ID,
        SafeName: SAFE,
        ClientCertificate: 'client.pfx',
        ClientCertificatePassword: PFX_PASSWORD,
        CaFile: 'ca.pem',
        ...cyberArk,
      },
    },
    f.settingsPath,
  );
}

const Read = suite('readCyberArkLayer');

Read('fetches each object named in the agent file over mutual TLS (PFX); the layer wins key by key', () =>
  run(async (f) => {
    const file = plain(f);
    const layer = await readCyberArkLayer([file], f.settingsPath);
    assert.ok(layer);
    assert.is(layer.origin, `CyberArk ${f.emu.cyberArk!.url}`);
    assert.equal([...layer.values], [['Connections:Contoso:ApplicationKey', FROM_CYBERARK]]);
    const settings = resolveConnection([file, layer], 'Contoso');
    assert.is(settings.applicationKey, FROM_CYBERARK);
    assert.is(settings.origins.ApplicationKey, layer.origin);
    assert.is(settings.origins.TenantId, f.settingsPath);
    assert.is(redact(`x ${FROM_CYBERARK} ${PFX_PASSWORD}`), 'x *** ***');
    assert.equal(f.emu.cyberArk!.requests.at(-1), {
      appId: APP_ID,
      object: 'Contoso-ApplicationKey',
      status: 200,
    });
  }),
);

Read('accepts a PEM certificate with its key file, and the CA given as an option', () =>
  run(async (f) => {
    const file = plain(f, {
      ClientCertificate: 'client.pem',
      ClientCertificateKey: 'client-key.pem',
      CaFile: '',
    });
    const layer = await readCyberArkLayer([file], f.settingsPath, { ca: f.emu.caPem });
    assert.is(layer?.values.get('Connections:Contoso:ApplicationKey'), FROM_CYBERARK);
  }),
);

Read('without CyberArk section nor agent file returns undefined', () =>
  run(async (f) => {
    const none = flattenJson({ Connections: { Contoso: { ApplicationId: 'x' } } }, f.settingsPath);
    assert.is(await readCyberArkLayer([none], f.settingsPath), undefined);
  }, null),
);

Read("a missing object fails naming the setting, the object and CyberArk's ErrorCode", () =>
  run(
    async (f) => {
      const error = await rejection(readCyberArkLayer([plain(f)], f.settingsPath));
      assert.is(error.code, 'ERR_CYBERARK');
      assert.match(
        error.message,
        "cannot fetch object 'Contoso-Nope' for Connections:Contoso:ApplicationKey",
      );
      assert.match(error.message, 'APPAP004E: Password object matching query');
    },
    { Connections: { Contoso: { ApplicationKey: 'Contoso-Nope' } } },
  ),
);

Read('a wrong AppID, or a certificate the AppID does not allow, fails with APPAP008E / APPAP306E', () =>
  run(async (f) => {
    const wrongApp = await rejection(
      readCyberArkLayer([plain(f, { ApplicationId: 'Nobody' })], f.settingsPath),
    );
    assert.match(wrongApp.message, 'APPAP008E');
    assert.match(wrongApp.message, 'check CyberArk:ApplicationId');
    const other = f.emu.cyberArk!.issueClientCertificate('someone-else');
    await writeFile(join(f.dir, 'other.pem'), other.certPem + other.keyPem);
    const refused = await rejection(
      readCyberArkLayer(
        [plain(f, { ClientCertificate: 'other.pem', ClientCertificatePassword: '' })],
        f.settingsPath,
      ),
    );
    assert.match(refused.message, 'APPAP306E');
  }),
);

Read('without a client certificate the TLS handshake is refused, and said so', () =>
  run(async (f) => {
    const error = await rejection(
      readCyberArkLayer([plain(f, { ClientCertificate: '', ClientCertificatePassword: '' })], f.settingsPath),
    );
    assert.is(error.code, 'ERR_CYBERARK');
    assert.match(error.message, 'the CCP refused the TLS connection');
  }),
);

Read('settings mistakes are ERR_SETTINGS before any request', () =>
  run(async (f) => {
    const usage = async (layer: SettingsLayer, pattern: string) => {
      try {
        await readCyberArkLayer([layer], f.settingsPath);
        assert.unreachable('expected a UsageError');
      } catch (error) {
        assert.instance(error, UsageError);
        assert.match((error as Error).message, pattern);
      }
    };
    await usage(plain(f, { ClientCertificatePassword: 'wrong' }), 'wrong CyberArk:ClientCertificatePassword');
    await usage(plain(f, { Server: 'http://ccp.contoso.com' }), 'must be an https URL');
    await usage(plain(f, { SafeName: '' }), 'CyberArk:SafeName is missing');
    await usage(
      plain(f, { ClientCertificate: 'client.pem', CaFile: '' }),
      'set CyberArk:ClientCertificateKey',
    );
    await rm(join(f.dir, CYBERARK_AGENT_FILE));
    await usage(plain(f), `${CYBERARK_AGENT_FILE} (which names the object of each setting) does not exist`);
    const requests = f.emu.cyberArk!.requests.length;
    assert.is(requests, 0);
  }),
);

Read.run();
