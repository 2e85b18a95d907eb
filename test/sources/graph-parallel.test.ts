import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exportCommand } from '../../src/commands/export.js';
import { createObjectRowEncoder } from '../../src/streams/encode-row.js';
import {
  asDeltaRecord,
  chunk,
  extend,
  graphParallel,
  partitionFilter,
  splitPartition,
  type Partition,
} from '../../src/sources/graph-parallel.js';
import type { GraphClient, GraphResponse } from '../../src/graph/client.js';
import { silentLogger, type SourceMsg } from '../../src/types.js';
import type { Emulator } from '../../src/emulator/server.js';
import { withEmulator } from '../helpers/emulator.js';

const TABLES = ['directoryobjects', 'members_group', 'owners_group', 'members_directoryRole'];

/** Runs an export into `name` and returns its files, rows sorted, and stderr. */
async function run(
  emu: Emulator,
  dir: string,
  name: string,
  parallel?: number | 'auto',
  select?: string[],
  env: NodeJS.ProcessEnv = {},
) {
  const stderr = Object.assign(new PassThrough(), { isTTY: false });
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await exportCommand(
    {
      settings: join(dir, 'app.json'),
      ca: join(dir, 'ca.pem'),
      output: join(dir, name),
      cookies: join(dir, `${name}-cookies`),
      ignoreCookies: true,
      ...(parallel ? { parallel } : {}),
      ...(select ? { select } : {}),
    },
    env,
    { stderr },
  );
  const files: Record<string, string> = {};
  for (const t of select ? ['directoryobjects', 'manager_user'] : TABLES) {
    const [header, ...rows] = (await readFile(join(dir, name, `Contoso_${t}.csv`), 'utf8'))
      .trimEnd()
      .split('\n');
    files[t] = [header, ...rows.sort()].join('\n');
  }
  return { code, files, stderr: err };
}

