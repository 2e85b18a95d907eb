import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createResultsSink,
  createResultsWriter,
  objectKeyOf,
  resultFor,
  scrubSecrets,
  summarize,
} from '../../src/sinks/results.js';
import { createInputWindow } from '../../src/streams/input-window.js';
import { readCommandCsv, type CommandRow } from '../../src/sources/command-csv.js';
import { describeRequest, toRequest } from '../../src/streams/to-request.js';
import type { FulfillMsg, ResultRow } from '../../src/types.js';

const G1 = '11111111-1111-4111-8111-111111111111';
const G2 = '22222222-2222-4222-8222-222222222222';
const HEADER = 'line,Command,@odata.type,id,status,httpStatus,errorCode,message,newId,file,ownerId,key\n';

/** A writable that keeps what it gets; `highWaterMark: 1` makes every write ask for a drain. */
function sink(options: { highWaterMark?: number; fail?: NodeJS.ErrnoException } = {}) {
  const chunks: string[] = [];
  const out = new Writable({
    highWaterMark: options.highWaterMark ?? 16384,
    write(chunk: Buffer, _encoding, done) {
      if (options.fail) return done(options.fail);
      chunks.push(chunk.toString());
      setImmediate(done);
    },
  });
  return { out, text: () => chunks.join('') };
}

const row = (over: Partial<ResultRow> = {}): ResultRow => ({
  line: 2,
  Command: 'update',
  '@odata.type': '#microsoft.graph.user',
  id: G1,
  status: 'ok',
  httpStatus: '204',
  errorCode: '',
  message: '',
  newId: '',
  file: 'in.csv',
  ownerId: '',
  key: '',
  ...over,
});

const Writer = suite('createResultsWriter');

Writer('createResultsWriter(csv) writes the header and rows in contract order, RFC 4180', async () => {
  const { out, text } = sink();
  const results = createResultsWriter({ out, format: 'csv' });
  await results.write(row());
  await results.write(
    row({
      line: 3,
      status: 'failed',
      httpStatus: '400',
      errorCode: 'Request_BadRequest',
      message: 'a, "b"\nc\rd',
      key: 'u@x.example',
    }),
  );
  await results.end();
  assert.is(
    text(),
    HEADER +
      `2,update,#microsoft.graph.user,${G1},ok,204,,,,in.csv,,\n` +
      `3,update,#microsoft.graph.user,${G1},failed,400,Request_BadRequest,"a, ""b""\nc\rd",,in.csv,,u@x.example\n`,
  );
  assert.ok(out.writableFinished);
});

Writer(
  'createResultsWriter(ndjson) writes one object a line, columns in order, numbers as numbers, null for empty',
  async () => {
    const { out, text } = sink();
    const results = createResultsWriter({ out, format: 'ndjson' });
    await results.write(row({ newId: G2 }));
    await results.write(
      row({ line: 3, status: 'failed', httpStatus: '', errorCode: 'ERR_ROW_INVALID', message: 'bad' }),
    );
    await results.end();
    assert.is(
      text(),
      `{"line":2,"Command":"update","@odata.type":"#microsoft.graph.user","id":"${G1}","status":"ok","httpStatus":204,"errorCode":null,"message":null,"newId":"${G2}","file":"in.csv","ownerId":null,"key":null}\n` +
        `{"line":3,"Command":"update","@odata.type":"#microsoft.graph.user","id":"${G1}","status":"failed","httpStatus":null,"errorCode":"ERR_ROW_INVALID","message":"bad","newId":null,"file":"in.csv","ownerId":null,"key":null}\n`,
    );
  },
);

Writer('createResultsWriter(csv) with no row still writes the header', async () => {
  const { out, text } = sink();
  await createResultsWriter({ out, format: 'csv' }).end();
  assert.is(text(), HEADER);
});

Writer('createResultsWriter(out) waits for drain and keeps every row', async () => {
  const { out, text } = sink({ highWaterMark: 1 });
  const results = createResultsWriter({ out, format: 'csv' });
  for (let i = 0; i < 50; i++) await results.write(row({ line: i + 2 }));
  await results.end();
  assert.is(text().split('\n').length, 52, 'header, 50 rows, final newline');
});

Writer('createResultsWriter(out) ends quietly when the reader goes away (EPIPE)', async () => {
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  const { out } = sink({ fail: epipe });
  const results = createResultsWriter({ out, format: 'csv' });
  await results.write(row());
  await new Promise((resolve) => setImmediate(resolve));
  await results.write(row());
  await results.end();
  assert.ok(results.broken);
});

