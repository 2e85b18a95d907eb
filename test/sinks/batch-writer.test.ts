import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { ToolError } from '../../src/errors.js';
import { createGraphClient, type GraphClient } from '../../src/graph/client.js';
import { BatchWriter, type BatchWriterOptions, type WriteItem } from '../../src/sinks/batch-writer.js';
import type { Outcome } from '../../src/sinks/results.js';
import type { LinkRow, ObjectRow } from '../../src/sources/command-csv.js';
import { toRequest } from '../../src/streams/to-request.js';
import type { EntityName } from '../../src/graph/schema.js';
import { sampleTenant, withEmulator } from '../helpers/emulator.js';

/** The writer's Graph client against an emulator, recording the size of every `$batch` it sends. */
function clientFor(emu: Emulator, sizes: number[] = []): GraphClient {
  const client = createGraphClient({
    baseUrl: emu.graphUrl,
    getToken: () => Promise.resolve(emu.identity.issueAccessToken(emu.clientId)),
    ca: emu.caPem,
    backoffMs: 10,
  });
  return {
    ...client,
    request: (method, url, options) => {
      if (url === '$batch') sizes.push((options?.json as { requests: unknown[] }).requests.length);
      return client.request(method, url, options);
    },
  };
}

let line = 1;

function item(
  emu: Emulator,
  row: Omit<ObjectRow, 'file' | 'line'> | Omit<LinkRow, 'file' | 'line'>,
  lookupFirst?: WriteItem['lookupFirst'],
): WriteItem {
  const full = { ...row, file: 'in.csv', line: ++line };
  const plan = toRequest(full, { graphBase: emu.graphUrl, passwordSink: true });
  if (plan.kind !== 'request') throw new Error(`no request for ${JSON.stringify(row)}`);
  return { seq: line, row: full, request: plan.request, ...(lookupFirst ? { lookupFirst } : {}) };
}

const member = (
  emu: Emulator,
  ownerId: string,
  targetId: string,
  command: 'insert' | 'delete' = 'insert',
  navigation: 'members' | 'owners' = 'members',
) => item(emu, { kind: 'link', command, entity: 'group', navigation, ownerId, targetId });

const object = (
  emu: Emulator,
  command: 'insert' | 'update' | 'delete',
  entity: EntityName,
  values: Record<string, unknown> = {},
  id?: string,
  lookupFirst?: WriteItem['lookupFirst'],
) =>
  item(
    emu,
    {
      kind: 'object',
      command,
      entity,
      odataType: `#microsoft.graph.${entity}`,
      values,
      ...(id ? { id } : {}),
    },
    lookupFirst,
  );

const newUser = (n: number) => ({
  accountEnabled: true,
  displayName: `Batch User ${n}`,
  mailNickname: `batchuser${n}`,
  userPrincipalName: `batchuser${n}@contoso.onmicrosoft.com`,
  passwordProfile: { password: `Xy7#batch-user-${n}`, forceChangePasswordNextSignIn: true },
});

/** Pushes every item, ends the writer, and returns each item's outcome (one per item, checked). */
async function write(
  emu: Emulator,
  items: WriteItem[],
  options: Partial<BatchWriterOptions> = {},
  sizes: number[] = [],
): Promise<{ outcomes: Map<number, Outcome>; writer: BatchWriter }> {
  const outcomes = new Map<number, Outcome>();
  const writer = new BatchWriter({
    client: clientFor(emu, sizes),
    writeBudget: null,
    concurrency: 4,
    ...options,
    onResult: (i, outcome) => {
      assert.not.ok(outcomes.has(i.seq), `two outcomes for line ${i.seq}`);
      outcomes.set(i.seq, outcome);
    },
  });
  for (const i of items) await writer.push(i);
  await writer.end();
  assert.equal(
    items.filter((i) => !outcomes.has(i.seq)).map((i) => i.seq),
    [],
    'every item has an outcome',
  );
  return { outcomes, writer };
}

