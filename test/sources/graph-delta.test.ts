import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { GraphHttpError } from '../../src/errors.js';
import { createGraphClient, type GraphClient, type GraphResponse } from '../../src/graph/client.js';
import { graphDelta, type DeltaSourceOptions, type SourceMsg } from '../../src/sources/graph-delta.js';
import { SMALL_LIMITS, withEmulator } from '../helpers/emulator.js';
import { rejection } from '../helpers/common.js';

const GRAPH = 'https://graph.example/v1.0/';

/** A GraphClient that answers from a script (url → page), for protocol cases the emulator never produces. */
function scripted(script: Record<string, Partial<GraphResponse>>): GraphClient & { calls: string[] } {
  const calls: string[] = [];
  const get = <T>(url: string): Promise<GraphResponse<T>> => {
    calls.push(url);
    const answer = script[url];
    if (!answer) return Promise.reject(new Error(`unscripted GET ${url}`));
    return Promise.resolve({ status: 200, headers: {}, body: undefined, ...answer } as GraphResponse<T>);
  };
  return {
    calls,
    get,
    request: (_method, url) => get(url),
    stats: { requests: 0, retries: 0, throttled: 0, waitedMs: 0, resourceUnits: 0 },
    baseUrl: GRAPH,
    close() {},
  };
}

const page = (value: unknown[], link: { next?: string; delta?: string }) => ({
  body: {
    ...(link.next ? { '@odata.nextLink': link.next } : {}),
    ...(link.delta ? { '@odata.deltaLink': link.delta } : {}),
    value,
  },
});

async function collect(gen: AsyncGenerator<SourceMsg>): Promise<SourceMsg[]> {
  const out: SourceMsg[] = [];
  for await (const msg of gen) out.push(msg);
  return out;
}

const records = (msgs: SourceMsg[]) => msgs.flatMap((m) => (m.kind === 'page' ? m.records : []));
const state = (msgs: SourceMsg[]) => msgs.find((m) => m.kind === 'state');

/** A real client on the emulator, and the source options for users. */
function emuOptions(emu: Emulator, extra: Partial<DeltaSourceOptions> = {}): DeltaSourceOptions {
  const client = createGraphClient({
    baseUrl: emu.graphUrl,
    ca: emu.caPem,
    getToken: () => Promise.resolve(emu.identity.issueAccessToken(emu.clientId)),
    delay: () => Promise.resolve(),
  });
  return {
    client,
    entity: 'user',
    initialUrl: `${emu.graphUrl}users/delta?$select=displayName,id`,
    ...extra,
  };
}

const deltaRequests = (emu: Emulator) => emu.requests.filter((r) => r.path.includes('/delta'));

const GraphDelta = suite('graphDelta');

GraphDelta('graphDelta(options) follows nextLink through empty pages until the deltaLink', async () => {
  const client = scripted({
    [`${GRAPH}users/delta`]: page([], { next: `${GRAPH}users/delta?$skiptoken=1` }),
    [`${GRAPH}users/delta?$skiptoken=1`]: page([], { next: `${GRAPH}users/delta?$skiptoken=2` }),
    [`${GRAPH}users/delta?$skiptoken=2`]: page([{ id: 'u1' }], {
      delta: `${GRAPH}users/delta?$deltatoken=D`,
    }),
  });
  const msgs = await collect(graphDelta({ client, entity: 'user', initialUrl: `${GRAPH}users/delta` }));
  assert.equal(msgs, [
    { kind: 'mode', entity: 'user', mode: 'complete' },
    { kind: 'page', entity: 'user', records: [], next: `${GRAPH}users/delta?$skiptoken=1` },
    { kind: 'page', entity: 'user', records: [], next: `${GRAPH}users/delta?$skiptoken=2` },
    {
      kind: 'page',
      entity: 'user',
      records: [{ id: 'u1' }],
      deltaLink: `${GRAPH}users/delta?$deltatoken=D`,
    },
    { kind: 'state', entity: 'user', deltaLink: `${GRAPH}users/delta?$deltatoken=D` },
  ]);
});

