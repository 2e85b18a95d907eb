import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requestCost, Throttle, type ThrottleOptions } from '../../src/emulator/throttle.js';
import { call, withEmulator } from '../helpers/emulator.js';

const APP = 'app-1';
const TENANT = 'tenant-1';
const READ = { ru: 1, write: false };
const WRITE = { ru: 1, write: true };

function throttle(options: Partial<ThrottleOptions>, users = 10) {
  const clock = { t: 0 };
  const t = new Throttle(
    { enabled: true, ...options },
    () => users,
    () => clock.t,
  );
  return { t, clock };
}

/** Charges `n` requests and returns how many got through. */
function burst(t: Throttle, n: number, cost = READ, app = APP): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (t.charge(app, TENANT, cost).ok) ok++;
  return ok;
}

const Cost = suite('requestCost');

Cost('requestCost(GET users) costs 2 RU, $select takes one off, never below 1', () => {
  const q = (s: string) => new URLSearchParams(s);
  assert.equal(requestCost('GET', '/v1.0/users', q('')), { ru: 2, write: false });
  assert.equal(requestCost('GET', '/v1.0/users/abc', q('')), { ru: 2, write: false });
  assert.equal(requestCost('GET', '/v1.0/users', q('$select=id')), { ru: 1, write: false });
  assert.equal(requestCost('GET', '/v1.0/users/delta', q('')), { ru: 1, write: false });
  assert.equal(requestCost('GET', '/v1.0/groups', q('$select=id&$top=5')), { ru: 1, write: false });
});

Cost('requestCost(GET groups/{id}/members) costs 3 RU, $expand adds one, $top under 20 takes one off', () => {
  const q = (s: string) => new URLSearchParams(s);
  assert.equal(requestCost('GET', '/v1.0/groups/g/members', q('')).ru, 3);
  assert.equal(requestCost('GET', '/v1.0/groups/g/transitiveMembers', q('')).ru, 5);
  assert.equal(requestCost('GET', '/v1.0/groups', q('$expand=members')).ru, 2);
  assert.equal(requestCost('GET', '/v1.0/groups/g/members', q('$top=10')).ru, 2);
  assert.equal(requestCost('GET', '/v1.0/groups/g/members', q('$top=100')).ru, 3);
});

Cost('requestCost(POST|PATCH|DELETE) costs 1 RU and one write', () => {
  for (const m of ['POST', 'PATCH', 'DELETE', 'PUT'])
    assert.equal(requestCost(m, '/v1.0/users', new URLSearchParams()), { ru: 1, write: true });
});

Cost.run();

// ---

const Charge = suite('Throttle.charge');

Charge('charge() sizes the RU budget by tenant: 3,500 (< 50 users), 5,000 (50-500), 8,000 (more)', () => {
  for (const [users, limit] of [
    [10, 3500],
    [50, 5000],
    [500, 5000],
    [501, 8000],
  ] as const) {
    const { t } = throttle({}, users);
    assert.is(burst(t, limit + 10), limit, `${users} users`);
  }
});

Charge(
  'charge() answers 429 data with Retry-After, scope and information headers when over the RU budget',
  () => {
    const { t } = throttle({ resourceUnits: 20 });
    assert.is(burst(t, 20), 20);
    const d = t.charge(APP, TENANT, { ru: 2, write: false });
    assert.is(d.ok, false);
    if (d.ok) return;
    assert.is(d.reason, 'ResourceUnitLimitExceeded');
    assert.ok(d.retryAfter >= 1);
    assert.is(d.headers['x-ms-resource-unit'], '2');
    assert.is(d.headers['x-ms-throttle-scope'], `Tenant_Application/ReadWrite/${APP}/${TENANT}`);
    assert.is(d.headers['x-ms-throttle-information'], 'ResourceUnitLimitExceeded');
    assert.ok(Number(d.headers['x-ms-throttle-limit-percentage']) >= 1);
  },
);

Charge('charge() refills the bucket over the window', () => {
  const { t, clock } = throttle({ resourceUnits: 20, windowMs: 10_000 });
  burst(t, 20);
  assert.is(t.charge(APP, TENANT, READ).ok, false);
  clock.t += 20_000;
  assert.is(burst(t, 20), 20);
});

Charge('charge() keeps counting usage while throttled: immediate retries push Retry-After out', () => {
  const { t, clock } = throttle({ resourceUnits: 10, windowMs: 10_000 });
  burst(t, 10);
  const first = t.charge(APP, TENANT, { ru: 5, write: false });
  const later = t.charge(APP, TENANT, { ru: 5, write: false });
  assert.ok(!first.ok && !later.ok);
  if (first.ok || later.ok) return;
  assert.ok(later.retryAfter > first.retryAfter, `${later.retryAfter} > ${first.retryAfter}`);
  // Waiting as told is enough.
  clock.t += later.retryAfter * 1000;
  assert.ok(t.charge(APP, TENANT, { ru: 5, write: false }).ok);
});