/** Item requests the emulator served (not the `$batch` envelopes), by method and path pattern. */
const served = (emu: Emulator, method: string, path: RegExp, status?: number) =>
  emu.requests.filter(
    (r) => r.method === method && path.test(r.path) && (status === undefined || r.status === status),
  ).length;

/** Outcomes in input order (they arrive in the order Graph answers). */
const inOrder = (outcomes: Map<number, Outcome>) =>
  [...outcomes.entries()].sort(([a], [b]) => a - b).map(([, o]) => o);

const statuses = (outcomes: Map<number, Outcome>) => inOrder(outcomes).map((o) => o.status);

/** A sample tenant plus `users` extra users and `groups` extra groups. */
async function tenantWith(emu: Emulator, users: number, groups: number) {
  const u = Array.from({ length: users }, (_, i) => emu.tenant.createUser({ mailNickname: `extra${i}` }).id);
  const g = Array.from(
    { length: groups },
    (_, i) => emu.tenant.createGroup({ mailNickname: `xgroup${i}` }).id,
  );
  return { users: u, groups: g };
}

const Batching = suite('BatchWriter batching');

Batching('BatchWriter sends $batch calls of at most 20 and applies each request exactly once', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 45, 3);
    const items = users.map((u, i) => member(emu, groups[i % 3]!, u));
    const sizes: number[] = [];
    const { outcomes } = await write(emu, items, {}, sizes);
    assert.ok(statuses(outcomes).every((s) => s === 'ok'));
    assert.ok(
      sizes.every((n) => n >= 1 && n <= 20),
      `sizes ${sizes.join(',')}`,
    );
    assert.is(
      sizes.reduce((a, b) => a + b, 0),
      45,
    );
    assert.is(sizes[0], 20, 'items queued together go together');
    assert.is(emu.requests.filter((r) => r.path.endsWith('/$batch')).length, sizes.length);
    assert.is(served(emu, 'POST', /\/members\/\$ref$/), 45, 'nothing sent twice');
    for (const [i, u] of users.entries()) assert.ok(emu.tenant.links(groups[i % 3]!, 'members').includes(u));
  }),
);

Batching('BatchWriter puts member links of one group side by side, and owner links one at a time', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 20, 1);
    const sizes: number[] = [];
    await write(
      emu,
      users.map((u) => member(emu, groups[0]!, u)),
      {},
      sizes,
    );
    assert.equal(sizes, [20], 'different members of one group commute');
    sizes.length = 0;
    const owners = users.slice(0, 3).map((u) => member(emu, groups[0]!, u, 'insert', 'owners'));
    const { outcomes } = await write(emu, owners, {}, sizes);
    assert.equal(sizes, [1, 1, 1], 'owner changes keep their order (the last owner cannot go)');
    assert.ok(statuses(outcomes).every((s) => s === 'ok'));
  }),
);

Batching.run();

// ---

const Order = suite('BatchWriter ordering');

Order('BatchWriter keeps the rows of one object in input order under concurrency 8', async () =>
  withEmulator({ tenant: await sampleTenant(), latency: { fixedMs: 0, jitterMs: 15 } }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 40, 8);
    const target = groups[0]!;
    const x = users[0]!;
    const noise = (k: number) =>
      Array.from({ length: 12 }, (_, i) => {
        const u = users[1 + ((k * 12 + i) % 39)]!;
        return i % 3 === 0
          ? object(emu, 'update', 'user', { jobTitle: `Title ${k}.${i}` }, u)
          : member(emu, groups[1 + ((k + i) % 7)]!, u);
      });
    const items = [
      ...noise(0),
      object(emu, 'update', 'group', { description: 'first' }, target),
      ...noise(1),
      member(emu, target, x),
      ...noise(2),
      member(emu, target, x, 'delete'),
      ...noise(3),
      object(emu, 'update', 'group', { description: 'second' }, target),
      member(emu, target, users[1]!),
      ...noise(4),
      object(emu, 'delete', 'group', {}, target),
      ...noise(5),
    ];
    const { outcomes } = await write(emu, items, { concurrency: 8, lingerMs: 0 });
    const mine = items.filter((i) => i.request.url.includes(target));
    assert.equal(
      mine.map((i) => outcomes.get(i.seq)?.status),
      ['ok', 'ok', 'ok', 'ok', 'ok', 'ok'],
      'add then remove then delete: each finds what the one before left',
    );
    const sequence = emu.requests
      .filter((r) => r.path.includes(target))
      .map((r) => `${r.method} ${r.path.replace(`/v1.0/groups/${target}`, 'G').replace(x, 'X')}`);
    assert.equal(sequence, [
      'PATCH G',
      'POST G/members/$ref',
      'DELETE G/members/X/$ref',
      'PATCH G',
      'POST G/members/$ref',
      'DELETE G',
    ]);
    assert.is(emu.tenant.get(target), undefined);
  }),
);