GraphDelta(
  'graphDelta(options) resumes at a checkpointed link; a link Graph no longer knows is ERR_RESUME_EXPIRED',
  async () => {
    const client = scripted({
      [`${GRAPH}users/delta?$skiptoken=2`]: page([{ id: 'u1' }], {
        delta: `${GRAPH}users/delta?$deltatoken=D`,
      }),
    });
    const msgs = await collect(
      graphDelta({
        client,
        entity: 'user',
        initialUrl: `${GRAPH}users/delta`,
        resume: { url: `${GRAPH}users/delta?$skiptoken=2`, mode: 'complete' },
      }),
    );
    assert.is(msgs.length, 3);
    assert.equal(client.calls.length, 1);
    const gone = scripted({
      [`${GRAPH}users/delta?$skiptoken=2`]: {
        status: 400,
        body: { error: { code: 'syncStateNotFound', message: 'expired' } },
      },
    });
    const e = await rejection(
      collect(
        graphDelta({
          client: gone,
          entity: 'user',
          initialUrl: `${GRAPH}users/delta`,
          resume: { url: `${GRAPH}users/delta?$skiptoken=2`, mode: 'incremental' },
        }),
      ),
    );
    assert.is(e.code, 'ERR_RESUME_EXPIRED');
    assert.is(gone.calls.length, 1, 'no fallback to a complete round: rows of the round are already written');
  },
);

GraphDelta('graphDelta(options) stops with ERR_GRAPH_PAGINATION_LOOP on a repeated nextLink', async () => {
  const client = scripted({
    [`${GRAPH}users/delta`]: page([{ id: 'u1' }], { next: `${GRAPH}users/delta?$skiptoken=1` }),
    [`${GRAPH}users/delta?$skiptoken=1`]: page([{ id: 'u2' }], { next: `${GRAPH}users/delta?$skiptoken=1` }),
  });
  const e = await rejection(
    collect(graphDelta({ client, entity: 'user', initialUrl: `${GRAPH}users/delta` })),
  );
  assert.is(e.code, 'ERR_GRAPH_PAGINATION_LOOP');
  assert.match(e.message, /\$skiptoken=1/);
  assert.is(client.calls.length, 2);
});

GraphDelta('graphDelta(options) treats a nextLink back to the first request as a loop too', async () => {
  const client = scripted({
    [`${GRAPH}users/delta`]: page([], { next: `${GRAPH}users/delta?$skiptoken=1` }),
    [`${GRAPH}users/delta?$skiptoken=1`]: page([], { next: `${GRAPH}users/delta` }),
  });
  const e = await rejection(
    collect(graphDelta({ client, entity: 'user', initialUrl: `${GRAPH}users/delta` })),
  );
  assert.is(e.code, 'ERR_GRAPH_PAGINATION_LOOP');
});

GraphDelta('graphDelta(options) fails with ERR_GRAPH_RESPONSE on a page without value or links', async () => {
  for (const body of [{ '@odata.deltaLink': 'x' }, { value: [] }, { value: {}, '@odata.deltaLink': 'x' }]) {
    const client = scripted({ [`${GRAPH}users/delta`]: { body } });
    const e = await rejection(
      collect(graphDelta({ client, entity: 'user', initialUrl: `${GRAPH}users/delta` })),
    );
    assert.is(e.code, 'ERR_GRAPH_RESPONSE', JSON.stringify(body));
  }
});

GraphDelta('graphDelta(options) reads a whole round of a paged tenant, and its deltaLink verbatim', () =>
  withEmulator({ generate: { users: 60, groups: 0, seed: 3 }, deltaLimits: SMALL_LIMITS }, async (emu) => {
    const options = emuOptions(emu);
    try {
      const msgs = await collect(graphDelta(options));
      const ids = records(msgs).map((r) => r.id);
      assert.is(new Set(ids).size, emu.tenant.list('user').length);
      assert.ok(msgs.filter((m) => m.kind === 'page').length >= 12);
      const first = deltaRequests(emu)[0]!;
      assert.is(first.path, '/v1.0/users/delta?$select=displayName,id');
      // The next round replays the link as it was given, nothing added.
      const link = (state(msgs) as { deltaLink: string }).deltaLink;
      emu.tenant.createUser({ displayName: 'Zed' });
      const next = await collect(graphDelta({ ...options, cookie: link }));
      assert.equal(next[0], { kind: 'mode', entity: 'user', mode: 'incremental' });
      assert.equal(
        records(next).map((r) => r.displayName),
        ['Zed'],
      );
      const replayed = deltaRequests(emu).at(-1)!;
      assert.is(`${emu.url}${replayed.path}`, link);
    } finally {
      options.client.close();
    }
  }),
);