Writer('createResultsWriter(out) rejects on any other write error', async () => {
  const eio = Object.assign(new Error('write EIO'), { code: 'EIO' });
  const { out } = sink({ fail: eio });
  const results = createResultsWriter({ out, format: 'csv' });
  try {
    await results.write(row());
    await new Promise((resolve) => setImmediate(resolve));
    await results.end();
    assert.unreachable();
  } catch (error) {
    assert.is((error as NodeJS.ErrnoException).code, 'EIO');
  }
});

Writer('createResultsWriter({endOut: false}) leaves the stream open', async () => {
  const { out } = sink();
  const results = createResultsWriter({ out, format: 'ndjson', endOut: false });
  await results.write(row());
  await results.end();
  assert.not.ok(out.writableEnded);
});

Writer('createResultsWriter({format}) refuses an unknown format', () => {
  assert.throws(
    () => createResultsWriter({ out: sink().out, format: 'tsv' as 'csv' }),
    (e: { code?: string }) => e.code === 'ERR_INVALID_OPTION',
  );
});

Writer.run();

// ---

const ResultFor = suite('resultFor');

ResultFor('resultFor(object row) fills the object columns', () => {
  const r = resultFor(
    {
      kind: 'object',
      file: 'a.csv',
      line: 4,
      command: 'insert',
      entity: 'user',
      odataType: '#microsoft.graph.user',
      values: { userPrincipalName: 'new@contoso.example' },
    },
    { status: 'ok', httpStatus: 201, newId: G2 },
  );
  assert.equal(
    r,
    row({
      line: 4,
      Command: 'insert',
      id: '',
      httpStatus: '201',
      newId: G2,
      file: 'a.csv',
      key: 'new@contoso.example',
    }),
  );
});

ResultFor(
  'objectKeyOf() is the userPrincipalName or mailNickname, from the request, the cells or the id',
  () => {
    const object = (entity: 'user' | 'group' | 'servicePrincipal', id?: string, values = {}) => ({
      kind: 'object' as const,
      file: 'a.csv',
      line: 2,
      command: 'update' as const,
      entity,
      odataType: `#microsoft.graph.${entity}`,
      ...(id ? { id } : {}),
      values,
    });
    assert.is(objectKeyOf(object('group'), { mailNickname: 'Derived' }), 'Derived');
    assert.is(objectKeyOf(object('user', G1, { userPrincipalName: 'u@x.example' })), 'u@x.example');
    assert.is(objectKeyOf(object('user', 'by@upn.example')), 'by@upn.example');
    assert.is(objectKeyOf(object('group', 'sales')), 'sales');
    assert.is(objectKeyOf(object('user', G1)), '', 'an update by id without the key has none');
    assert.is(objectKeyOf(object('servicePrincipal', G1)), '');
  },
);

ResultFor('resultFor(link row) puts the owner in ownerId and the member in id', () => {
  const r = resultFor(
    {
      kind: 'link',
      file: 'x_members_group.csv',
      line: 3,
      command: 'delete',
      entity: 'group',
      navigation: 'members',
      ownerId: G1,
      targetId: G2,
    },
    { status: 'skipped', httpStatus: 404, errorCode: 'Request_ResourceNotFound', message: 'already absent' },
  );
  assert.equal(r, {
    line: 3,
    Command: 'delete',
    '@odata.type': '',
    id: G2,
    status: 'skipped',
    httpStatus: '404',
    errorCode: 'Request_ResourceNotFound',
    message: 'already absent',
    newId: '',
    file: 'x_members_group.csv',
    ownerId: G1,
    key: '',
  });
});

ResultFor('resultFor(invalid row) fails with its message and ERR_ROW_INVALID', () => {
  const r = resultFor(
    {
      kind: 'invalid',
      file: '-',
      line: 9,
      command: 'upsert',
      odataType: 'x',
      id: 'y',
      column: 'Command',
      message: 'bad',
    },
    { status: 'failed' },
  );
  assert.equal(
    r,
    row({
      line: 9,
      Command: 'upsert',
      '@odata.type': 'x',
      id: 'y',
      status: 'failed',
      httpStatus: '',
      errorCode: 'ERR_ROW_INVALID',
      message: 'bad',
      file: '-',
    }),
  );
});

ResultFor.run();

// ---

const Secrets = suite('results never carry a secret');