async function withDir(emu: Emulator, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'entra-parallel-'));
  try {
    await writeFile(join(dir, 'app.json'), JSON.stringify(emu.settings('Contoso')), { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), emu.caPem);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const Parallel = suite('graphParallel');

Parallel(
  'export --parallel 4 writes the same rows as the sequential complete round, through partitions',
  () =>
    withEmulator(
      { generate: { users: 600, groups: 40, seed: 11 }, deltaLimits: { objects: 50, links: 300, scan: 500 } },
      (emu) =>
        withDir(emu, async (dir) => {
          const sequential = await run(emu, dir, 'seq');
          const before = emu.requests.length;
          const parallel = await run(emu, dir, 'par', 4);
          assert.is(sequential.code, 0, sequential.stderr);
          assert.is(parallel.code, 0, parallel.stderr);
          for (const t of TABLES) assert.fixture(parallel.files[t]!, sequential.files[t]!);
          const paths = emu.requests.slice(before).map((r) => decodeURIComponent(r.path));
          assert.ok(
            paths.some((p) => p.includes('/users?') && p.includes("startswith(userPrincipalName,'a')")),
            'users listed by partition',
          );
          assert.ok(
            paths.some((p) => p.includes('/groups/delta?') && p.includes('id eq')),
            'group links by id-scoped delta rounds',
          );
          assert.ok(
            paths.some((p) => p.includes('$deltatoken=latest')),
            'state taken first',
          );
        }),
    ),
);

Parallel('export --parallel reads the managers of users through id-scoped delta rounds', () =>
  withEmulator(
    { generate: { users: 300, groups: 5, seed: 3 }, deltaLimits: { objects: 50, links: 300, scan: 500 } },
    (emu) =>
      withDir(emu, async (dir) => {
        const select = ['user=displayName,manager'];
        const sequential = await run(emu, dir, 'seq', undefined, select);
        const before = emu.requests.length;
        const parallel = await run(emu, dir, 'par', 4, select);
        assert.is(parallel.code, 0, parallel.stderr);
        assert.ok(sequential.files.manager_user!.split('\n').length > 200, 'most users have a manager');
        assert.fixture(parallel.files.manager_user!, sequential.files.manager_user!);
        assert.fixture(parallel.files.directoryobjects!, sequential.files.directoryobjects!);
        const paths = emu.requests.slice(before).map((r) => decodeURIComponent(r.path));
        assert.ok(paths.some((p) => p.includes('/users/delta?') && p.includes('id eq')));
      }),
  ),
);

Parallel('export --parallel falls back to the sequential round when the partitions miss objects', () =>
  withEmulator({ generate: { users: 50, groups: 5, seed: 2 } }, async (emu) => {
    // A userPrincipalName outside Graph's alphabet (only a tenant file could hold one): no partition has it.
    emu.tenant.store.create('user', {
      displayName: 'Odd',
      userPrincipalName: 'éva@contoso.onmicrosoft.com',
      accountEnabled: true,
    });
    await withDir(emu, async (dir) => {
      const sequential = await run(emu, dir, 'seq');
      const parallel = await run(emu, dir, 'par', 4);
      assert.is(parallel.code, 0, parallel.stderr);
      assert.match(
        parallel.stderr,
        /user: partitions by userPrincipalName cover 50 of 51 objects; running the sequential delta round/,
      );
      for (const t of TABLES) assert.fixture(parallel.files[t]!, sequential.files[t]!);
    });
  }),
);

Parallel('export --parallel auto (the default) writes the same rows as the sequential round', () =>
  withEmulator(
    { generate: { users: 600, groups: 40, seed: 12 }, deltaLimits: { objects: 50, links: 300, scan: 500 } },
    (emu) =>
      withDir(emu, async (dir) => {
        const sequential = await run(emu, dir, 'seq', 1);
        // Small and near: auto runs the sequential round.
        const before = emu.requests.length;
        const near = await run(emu, dir, 'near');
        assert.is(near.code, 0, near.stderr);
        assert.not.ok(
          emu.requests.slice(before).some((r) => decodeURIComponent(r.path).includes('startswith(')),
          'no partitions for a small tenant',
        );
        for (const t of TABLES) assert.fixture(near.files[t]!, sequential.files[t]!);
        // Told to partition anyway, with Graph throttling a tenth of the requests.
        const undo = emu.faults.add({ kind: 'status', status: 429, retryAfter: 0, rate: 0.1 });
        const mark = emu.requests.length;
        const auto = await run(emu, dir, 'auto', 'auto', undefined, { ENTRA_TEST_PARALLEL_AUTO_ALWAYS: '1' });
        undo();
        assert.is(auto.code, 0, auto.stderr);
        for (const t of TABLES) assert.fixture(auto.files[t]!, sequential.files[t]!);
        const requests = emu.requests.slice(mark);
        const paths = requests.map((r) => decodeURIComponent(r.path));
        assert.ok(paths.some((p) => p.includes('/users?') && p.includes('startswith(userPrincipalName,')));
        assert.ok(paths.some((p) => p.includes('/groups/delta?') && p.includes('id eq')));
        assert.ok(
          requests.some((r) => r.status === 429),
          'some requests were throttled',
        );
      }),
  ),
);

/** The values of `values` a partition's filter selects (startswith and eq, ignoring case). */
function selects(property: string, p: Partition, value: string): boolean {
  const v = value.toLowerCase();
  return p.prefixes.some((x) =>
    x.exact ? v === x.value.toLowerCase() : v.startsWith(x.value.toLowerCase()),
  );
}
function fakeCounter(property: string, values: string[]) {
  const calls: string[] = [];
  const counter = async (filter: string) => {
    calls.push(filter);
    const prefixes = [...filter.matchAll(/startswith\(\w+,'((?:[^']|'')*)'\)|\w+ eq '((?:[^']|'')*)'/g)].map(
      (m) =>
        m[1] !== undefined
          ? { value: m[1].replace(/''/g, "'") }
          : { value: m[2]!.replace(/''/g, "'"), exact: true },
    );
    return values.filter((v) => selects(property, { prefixes, count: 0 }, v)).length;
  };
  return { counter, calls };
}

const Split = suite('splitPartition');

Split(
  'splits a large partition into parts that cover every value once, each at most splitAbove',
  async () => {
    const values: string[] = [];
    for (let i = 0; i < 3000; i++) values.push(`${'abcde'[i % 5]}${'aeiou.'[(i * 7) % 6]}${i}@contoso.com`);
    values.push("a'b@contoso.com", 'a@contoso.com');
    const { counter, calls } = fakeCounter('userPrincipalName', values);
    const alphabet = [...'abcdefghijklmnopqrstuvwxyz0123456789', "'", '.', '-', '_', '!', '#', '^', '~'];
    const first = values.filter((v) => v.startsWith('a')).length;
    const parts = await splitPartition(
      'userPrincipalName',
      alphabet,
      { prefixes: [{ value: 'a' }], count: first },
      counter,
      { splitAbove: 50, maxLength: 3 },
    );
    assert.ok(parts.length > 5, `split into ${parts.length}`);
    for (const v of values.filter((x) => x.startsWith('a')))
      assert.is(parts.filter((p) => selects('userPrincipalName', p, v)).length, 1, v);
    assert.is(
      parts.reduce((n, p) => n + p.count, 0),
      first,
    );
    for (const p of parts) assert.ok(p.prefixes.length <= 15);
    assert.ok(
      calls.every((c) => (c.match(/ or /g) ?? []).length < 15),
      'at most 15 conditions a filter',
    );
    assert.ok(partitionFilter('userPrincipalName', parts[0]!).startsWith('startswith(userPrincipalName,'));
  },
);

Split('keeps a partition whole when its parts miss values, or when it is small', async () => {
  const values = ['é1@x', 'é2@x', 'ea@x'];
  const { counter } = fakeCounter('userPrincipalName', values);
  // the second characters are outside the alphabet: the parts of 'é' count 0 of 2.
  const kept = await splitPartition(
    'userPrincipalName',
    ['a', 'b', 'e'],
    { prefixes: [{ value: 'é' }], count: 2 },
    counter,
    { splitAbove: 1, maxLength: 3 },
  );
  assert.equal(kept, [{ prefixes: [{ value: 'é' }], count: 2 }]);
  const small = await splitPartition(
    'userPrincipalName',
    ['a'],
    { prefixes: [{ value: 'e' }], count: 1 },
    counter,
    { splitAbove: 5, maxLength: 3 },
  );
  assert.is(small.length, 1);
});

Split('a mailNickname may end at the prefix: its parts include the prefix itself (eq)', async () => {
  assert.equal(extend('mailNickname', ['a', 'b'], 'x'), [
    { value: 'xa' },
    { value: 'xb' },
    { value: 'x', exact: true },
  ]);
  assert.equal(extend('userPrincipalName', ['a'], 'x'), [{ value: 'xa' }, { value: 'x@' }]);
  const values = ['x', 'xa', 'xb', 'xab'];
  const { counter } = fakeCounter('mailNickname', values);
  const parts = await splitPartition(
    'mailNickname',
    ['a', 'b'],
    { prefixes: [{ value: 'x' }], count: 4 },
    counter,
    { splitAbove: 1, maxLength: 3 },
  );
  for (const v of values) assert.is(parts.filter((p) => selects('mailNickname', p, v)).length, 1, v);
  assert.equal(
    chunk([1, 2, 3, 4, 5, 6, 7], 3).map((c) => c.length),
    [2, 2, 3],
  );
});

const Shape = suite('asDeltaRecord');

Shape('a listed object gives the rows of the same object from delta, unset properties as absent', () => {
  const listed = {
    id: '11111111-1111-1111-1111-111111111111',
    displayName: 'Ann',
    mail: null,
    businessPhones: [],
    otherMails: ['a@contoso.com'],
    accountEnabled: false,
    jobTitle: '',
  };
  const delta = {
    id: listed.id,
    displayName: 'Ann',
    otherMails: ['a@contoso.com'],
    accountEnabled: false,
    jobTitle: '',
  };
  const columns = ['id', 'displayName', 'mail', 'businessPhones', 'otherMails', 'accountEnabled', 'jobTitle'];
  const record = asDeltaRecord({ ...listed });
  assert.is(record.mail, undefined);
  assert.is(record.businessPhones, undefined);
  assert.equal(record.otherMails, ['a@contoso.com']);
  for (const typed of [false, true]) {
    const encode = createObjectRowEncoder(columns, columns, { typed, entity: 'user' });
    assert.equal(
      encode(record, 'insert', '#microsoft.graph.user'),
      encode(delta, 'insert', '#microsoft.graph.user'),
    );
  }
  // Without the conversion, the rows differ (the test can fail): `[]` is a cell of its own.
  const plain = createObjectRowEncoder(columns, columns);
  assert.is.not(
    plain({ ...listed }, 'insert', '#microsoft.graph.user').cells.businessPhones,
    plain(delta, 'insert', '#microsoft.graph.user').cells.businessPhones,
  );
});

/**
 * A Graph of `partitions` user partitions of `pages` pages of 5 users each, every page `size` bytes
 * as received; `served` counts the list pages answered.
 */
function fakeGraph(partitions: number, pages: number, size: number) {
  const stats = { requests: 0, retries: 0, throttled: 0, waitedMs: 0, resourceUnits: 0 };
  const counted: string[] = [];
  const state = { served: 0 };
  const answer = <T>(body: unknown, bytes = 10): Promise<GraphResponse<T>> =>
    new Promise((r) => setImmediate(() => r({ status: 200, headers: {}, body: body as T, size: bytes })));
  const client: GraphClient = {
    stats,
    baseUrl: 'https://graph.invalid/v1.0/',
    close() {},
    request: () => Promise.reject(new Error('not used')),
    get<T>(url: string) {
      if (url.includes('$deltatoken=latest'))
        return answer<T>({ '@odata.deltaLink': 'users/delta?$deltatoken=x' });
      if (url.startsWith('users/$count')) {
        if (!url.includes('$filter')) return answer<T>(partitions * pages * 5);
        // The first `partitions` filters hold the users, the others none.
        if (!counted.includes(url)) counted.push(url);
        return answer<T>(counted.indexOf(url) < partitions ? pages * 5 : 0);
      }
      const m = /[?&]page=(\d+)-(\d+)/.exec(url);
      const [chain, n] = m ? [Number(m[1]), Number(m[2])] : [state.served, 0];
      state.served++;
      const value = Array.from({ length: 5 }, (_, i) => ({ id: `${chain}-${n}-${i}`, displayName: null }));
      const next = n + 1 < pages ? { '@odata.nextLink': `users?page=${chain}-${n + 1}` } : {};
      return answer<T>({ value, ...next }, size);
    },
  };
  return { client, state };
}

Parallel(
  'pages parsed and waiting for room count against the buffer: a slow writer holds it, not more',
  async () => {
    const size = 1000;
    const { client, state } = fakeGraph(3, 20, size);
    const source = graphParallel(
      {
        client,
        entity: 'user',
        attributes: ['id', 'displayName'],
        navigations: [],
        parallel: 8,
        logger: silentLogger,
        bufferBytes: 4 * size,
      },
      () => {
        throw new Error('no fallback expected');
      },
    );
    assert.is(((await source.next()).value as SourceMsg).kind, 'mode');
    const ids = new Set<string>();
    const page = (await source.next()).value as SourceMsg;
    if (page.kind === 'page') for (const r of page.records) ids.add(r.id);
    // The writer takes nothing more for a while: the producer fills the buffer, then waits.
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(state.served <= 5, `${state.served} pages read: 1 taken, 4 fit in the buffer`);
    for await (const msg of source) if (msg.kind === 'page') for (const r of msg.records) ids.add(r.id);
    assert.is(ids.size, 3 * 20 * 5);
    assert.is(state.served, 60);
  },
);

Parallel.run();
Split.run();
Shape.run();
