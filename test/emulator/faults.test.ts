import { request } from 'node:https';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Faults, parseFaultSpec, seededRandom } from '../../src/emulator/faults.js';
import type { Emulator } from '../../src/emulator/server.js';
import { call, withEmulator } from '../helpers/emulator.js';

/** A raw GET that reports what happened on the wire: the status and bytes received, or the error. */
function rawGet(
  emu: Emulator,
  path: string,
): Promise<{ status?: number; body: string; declared?: number; error?: string; complete: boolean }> {
  return new Promise((resolve) => {
    const headers = { authorization: `Bearer ${emu.identity.issueAccessToken(emu.clientId)}` };
    const req = request(new URL(path, emu.url), { headers, ca: emu.caPem }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      const declared = Number(res.headers['content-length']);
      res.on('end', () => resolve({ status: res.statusCode, body, declared, complete: res.complete }));
      res.on('error', (e) =>
        resolve({ status: res.statusCode, body, declared, error: e.message, complete: false }),
      );
      res.on('aborted', () => resolve({ status: res.statusCode, body, declared, complete: false }));
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ body: '', error: e.code ?? e.message, complete: false }),
    );
    req.end();
  });
}

const Spec = suite('parseFaultSpec');

Spec('parseFaultSpec(spec) reads rates, counts, patterns and a shared retry-after', () => {
  assert.equal(parseFaultSpec('429:0.1@/users/delta,503*3,reset:0.01,retry-after=2'), [
    { rate: 0.1, match: '/users/delta', kind: 'status', status: 429, retryAfter: 2 },
    { count: 3, kind: 'status', status: 503, retryAfter: 2 },
    { rate: 0.01, kind: 'reset' },
  ]);
});

Spec('parseFaultSpec(spec) gives 429 a default Retry-After of 1 s and 503/504 none', () => {
  const [a, b, c] = parseFaultSpec('429*1,503*1,504:0.5');
  assert.is(a!.retryAfter, 1);
  assert.is(b!.retryAfter, undefined);
  assert.is(c!.retryAfter, undefined);
});

Spec('parseFaultSpec("token-outage*2") is a 503 on the token endpoint only', () => {
  assert.equal(parseFaultSpec('token-outage*2'), [{ count: 2, kind: 'status', status: 503, scope: 'token' }]);
});

Spec('parseFaultSpec("trickle*1@/users") is a body sent a byte a second', () => {
  assert.equal(parseFaultSpec('trickle*1@/users'), [{ count: 1, match: '/users', kind: 'trickle' }]);
});

Spec('parseFaultSpec(bad) throws for unknown kinds, bad rates and bad syntax', () => {
  for (const bad of ['418:0.1', '429:1.5', '429', 'reset*x', 'nonsense'])
    assert.throws(() => parseFaultSpec(bad), /bad fault/, bad);
});

Spec.run();

// ---

const Pick = suite('Faults.pick');

Pick('pick(target) consumes count rules in order, then stops matching', () => {
  const f = new Faults(1);
  f.add({ kind: 'status', status: 503, count: 2 });
  assert.is(f.pick('GET /v1.0/users', 'graph')?.status, 503);
  assert.is(f.pick('GET /v1.0/users', 'graph')?.status, 503);
  assert.is(f.pick('GET /v1.0/users', 'graph'), undefined);
});

Pick(
  'pick(target) matches substrings and regular expressions, and keeps graph and token scopes apart',
  () => {
    const f = new Faults(1);
    f.add(
      { kind: 'reset', count: 5, match: '/groups/delta' },
      { kind: 'status', status: 429, count: 5, match: /^PATCH / },
      { kind: 'status', status: 503, count: 5, scope: 'token' },
    );
    assert.is(f.pick('GET /v1.0/users/delta', 'graph'), undefined);
    assert.is(f.pick('GET /v1.0/groups/delta?$skiptoken=x', 'graph')?.kind, 'reset');
    assert.is(f.pick('PATCH /v1.0/users/x', 'graph')?.status, 429);
    assert.is(f.pick('POST /t/oauth2/v2.0/token', 'token')?.status, 503);
    assert.is(f.pick('POST /t/oauth2/v2.0/token', 'graph'), undefined);
  },
);

Pick('pick(target, scope, {inBatch}) skips connection-level faults for $batch items', () => {
  const f = new Faults(1);
  f.add({ kind: 'reset', count: 1 }, { kind: 'status', status: 504, count: 1 });
  assert.is(f.pick('GET /v1.0/users', 'graph', { inBatch: true })?.status, 504);
});

Pick(
  'pick(target) with a rate applies to about that share of requests, the same way for the same seed',
  () => {
    const run = (seed: number) => {
      const f = new Faults(seed);
      f.add({ kind: 'status', status: 429, rate: 0.25 });
      return Array.from({ length: 2000 }, () => (f.pick('GET /x', 'graph') ? 1 : 0));
    };
    const a = run(7);
    const hits = a.reduce((s: number, x) => s + x, 0);
    assert.ok(hits > 400 && hits < 600, String(hits));
    assert.equal(run(7), a);
    assert.not.equal(run(8), a);
  },
);

Pick('add(rules) returns a function that removes them; clear() removes all', () => {
  const f = new Faults(1);
  const remove = f.add({ kind: 'reset', rate: 1 });
  assert.ok(f.pick('GET /x', 'graph'));
  remove();
  assert.is(f.pick('GET /x', 'graph'), undefined);
  f.add({ kind: 'reset', rate: 1 });
  f.clear();
  assert.is(f.pick('GET /x', 'graph'), undefined);
});

Pick('seededRandom(seed) is deterministic and within [0, 1)', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  for (let i = 0; i < 100; i++) {
    const x = a();
    assert.is(x, b());
    assert.ok(x >= 0 && x < 1);
  }
});