Order.run();

// ---

const Retry = suite('BatchWriter retries');

Retry(
  'BatchWriter retries items throttled inside a $batch (429 + Retry-After) and applies them once',
  async () =>
    withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const { users, groups } = await tenantWith(emu, 30, 2);
      emu.faults.add({ kind: 'status', status: 429, retryAfter: 0, count: 5, match: '/members/$ref' });
      const { outcomes, writer } = await write(
        emu,
        users.map((u, i) => member(emu, groups[i % 2]!, u)),
      );
      assert.ok(statuses(outcomes).every((s) => s === 'ok'));
      assert.is(served(emu, 'POST', /\/members\/\$ref$/, 429), 5);
      assert.is(served(emu, 'POST', /\/members\/\$ref$/, 204), 30, 'each applied once');
      assert.is(writer.stats.throttled, 5);
      assert.is(writer.stats.itemRetries, 5);
    }),
);

Retry('BatchWriter resends whole batches answered 429, 503 and 504, and creates nothing twice', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 10, 1);
    for (const status of [429, 503, 504])
      emu.faults.add({ kind: 'status', status, retryAfter: 0, count: 1, match: '$batch' });
    const items = [
      ...users.map((u) => member(emu, groups[0]!, u)),
      object(emu, 'insert', 'group', { displayName: 'Storm Group', mailNickname: 'stormgroup' }),
      object(emu, 'insert', 'user', newUser(1)),
    ];
    const { outcomes, writer } = await write(emu, items, { concurrency: 1 });
    assert.ok(
      statuses(outcomes).every((s) => s === 'ok'),
      JSON.stringify(inOrder(outcomes)),
    );
    assert.is(writer.stats.batchRetries, 3);
    assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === 'stormgroup').length, 1);
    assert.is(served(emu, 'POST', /\/v1\.0\/groups$/), 1);
    assert.is(emu.tenant.links(groups[0]!, 'members').length, 10);
  }),
);

Retry('BatchWriter retries items answered 500/503 and looks a create up before sending it again', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    emu.faults.add(
      { kind: 'status', status: 500, count: 1, match: /^POST \/v1\.0\/groups$/ },
      { kind: 'status', status: 503, retryAfter: 0, count: 1, match: /^POST \/v1\.0\/users$/ },
    );
    const items = [
      object(emu, 'insert', 'group', { displayName: 'Five Hundred', mailNickname: 'fivehundred' }),
      object(emu, 'insert', 'user', newUser(2)),
    ];
    const { outcomes, writer } = await write(emu, items, { maxAttempts: 4 });
    assert.equal(statuses(outcomes), ['ok', 'ok']);
    assert.ok(inOrder(outcomes).every((o) => o.newId && o.httpStatus === 201));
    assert.ok(writer.stats.lookups >= 2, 'an item that may have been applied is looked up first');
    assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === 'fivehundred').length, 1);
  }),
);

Retry('BatchWriter resends a $batch whose connection was reset, and applies each request once', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 8, 1);
    emu.faults.add({ kind: 'reset', count: 2, match: '$batch' });
    const items = [
      ...users.map((u) => member(emu, groups[0]!, u)),
      object(emu, 'insert', 'group', { displayName: 'Reset Group', mailNickname: 'resetgroup' }),
    ];
    const { outcomes } = await write(emu, items, { concurrency: 1 });
    assert.ok(statuses(outcomes).every((s) => s === 'ok'));
    assert.is(served(emu, 'POST', /\/members\/\$ref$/), 8);
    assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === 'resetgroup').length, 1);
  }),
);

