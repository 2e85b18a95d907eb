import { request } from 'node:https';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { call, sampleTenant, withEmulator } from '../helpers/emulator.js';
import { testTls } from '../helpers/identity-server.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';

function tokenForm(clientId: string, clientSecret: string) {
  return {
    client_id: clientId,
    client_secret: clientSecret,
    scope: 'https://graph.microsoft.com/.default',
    grant_type: 'client_credentials',
  };
}

const Start = suite('startEmulator');

Start(
  'startEmulator(options) serves HTTPS on 127.0.0.1 and says where: url, graphUrl, authority, ids',
  async () => {
    await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      assert.match(emu.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.is(emu.graphUrl, `${emu.url}/v1.0/`);
      assert.is(emu.tenantId, 'a7f3c9e2-5b1d-4e8a-9c6f-2d4b8e1a3f57');
      assert.is(emu.authority, `${emu.url}/${emu.tenantId}`);
      assert.match(emu.clientId, /^[0-9a-f-]{36}$/);
      assert.ok(emu.clientSecret.length > 20);
      assert.match(emu.caPem, /BEGIN CERTIFICATE/);
      const settings = emu.settings('Contoso') as any;
      assert.equal(settings.Connections.Contoso, {
        ApplicationId: emu.clientId,
        ApplicationKey: emu.clientSecret,
        TenantId: emu.tenantId,
        MicrosoftAuthorityPath: `${emu.url}/{0}`,
        MicrosoftGraphPathApi: `${emu.url}/v1.0/`,
      });
    });
  },
);

Start('the emulator certificate is trusted only through its CA', async () => {
  await withEmulator({}, async (emu) => {
    const error = await new Promise<string>((resolve) => {
      const req = request(`${emu.url}/v1.0/users`, (res) => {
        res.resume();
        resolve('no error');
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
    assert.match(error, /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
  });
});

Start('startEmulator() without tls options makes fresh keys and a CA of its own', async () => {
  const emu = await startEmulator({ throttle: false });
  try {
    assert.is.not(emu.caPem, testTls().caPem);
    assert.is((await call(emu, 'GET', '/v1.0/users')).status, 200);
  } finally {
    await emu.close();
  }
});

Start(
  'a token from the token endpoint opens Graph; Graph answers carry request-id, client-request-id, x-ms-ags-diagnostic',
  async () => {
    await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const t = await call(emu, 'POST', `/${emu.tenantId}/oauth2/v2.0/token`, {
        token: null,
        form: tokenForm(emu.clientId, emu.clientSecret),
      });
      assert.is(t.status, 200);
      const r = await call(emu, 'GET', `/v1.0/users/${ADELE}`, {
        token: t.json.access_token,
        headers: { 'client-request-id': 'my-correlation-id' },
      });
      assert.is(r.status, 200);
      assert.match(r.headers['request-id']!, /^[0-9a-f-]{36}$/);
      assert.is(r.headers['client-request-id'], 'my-correlation-id');
      assert.ok(JSON.parse(r.headers['x-ms-ags-diagnostic']!).ServerInfo);
      assert.match(r.headers['content-type']!, /^application\/json;odata\.metadata=minimal/);
      const discovery = await call(emu, 'GET', `/${emu.tenantId}/v2.0/.well-known/openid-configuration`, {
        token: null,
      });
      assert.is(discovery.json.token_endpoint, `${emu.url}/${emu.tenantId}/oauth2/v2.0/token`);
    });
  },
);

Start('Graph without a token, or with an expired one, answers 401 InvalidAuthenticationToken', async () => {
  await withEmulator({ tokenLifetimeSeconds: 600 }, async (emu) => {
    const none = await call(emu, 'GET', '/v1.0/users', { token: null });
    assert.is(none.status, 401);
    assert.is(none.json.error.code, 'InvalidAuthenticationToken');
    const token = emu.identity.issueAccessToken(emu.clientId);
    assert.is((await call(emu, 'GET', '/v1.0/users', { token })).status, 200);
    emu.clock.advance(3600 * 1000);
    const expired = await call(emu, 'GET', '/v1.0/users', { token });
    assert.is(expired.status, 401);
    assert.match(expired.json.error.message, /expired/);
  });
});

Start(
  'roles and apps: each app gets only its permissions (403 Authorization_RequestDenied otherwise)',
  async () => {
    const readerId = '0a0a0a0a-1111-4222-8333-444444444444';
    await withEmulator(
      {
        tenant: await sampleTenant(),
        apps: [
          {
            clientId: readerId,
            displayName: 'reader',
            secrets: ['reader-secret-1'],
            roles: ['User.Read.All'],
          },
        ],
      },
      async (emu) => {
        const reader = emu.identity.issueAccessToken(readerId);
        assert.is((await call(emu, 'GET', '/v1.0/users', { token: reader })).status, 200);
        const denied = await call(emu, 'GET', '/v1.0/groups', { token: reader });
        assert.is(denied.status, 403);
        assert.is(denied.json.error.code, 'Authorization_RequestDenied');
        assert.is(
          (await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { token: reader, body: { city: 'x' } })).status,
          403,
        );
        assert.is(
          (await call(emu, 'GET', '/v1.0/groups')).status,
          200,
          'the default app has every permission',
        );
        assert.ok(emu.requests.some((e) => e.appId === readerId && e.status === 403));
      },
    );
  },
);

Start("unknown routes answer in Graph's error envelope; a wrong method 405", async () => {
  await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const seg = await call(emu, 'GET', '/v1.0/applications');
    assert.is(seg.status, 400);
    assert.is(seg.json.error.code, 'BadRequest');
    assert.match(seg.json.error.message, /applications/);
    const none = await call(emu, 'GET', '/nothing/here');
    assert.is(none.status, 404);
    assert.ok(none.json.error.innerError);
    assert.is((await call(emu, 'PUT', '/v1.0/users')).status, 405);
    assert.is((await call(emu, 'POST', '/v1.0/users/delta')).status, 405);
  });
});