Secrets('scrubSecrets(message) hides JSON password values', () => {
  assert.is(
    scrubSecrets('body {"passwordProfile":{"password":"a\\"b"}}'),
    'body {"passwordProfile":{"password":"***"}}',
  );
  assert.is(scrubSecrets('{"newPassword" : "x"}'), '{"newPassword" : "***"}');
});

Secrets('results of a dry run and of bad password cells contain no password', async () => {
  const secret = 'Sup3r!Secret#Pass';
  const generated = 'Gen3rated!Secret#Pw';
  const csv = [
    'Command,@odata.type,id,displayName,accountEnabled,mailNickname,userPrincipalName,passwordProfile',
    `insert,#microsoft.graph.user,,A,true,a,a@contoso.com,"{""password"":""${secret}""}"`,
    'insert,#microsoft.graph.user,,B,true,b,b@contoso.com,',
    `insert,#microsoft.graph.user,,C,true,c,c@contoso.com,"{""password"":""${secret}"",""x"":1}"`,
    `update,#microsoft.graph.user,${G1},,,,,"{""password"":""${secret}"""`,
  ].join('\n');
  const { Readable } = await import('node:stream');
  const rows: CommandRow[] = [];
  for await (const r of readCommandCsv({ input: '-', stdin: Readable.from([csv]) })) rows.push(r);
  const { out, text } = sink();
  const results = createResultsWriter({ out, format: 'csv' });
  const options = {
    graphBase: 'https://graph.microsoft.com/v1.0/',
    passwordSink: true,
    generatePassword: () => generated,
  };
  for (const r of rows) {
    if (r.kind === 'invalid') {
      await results.write(resultFor(r, { status: 'failed' }));
      continue;
    }
    const plan = toRequest(r, options);
    const message = plan.kind === 'request' ? describeRequest(plan.request) : plan.message;
    await results.write(resultFor(r, { status: plan.kind === 'invalid' ? 'failed' : 'planned', message }));
    // Even a careless caller quoting the body is caught.
    if (plan.kind === 'request')
      await results.write(resultFor(r, { status: 'planned', message: JSON.stringify(plan.request.body) }));
  }
  await results.end();
  assert.is(rows.length, 4);
  assert.not.match(text(), secret);
  assert.not.match(text(), generated);
  assert.match(text(), '***');
});

Secrets.run();

// ---

const Summarize = suite('summarize');

Summarize('summarize(results) counts rows per status', () => {
  const statuses = ['ok', 'ok', 'skipped', 'failed', 'planned'] as const;
  assert.equal(summarize(statuses.map((status) => row({ status }))), {
    total: 5,
    ok: 2,
    skipped: 1,
    failed: 1,
    planned: 1,
  });
  assert.equal(summarize([]), { total: 0, ok: 0, skipped: 0, failed: 0, planned: 0 });
});

Summarize.run();

// ---

const Sink = suite('createResultsSink');

const item = (seq: number, status: 'ok' | 'failed'): FulfillMsg => ({
  kind: 'row',
  seq,
  row: {
    kind: 'link',
    file: 'in.csv',
    line: seq + 2,
    command: 'insert',
    entity: 'group',
    navigation: 'members',
    ownerId: G1,
    targetId: G2,
  },
  outcome: { status, httpStatus: status === 'ok' ? 204 : 404 },
});

Sink(
  'createResultsSink() writes results in input order, whatever order they come in, and counts them',
  async () => {
    const { out, text } = sink();
    const window = createInputWindow(10);
    const results = createResultsSink({ results: createResultsWriter({ out, format: 'ndjson' }), window });
    await pipeline(Readable.from([item(2, 'ok'), item(0, 'failed'), item(1, 'ok')]), results.writable);
    assert.equal(
      text()
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as ResultRow).line),
      [2, 3, 4],
    );
    assert.is(window.next, 3);
    assert.equal(results.tally, { ok: 2, skipped: 0, failed: 1, planned: 0, groupsWithoutOwners: 0 });
  },
);

Sink('createResultsSink() fails with a failure message only once every result is written', async () => {
  const { out, text } = sink();
  const results = createResultsSink({
    results: createResultsWriter({ out, format: 'ndjson' }),
    window: createInputWindow(10),
  });
  const error = new Error('the CSV broke');
  const msgs: FulfillMsg[] = [item(1, 'ok'), { kind: 'failure', error }, item(0, 'ok')];
  let failed: unknown;
  await pipeline(Readable.from(msgs), results.writable).catch((e: unknown) => (failed = e));
  assert.is(failed, error);
  assert.is(text().trimEnd().split('\n').length, 2);
});

Sink.run();