Retry('BatchWriter recovers from a $batch applied but answered with a cut body: nothing twice', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 4, 1);
    emu.faults.add({ kind: 'truncate', count: 1, match: '$batch' });
    const items = [
      ...users.map((u) => member(emu, groups[0]!, u)),
      object(emu, 'update', 'user', { jobTitle: 'Cut' }, users[0]),
      object(emu, 'insert', 'group', { displayName: 'Cut Group', mailNickname: 'cutgroup' }),
      object(emu, 'insert', 'user', newUser(3)),
    ];
    const { outcomes } = await write(emu, items, { concurrency: 1 });
    const all = inOrder(outcomes);
    assert.ok(
      all.every((o) => o.status === 'ok' || o.status === 'skipped'),
      JSON.stringify(all),
    );
    const creates = all.slice(-2);
    assert.ok(
      creates.every((o) => o.status === 'ok' && o.newId && /earlier attempt was lost/.test(o.message ?? '')),
      'a create whose answer was lost is found, and is ours: ok',
    );
    assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === 'cutgroup').length, 1);
    assert.is(emu.tenant.links(groups[0]!, 'members').length, 4);
    assert.is(emu.tenant.get(users[0]!)?.data.jobTitle, 'Cut');
  }),
);

Retry(
  "BatchWriter fails an item after maxAttempts with Graph's error, and the others still apply",
  async () =>
    withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const { users, groups } = await tenantWith(emu, 3, 1);
      emu.faults.add({
        kind: 'status',
        status: 429,
        retryAfter: 0,
        count: 100,
        match: `members/${users[0]}/$ref`,
      });
      await write(
        emu,
        users.map((u) => member(emu, groups[0]!, u)),
      );
      const { outcomes } = await write(
        emu,
        users.map((u) => member(emu, groups[0]!, u, 'delete')),
        {
          maxAttempts: 3,
        },
      );
      const [first, ...rest] = inOrder(outcomes);
      assert.is(first?.status, 'failed');
      assert.is(first?.errorCode, 'TooManyRequests');
      assert.match(first?.message ?? '', /^gave up after 3 attempts/);
      assert.equal(
        rest.map((o) => o.status),
        ['ok', 'ok'],
      );
    }),
);

Retry.run();

// ---

const Outcomes = suite('BatchWriter outcomes');

Outcomes('BatchWriter fails a bad request alone, and reports replays as skipped', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 3, 1);
    const missing = '00000000-0000-4000-8000-00000000dead';
    emu.tenant.addMember(groups[0]!, users[1]!);
    const { outcomes } = await write(emu, [
      member(emu, groups[0]!, users[0]!),
      member(emu, missing, users[0]!),
      member(emu, groups[0]!, users[1]!),
      member(emu, groups[0]!, users[2]!, 'delete'),
      object(emu, 'delete', 'user', {}, missing),
    ]);
    const all = inOrder(outcomes);
    assert.equal(
      all.map((o) => `${o.status} ${o.httpStatus}`),
      ['ok 204', 'failed 404', 'skipped 400', 'skipped 404', 'skipped 404'],
    );
    assert.is(all[1]?.errorCode, 'Request_ResourceNotFound');
  }),
);

Outcomes('BatchWriter turns a create of an existing userPrincipalName into skipped, with its id', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const existing = emu.tenant.createUser({
      mailNickname: 'batchuser4',
      userPrincipalName: 'batchuser4@contoso.onmicrosoft.com',
    });
    const { outcomes } = await write(emu, [object(emu, 'insert', 'user', newUser(4))]);
    const [o] = inOrder(outcomes);
    assert.is(o?.status, 'skipped');
    assert.is(o?.newId, existing.id);
    assert.match(
      o?.message ?? '',
      /already exists \(Another object with the same value for property userPrincipalName/,
    );
  }),
);

