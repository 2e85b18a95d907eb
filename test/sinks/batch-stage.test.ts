import { Readable } from 'node:stream';
import _ from 'highland';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ToolError } from '../../src/errors.js';
import type { GraphClient, GraphResponse } from '../../src/graph/client.js';
import { createBatchStage } from '../../src/sinks/batch-stage.js';
import { toRequest } from '../../src/streams/to-request.js';
import type { FulfillItem, FulfillMsg, LinkRow } from '../../src/types.js';
import { collect } from '../helpers/streams.js';

const GRAPH = 'https://graph.example/v1.0/';
const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** An add-member row with its request, as the request builder makes it. */
function addMember(seq: number): FulfillItem {
  const row: LinkRow = {
    kind: 'link',
    file: 'in.csv',
    line: seq + 2,
    command: 'insert',
    entity: 'group',
    navigation: 'members',
    ownerId: guid(1),
    targetId: guid(seq + 2),
  };
  const plan = toRequest(row, { graphBase: GRAPH, passwordSink: false });
  if (plan.kind !== 'request') throw new Error('no request');
  return { kind: 'row', seq, row, request: plan.request };
}

/**
 * A Graph client that answers each `$batch` with 204 for every item, but only when `answer()` says so:
 * the test decides when Graph answers, not a clock.
 */
function scriptedGraph(answer: (release: () => void) => void) {
  let answered = 0;
  const client: GraphClient = {
    request: <T>(_method: string, _url: string, options?: { json?: unknown }) => {
      const requests = (options?.json as { requests: { id: string }[] }).requests;
      return new Promise<GraphResponse<T>>((resolve) =>
        answer(() => {
          answered += requests.length;
          resolve({
            status: 200,
            headers: {},
            body: { responses: requests.map((r) => ({ id: r.id, status: 204 })) } as T,
          });
        }),
      );
    },
    get: () => Promise.reject(new Error('unscripted GET')),
    stats: { requests: 0, retries: 0, throttled: 0, waitedMs: 0, resourceUnits: 0 },
    baseUrl: GRAPH,
    close() {},
  };
  return {
    client,
    get answered() {
      return answered;
    },
  };
}

const Stage = suite('createBatchStage');

Stage('createBatchStage() lets a slow Graph slow the reading of the input (backpressure)', async () => {
  const ROWS = 1000;
  // Graph answers a batch only after two turns of the event loop: everything the stage can read
  // without waiting for Graph is read in between, so the lead below is what backpressure allows.
  const graph = scriptedGraph((release) => setImmediate(() => setImmediate(release)));
  let read = 0;
  let lead = 0;
  async function* rows(): AsyncGenerator<FulfillMsg> {
    for (let seq = 0; seq < ROWS; seq++) {
      read++;
      lead = Math.max(lead, read - graph.answered);
      yield addMember(seq);
    }
  }
  const stage = createBatchStage({
    client: graph.client,
    concurrency: 1,
    batchSize: 5,
    lingerMs: 0,
    writeBudget: null,
  });
  const out = await collect(_<FulfillMsg>(Readable.from(rows())).through((s) => stage.through(s)));
  assert.is(out.length, ROWS);
  assert.ok(out.every((m) => m.kind === 'row' && m.outcome?.status === 'ok'));
  // The writer holds 4 batches queued and 1 in flight; stream buffers add a few dozen more.
  assert.ok(lead <= 100, `read ${lead} rows ahead of Graph's answers`);
  assert.ok(lead >= 25, `read only ${lead} rows ahead: the writer's queue was not filled`);
});

Stage('createBatchStage() passes items that have an outcome and keeps failures until the end', async () => {
  const graph = scriptedGraph((release) => release());
  const stage = createBatchStage({ client: graph.client, lingerMs: 0, writeBudget: null });
  const done: FulfillMsg = {
    kind: 'row',
    seq: 0,
    row: { kind: 'invalid', file: 'in.csv', line: 2, command: 'x', odataType: '', id: '', message: 'bad' },
    outcome: { status: 'failed' },
  };
  const failure: FulfillMsg = { kind: 'failure', error: new ToolError('ERR_CSV', 'broken') };
  const out = await collect(_<FulfillMsg>([done, failure, addMember(1)]).through((s) => stage.through(s)));
  assert.equal(
    out.map((m) => (m.kind === 'row' ? `${m.seq} ${m.outcome?.status}` : m.kind)),
    ['0 failed', '1 ok', 'failure'],
  );
});

Stage(
  'createBatchStage() on a fatal error fails the queued rows, stops taking rows, then fails',
  async () => {
    const fatal = new ToolError('ERR_AUTH', 'invalid client secret');
    const graph: GraphClient = {
      ...scriptedGraph(() => {}).client,
      request: () => Promise.reject(fatal),
    };
    let stopped: Error | undefined;
    const stage = createBatchStage({
      client: graph,
      concurrency: 1,
      batchSize: 2,
      lingerMs: 0,
      writeBudget: null,
      onFatal: (e) => (stopped = e),
    });
    const out = await collect(
      _<FulfillMsg>(Array.from({ length: 50 }, (_x, i) => addMember(i))).through((s) => stage.through(s)),
    );
    const rows = out.filter((m) => m.kind === 'row');
    assert.ok(rows.length > 0 && rows.length < 50, `${rows.length} results`);
    assert.ok(rows.every((m) => m.outcome?.errorCode === 'ERR_AUTH'));
    assert.equal(out.at(-1), { kind: 'failure', error: fatal });
    assert.is(out.filter((m) => m.kind === 'failure').length, 1);
    assert.is(stopped, fatal);
  },
);

Stage.run();