Pick.run();

// ---

const Server = suite('startEmulator({faults, latency})');

Server(
  "a 503 fault answers Graph's error envelope; a 429 one carries Retry-After; then requests succeed",
  async () => {
    await withEmulator(
      { generate: { users: 5, groups: 1 }, faults: '503*1@/users,429*1@/users,retry-after=3' },
      async (emu) => {
        const a = await call(emu, 'GET', '/v1.0/users');
        assert.is(a.status, 503);
        assert.is(a.json.error.code, 'serviceNotAvailable');
        assert.ok(a.json.error.innerError['request-id']);
        assert.is(a.headers['retry-after'], '3');
        const b = await call(emu, 'GET', '/v1.0/users');
        assert.is(b.status, 429);
        assert.is(b.json.error.code, 'TooManyRequests');
        assert.is(b.headers['retry-after'], '3');
        assert.is((await call(emu, 'GET', '/v1.0/users')).status, 200);
        assert.equal(
          emu.requests.map((r) => [r.status, r.fault]),
          [
            [503, '503'],
            [429, '429'],
            [200, undefined],
          ],
        );
      },
    );
  },
);

Server('a 504 fault rule matches only its pattern; added at run time through emu.faults', async () => {
  await withEmulator({ generate: { users: 5, groups: 1 } }, async (emu) => {
    emu.faults.add({ kind: 'status', status: 504, count: 1, match: '/groups' });
    assert.is((await call(emu, 'GET', '/v1.0/users')).status, 200);
    const r = await call(emu, 'GET', '/v1.0/groups');
    assert.is(r.status, 504);
    assert.is(r.json.error.code, 'GatewayTimeout');
    assert.is(r.headers['retry-after'], undefined);
  });
});

Server('a reset fault drops the connection without an answer', async () => {
  await withEmulator({ generate: { users: 5, groups: 1 }, faults: 'reset*1' }, async (emu) => {
    const r = await rawGet(emu, '/v1.0/users');
    assert.is(r.status, undefined);
    assert.ok(r.error, 'a socket error');
    assert.is(emu.requests[0]?.fault, 'reset');
    assert.is((await rawGet(emu, '/v1.0/users')).status, 200);
  });
});

Server('a truncate fault sends a 200 whose body stops half way', async () => {
  await withEmulator({ generate: { users: 20, groups: 1 }, faults: 'truncate*1' }, async (emu) => {
    const r = await rawGet(emu, '/v1.0/users');
    assert.is(r.status, 200);
    assert.is(r.complete, false);
    assert.ok(r.declared! > r.body.length, `${r.declared} > ${r.body.length}`);
    assert.throws(() => JSON.parse(r.body));
  });
});

Server('a garbage fault answers 200 with a body that is not JSON', async () => {
  await withEmulator({ generate: { users: 5, groups: 1 }, faults: 'garbage*1' }, async (emu) => {
    const r = await rawGet(emu, '/v1.0/users');
    assert.is(r.status, 200);
    assert.throws(() => JSON.parse(r.body));
  });
});

Server('a 429 rate applies to about that share of requests', async () => {
  await withEmulator({ generate: { users: 5, groups: 1 }, faults: '429:0.5', seed: 3 }, async (emu) => {
    let throttled = 0;
    for (let i = 0; i < 40; i++)
      if ((await call(emu, 'GET', '/v1.0/users?$top=1')).status === 429) throttled++;
    assert.ok(throttled > 8 && throttled < 32, String(throttled));
  });
});

Server('latency delays every answer by at least fixedMs', async () => {
  await withEmulator({ generate: { users: 5, groups: 1 }, latency: { fixedMs: 120 } }, async (emu) => {
    const t0 = performance.now();
    assert.is((await call(emu, 'GET', '/v1.0/users?$top=1')).status, 200);
    assert.ok(performance.now() - t0 >= 115);
  });
});

Server(
  "a token outage answers the identity platform's 503 temporarily_unavailable; Graph is unaffected",
  async () => {
    await withEmulator(
      { generate: { users: 5, groups: 1 }, faults: 'token-outage*1,retry-after=2' },
      async (emu) => {
        const form = {
          client_id: emu.clientId,
          client_secret: emu.clientSecret,
          scope: 'https://graph.microsoft.com/.default',
          grant_type: 'client_credentials',
        };
        assert.is((await call(emu, 'GET', '/v1.0/users?$top=1')).status, 200);
        const down = await call(emu, 'POST', `/${emu.tenantId}/oauth2/v2.0/token`, { token: null, form });
        assert.is(down.status, 503);
        assert.is(down.json.error, 'temporarily_unavailable');
        assert.equal(down.json.error_codes, [90033]);
        assert.is(down.headers['retry-after'], '2');
        const up = await call(emu, 'POST', `/${emu.tenantId}/oauth2/v2.0/token`, { token: null, form });
        assert.is(up.status, 200);
        assert.ok(up.json.access_token);
      },
    );
  },
);

Server('status faults reach single $batch items; the batch itself still answers 200', async () => {
  await withEmulator({ generate: { users: 5, groups: 1 } }, async (emu) => {
    emu.faults.add({ kind: 'status', status: 503, count: 1, match: 'GET /v1.0/groups' });
    const r = await call(emu, 'POST', '/v1.0/$batch', {
      body: {
        requests: [
          { id: '1', method: 'GET', url: '/users?$top=1' },
          { id: '2', method: 'GET', url: '/groups' },
        ],
      },
    });
    assert.is(r.status, 200);
    const byId = new Map((r.json.responses as any[]).map((x) => [x.id, x.status]));
    assert.is(byId.get('1'), 200);
    assert.is(byId.get('2'), 503);
  });
});

Server.run();