Outcomes(
  "BatchWriter looks a group create up first ('exists'): an existing mailNickname is skipped, not duplicated",
  async () =>
    withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const existing = emu.tenant.createGroup({ mailNickname: 'dupgroup' });
      const { outcomes } = await write(emu, [
        object(emu, 'insert', 'group', { displayName: 'Dup', mailNickname: 'dupgroup' }, undefined, 'exists'),
        object(
          emu,
          'insert',
          'group',
          { displayName: 'New', mailNickname: 'newgroup77' },
          undefined,
          'exists',
        ),
      ]);
      const [dup, fresh] = inOrder(outcomes);
      assert.equal([dup?.status, dup?.newId], ['skipped', existing.id]);
      assert.equal([fresh?.status, fresh?.httpStatus], ['ok', 201]);
      assert.is(served(emu, 'POST', /\/v1\.0\/groups$/), 1);
      assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === 'dupgroup').length, 1);
    }),
);

Outcomes(
  "BatchWriter looks a create an earlier run started up first ('started'): found is ok, absent is created",
  async () =>
    withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const made = emu.tenant.createUser({
        mailNickname: 'batchuser5',
        userPrincipalName: 'batchuser5@contoso.onmicrosoft.com',
      });
      const { outcomes } = await write(emu, [
        object(emu, 'insert', 'user', newUser(5), undefined, 'started'),
        object(emu, 'insert', 'user', newUser(6), undefined, 'started'),
      ]);
      const [found, absent] = inOrder(outcomes);
      assert.equal([found?.status, found?.newId, found?.earlierRun], ['ok', made.id, 'found']);
      assert.match(found?.message ?? '', /created by an earlier run/);
      assert.equal([absent?.status, absent?.httpStatus, absent?.earlierRun], ['ok', 201, 'absent']);
      assert.is(served(emu, 'POST', /\/v1\.0\/users$/), 1);
    }),
);

Outcomes(
  'BatchWriter calls beforeSend once per item, before its first send, never for lookups found',
  async () =>
    withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      emu.tenant.createGroup({ mailNickname: 'seengroup' });
      emu.faults.add({ kind: 'status', status: 429, retryAfter: 0, count: 2, match: '/v1.0/users' });
      const seen: number[] = [];
      const items = [
        object(emu, 'insert', 'user', newUser(7)),
        object(
          emu,
          'insert',
          'group',
          { displayName: 'Seen', mailNickname: 'seengroup' },
          undefined,
          'exists',
        ),
      ];
      const served0 = emu.requests.length;
      await write(emu, items, {
        beforeSend: (batch) => {
          seen.push(...batch.map((i) => i.seq));
          assert.is(emu.requests.slice(served0).filter((r) => r.path.endsWith('/$batch')).length, 0);
          return Promise.resolve();
        },
      });
      assert.equal(seen, [items[0]!.seq]);
    }),
);

Outcomes.run();

// ---

const Steps = suite('BatchWriter rows of several requests');

const manager = (emu: Emulator, userId: string, managerId: string, command: 'insert' | 'delete') =>
  item(emu, {
    kind: 'link',
    command,
    entity: 'user',
    navigation: 'manager',
    ownerId: userId,
    targetId: managerId,
  });

Steps('BatchWriter reads before it writes, keeping the rows of one user in input order', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users } = await tenantWith(emu, 3, 0);
    const [u, a, b] = users as [string, string, string];
    const items = [
      manager(emu, u, a, 'insert'),
      manager(emu, u, a, 'insert'),
      manager(emu, u, b, 'insert'),
      manager(emu, u, a, 'delete'),
      manager(emu, u, b, 'delete'),
      manager(emu, u, b, 'delete'),
    ];
    const sizes: number[] = [];
    const { outcomes } = await write(emu, items, { concurrency: 4 }, sizes);
    assert.equal(
      inOrder(outcomes).map((o) => `${o.status} ${o.httpStatus}`),
      ['ok 204', 'skipped 200', 'ok 204', 'skipped 200', 'ok 204', 'skipped 404'],
    );
    assert.match(inOrder(outcomes)[3]!.message!, `the manager of ${u} is ${b}, not ${a}`);
    assert.equal(emu.tenant.links(u, 'manager'), []);
    assert.is(served(emu, 'GET', /\/manager\?/), 6, 'one read per row');
    assert.is(served(emu, 'PUT', /\/manager\/\$ref$/), 2);
    assert.is(served(emu, 'DELETE', /\/manager\/\$ref$/), 1);
  }),
);