Charge('charge() limits writes to the write budget per window (3,000 per 150 s by default)', () => {
  const { t, clock } = throttle({});
  assert.is(burst(t, 3005, WRITE), 3000);
  const d = t.charge(APP, TENANT, WRITE);
  assert.is(d.ok, false);
  if (d.ok) return;
  assert.is(d.reason, 'WriteLimitExceeded');
  assert.is(d.headers['x-ms-throttle-information'], 'WriteLimitExceeded');
  assert.match(d.headers['x-ms-throttle-scope']!, /^Tenant_Application\/Write\//);
  // Reads are not writes: they still pass.
  assert.ok(t.charge(APP, TENANT, READ).ok);
  clock.t += 150_000;
  assert.ok(t.charge(APP, TENANT, WRITE).ok);
});

Charge('charge() keeps one budget per app', () => {
  const { t } = throttle({ resourceUnits: 5 });
  assert.is(burst(t, 6, READ, 'a'), 5);
  assert.is(burst(t, 6, READ, 'b'), 5);
});

Charge('charge() reports x-ms-throttle-limit-percentage once more than 80 % is used', () => {
  const { t } = throttle({ resourceUnits: 10 });
  const headers = Array.from({ length: 10 }, () => t.charge(APP, TENANT, READ).headers);
  assert.is(headers[7]!['x-ms-throttle-limit-percentage'], undefined);
  assert.is(headers[8]!['x-ms-throttle-limit-percentage'], '0.9');
  assert.is(headers[9]!['x-ms-throttle-limit-percentage'], '1.0');
});

Charge('charge() with enabled: false always passes, still reporting x-ms-resource-unit', () => {
  const t = new Throttle({ enabled: false, resourceUnits: 1 }, () => 10);
  for (let i = 0; i < 100; i++) {
    const d = t.charge(APP, TENANT, { ru: 3, write: true });
    assert.ok(d.ok);
    assert.equal(d.headers, { 'x-ms-resource-unit': '3' });
  }
});

Charge.run();

// ---

const Server = suite('startEmulator({throttle})');

Server(
  'GET /users over the RU budget answers 429 TooManyRequests with Retry-After and throttle headers',
  async () => {
    await withEmulator(
      { generate: { users: 10, groups: 1 }, throttle: { enabled: true, resourceUnits: 20, writes: 5 } },
      async (emu) => {
        const ok = [];
        for (let i = 0; i < 20; i++) ok.push(await call(emu, 'GET', '/v1.0/users?$top=1'));
        assert.ok(ok.every((r) => r.status === 200));
        assert.is(ok[0]!.headers['x-ms-resource-unit'], '1');
        const r = await call(emu, 'GET', '/v1.0/users');
        assert.is(r.status, 429);
        assert.is(r.json.error.code, 'TooManyRequests');
        assert.ok(r.json.error.innerError['request-id']);
        assert.ok(Number(r.headers['retry-after']) >= 1);
        assert.is(r.headers['x-ms-resource-unit'], '2');
        assert.is(r.headers['x-ms-throttle-information'], 'ResourceUnitLimitExceeded');
        assert.match(r.headers['x-ms-throttle-scope']!, new RegExp(`/${emu.clientId}/${emu.tenantId}$`));
        assert.ok(emu.requests.some((e) => e.status === 429 && e.fault === 'throttled'));
      },
    );
  },
);

Server('writes over the write budget answer 429 with WriteLimitExceeded while reads still pass', async () => {
  await withEmulator(
    { generate: { users: 10, groups: 1 }, throttle: { enabled: true, resourceUnits: 1000, writes: 5 } },
    async (emu) => {
      const id = emu.tenant.list('user')[0]!.id;
      const statuses = [];
      for (let i = 0; i < 6; i++)
        statuses.push(
          (await call(emu, 'PATCH', `/v1.0/users/${id}`, { body: { jobTitle: `t${i}` } })).status,
        );
      assert.equal(statuses, [204, 204, 204, 204, 204, 429]);
      const r = await call(emu, 'PATCH', `/v1.0/users/${id}`, { body: { jobTitle: 'x' } });
      assert.is(r.headers['x-ms-throttle-information'], 'WriteLimitExceeded');
      assert.ok(Number(r.headers['retry-after']) >= 20, r.headers['retry-after']);
      assert.is((await call(emu, 'GET', `/v1.0/users/${id}`)).status, 200);
    },
  );
});

Server(
  '$batch items are charged one by one: throttled items come back as 429 with Retry-After in their headers',
  async () => {
    await withEmulator(
      { generate: { users: 10, groups: 1 }, throttle: { enabled: true, resourceUnits: 6, writes: 100 } },
      async (emu) => {
        const requests = Array.from({ length: 4 }, (_, i) => ({
          id: String(i),
          method: 'GET',
          url: '/users',
        }));
        const r = await call(emu, 'POST', '/v1.0/$batch', { body: { requests } });
        assert.is(r.status, 200);
        const byId = new Map((r.json.responses as any[]).map((x) => [x.id, x]));
        assert.equal(
          ['0', '1', '2', '3'].map((id) => byId.get(id).status),
          [200, 200, 200, 429],
        );
        assert.ok(Number(byId.get('3').headers['Retry-After']) >= 1);
        assert.is(byId.get('0').headers['x-ms-resource-unit'], '2');
      },
    );
  },
);

Server('emu.throttle.options can switch throttling off at run time', async () => {
  await withEmulator(
    { generate: { users: 10, groups: 1 }, throttle: { enabled: true, resourceUnits: 2 } },
    async (emu) => {
      assert.is((await call(emu, 'GET', '/v1.0/users')).status, 200);
      assert.is((await call(emu, 'GET', '/v1.0/users')).status, 429);
      emu.throttle.options.enabled = false;
      for (let i = 0; i < 5; i++) assert.is((await call(emu, 'GET', '/v1.0/users')).status, 200);
    },
  );
});

Server.run();