Start('/beta serves the same directory as /v1.0', async () => {
  await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const r = await call(emu, 'GET', `/beta/users/${ADELE}`);
    assert.is(r.status, 200);
    assert.match(r.json['@odata.context'], /\/beta\/\$metadata#users/);
    const list = await call(emu, 'GET', '/beta/groups?$top=2');
    assert.match(list.json['@odata.nextLink'], /\/beta\/groups\?/);
  });
});

Start(
  'emu.requests records method, path with query, status, duration and app; requestLogLimit caps it',
  async () => {
    await withEmulator({ tenant: await sampleTenant(), requestLogLimit: 5 }, async (emu) => {
      await call(emu, 'GET', '/v1.0/users?$top=1');
      const [first] = emu.requests;
      assert.is(first!.method, 'GET');
      assert.is(first!.path, '/v1.0/users?$top=1');
      assert.is(first!.status, 200);
      assert.is(first!.appId, emu.clientId);
      assert.type(first!.ms, 'number');
      for (let i = 0; i < 20; i++) await call(emu, 'GET', '/v1.0/users?$top=1');
      assert.ok(emu.requests.length <= 10, String(emu.requests.length));
    });
  },
);

/** Raw response header names (as sent on the wire) of one request. */
function rawHeaderNames(
  emu: Emulator,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, emu.url), { method, headers, ca: emu.caPem }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.rawHeaders.filter((_, i) => i % 2 === 0)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

Start(
  "answers carry each header once, in Graph's spelling: a 401, the token endpoint, a JSON page",
  async () => {
    await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const answers = [
        await rawHeaderNames(emu, 'GET', '/v1.0/users', { authorization: 'Bearer not-a-token' }),
        await rawHeaderNames(
          emu,
          'POST',
          `/${emu.tenantId}/oauth2/v2.0/token`,
          { 'content-type': 'application/x-www-form-urlencoded' },
          new URLSearchParams(tokenForm(emu.clientId, emu.clientSecret)).toString(),
        ),
        await rawHeaderNames(emu, 'GET', '/v1.0/users?$top=1', {
          authorization: `Bearer ${emu.identity.issueAccessToken(emu.clientId)}`,
        }),
      ];
      for (const names of answers) {
        const lower = names.map((n) => n.toLowerCase());
        assert.equal(lower, [...new Set(lower)], `one of each: ${names.join(', ')}`);
        assert.ok(names.includes('Content-Type'), names.join(', '));
      }
      assert.ok(answers[0]!.includes('WWW-Authenticate'));
      assert.ok(answers[2]!.includes('request-id') && answers[2]!.includes('OData-Version'));
    });
  },
);

Start('a request body over 4 MB answers 413', async () => {
  await withEmulator({}, async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/$batch', { body: 'x'.repeat(4 * 1024 * 1024 + 10) });
    assert.is(r.status, 413);
  });
});

Start('close() ends keep-alive connections and stops the server', async () => {
  const emu = await startEmulator({ throttle: false, tls: testTls() });
  await call(emu, 'GET', '/v1.0/users');
  await emu.close();
  try {
    await call(emu, 'GET', '/v1.0/users');
    assert.unreachable('the server is closed');
  } catch (e) {
    assert.match((e as NodeJS.ErrnoException).code ?? '', /ECONNREFUSED|ECONNRESET/);
  }
});

Start.run();