GraphDelta('graphDelta(options) falls back to complete on a 410 with Location at the first request', () =>
  withEmulator({ generate: { users: 12, groups: 0, seed: 3 }, deltaLimits: SMALL_LIMITS }, async (emu) => {
    const options = emuOptions(emu);
    try {
      const cookie = (state(await collect(graphDelta(options))) as { deltaLink: string }).deltaLink;
      emu.tenant.resetSync();
      const before = deltaRequests(emu).length;
      const msgs = await collect(graphDelta({ ...options, cookie }));
      assert.is(msgs[0]!.kind, 'mode');
      assert.is((msgs[0] as { mode: string }).mode, 'complete');
      assert.match((msgs[0] as { reason: string }).reason, /410/);
      assert.is(records(msgs).length, 12);
      assert.ok(state(msgs));
      const after = deltaRequests(emu).slice(before);
      assert.is(after[0]!.status, 410);
      // The Location: the initial query with an empty $deltatoken.
      assert.match(after[1]!.path, /^\/v1\.0\/users\/delta\?\$select=displayName%2Cid&\$deltatoken=$/);
    } finally {
      options.client.close();
    }
  }),
);

GraphDelta('graphDelta(options) falls back to complete when the cookie expired (400 syncStateNotFound)', () =>
  withEmulator({ generate: { users: 12, groups: 0, seed: 3 }, deltaLimits: SMALL_LIMITS }, async (emu) => {
    const options = emuOptions(emu);
    try {
      const cookie = (state(await collect(graphDelta(options))) as { deltaLink: string }).deltaLink;
      emu.clock.advance(8 * 24 * 3600_000);
      const before = deltaRequests(emu).length;
      const msgs = await collect(graphDelta({ ...options, cookie }));
      assert.equal(msgs[0], {
        kind: 'mode',
        entity: 'user',
        mode: 'complete',
        reason: 'Graph no longer knows the delta token (400 syncStateNotFound)',
      });
      assert.is(records(msgs).length, 12);
      const after = deltaRequests(emu).slice(before);
      assert.is(after[0]!.status, 400);
      assert.is(after[1]!.path, '/v1.0/users/delta?$select=displayName,id');
    } finally {
      options.client.close();
    }
  }),
);

GraphDelta('graphDelta(options) stops with ERR_GRAPH_SYNC_RESET on a 410 in the middle of a round', () =>
  withEmulator({ generate: { users: 30, groups: 0, seed: 3 }, deltaLimits: SMALL_LIMITS }, async (emu) => {
    const options = emuOptions(emu, { prefetch: false });
    try {
      const gen = graphDelta(options);
      assert.is((await gen.next()).value?.kind, 'mode');
      assert.is((await gen.next()).value?.kind, 'page');
      emu.tenant.resetSync();
      const e = await rejection(collect(gen));
      assert.is(e.code, 'ERR_GRAPH_SYNC_RESET');
      assert.match(e.message, /410 Gone.*in the middle of the user round/);
    } finally {
      options.client.close();
    }
  }),
);

GraphDelta('graphDelta(options) fails with a GraphHttpError for other error answers', () =>
  withEmulator({ generate: { users: 3, groups: 0, seed: 3 } }, async (emu) => {
    const options = emuOptions(emu, { initialUrl: `${emu.graphUrl}users/delta?$select=bogusProperty` });
    try {
      const e = (await rejection(collect(graphDelta(options)))) as GraphHttpError;
      assert.instance(e, GraphHttpError);
      assert.is(e.status, 400);
      assert.ok(e.graphCode);
      assert.ok(e.requestId);
      assert.match(e.message, /the user delta query/);
    } finally {
      options.client.close();
    }
  }),
);

GraphDelta(
  'graphDelta(options) prefetches the next page while the consumer holds the current one',
  async () => {
    for (const prefetch of [true, false]) {
      const client = scripted({
        [`${GRAPH}users/delta`]: page([{ id: 'u1' }], { next: `${GRAPH}p2` }),
        [`${GRAPH}p2`]: page([{ id: 'u2' }], { delta: `${GRAPH}d` }),
      });
      const gen = graphDelta({ client, entity: 'user', initialUrl: `${GRAPH}users/delta`, prefetch });
      assert.is((await gen.next()).value?.kind, 'mode');
      assert.is((await gen.next()).value?.kind, 'page');
      // The scripted client records a request when it is made: the consumer holds page 1 now.
      assert.equal(client.calls, prefetch ? [`${GRAPH}users/delta`, `${GRAPH}p2`] : [`${GRAPH}users/delta`]);
      await gen.next();
      assert.equal(client.calls, [`${GRAPH}users/delta`, `${GRAPH}p2`], `prefetch ${prefetch}`);
      await gen.return(undefined);
    }
  },
);

GraphDelta.run();