Steps('BatchWriter retries a write computed from a read from the read', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users } = await tenantWith(emu, 2, 0);
    const [u, a] = users as [string, string];
    emu.faults.add({
      kind: 'status',
      status: 429,
      retryAfter: 0,
      count: 1,
      match: /^PUT .*\/manager\/\$ref$/,
    });
    const { outcomes, writer } = await write(emu, [manager(emu, u, a, 'insert')]);
    assert.equal(statuses(outcomes), ['ok']);
    assert.is(served(emu, 'GET', /\/manager\?/), 2, 'read again after the throttled write');
    assert.is(writer.stats.throttled, 1);
    assert.equal(emu.tenant.links(u, 'manager'), [a]);
  }),
);

Steps.run();

// ---

const Stop = suite('BatchWriter stopping');

Stop('BatchWriter ends the run on an error no retry can help (ERR_AUTH): rows fail unsent', async () =>
  withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const { users, groups } = await tenantWith(emu, 5, 1);
    const client = createGraphClient({
      baseUrl: emu.graphUrl,
      getToken: () => Promise.reject(new ToolError('ERR_AUTH', 'invalid client secret')),
      ca: emu.caPem,
    });
    const outcomes: Outcome[] = [];
    const writer = new BatchWriter({ client, writeBudget: null, onResult: (_, o) => void outcomes.push(o) });
    for (const u of users) await writer.push(member(emu, groups[0]!, u));
    let error: unknown;
    await writer.end().catch((e: unknown) => (error = e));
    assert.is((error as ToolError).code, 'ERR_AUTH');
    assert.is(outcomes.length, 5);
    assert.ok(outcomes.every((o) => o.status === 'failed' && o.errorCode === 'ERR_AUTH'));
    assert.match(outcomes[0]!.message!, /^not sent: invalid client secret/);
    assert.is(emu.requests.filter((r) => r.path.endsWith('/$batch')).length, 0);
  }),
);

Stop(
  'BatchWriter.interrupt() sends nothing more: queued rows fail ERR_INTERRUPTED, in-flight ones finish',
  async () =>
    withEmulator({ tenant: await sampleTenant(), latency: { fixedMs: 150, jitterMs: 0 } }, async (emu) => {
      const { users, groups } = await tenantWith(emu, 30, 1);
      const outcomes = new Map<number, Outcome>();
      const writer = new BatchWriter({
        client: clientFor(emu),
        writeBudget: null,
        concurrency: 1,
        batchSize: 5,
        onResult: (i, o) => void outcomes.set(i.seq, o),
      });
      const items = users.map((u) => member(emu, groups[0]!, u));
      for (const i of items.slice(0, 20)) await writer.push(i);
      await new Promise((r) => setTimeout(r, 50));
      await writer.interrupt();
      for (const i of items.slice(20)) await writer.push(i);
      await writer.end();
      assert.is(outcomes.size, 30, 'one outcome each');
      const ok = inOrder(outcomes).filter((o) => o.status === 'ok').length;
      const stopped = inOrder(outcomes).filter((o) => o.errorCode === 'ERR_INTERRUPTED');
      assert.is(ok, 5, 'the batch in flight finished');
      assert.is(stopped.length, 25);
      assert.ok(stopped.every((o) => o.status === 'failed' && o.message === 'not sent: interrupted'));
      assert.is(emu.tenant.links(groups[0]!, 'members').length, 5, 'nothing after the interrupt');
    }),
);

Stop.run();
