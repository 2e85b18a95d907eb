import _ from 'highland';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildRequest, buildRequests, planRequests } from '../../src/streams/build-requests.js';
import type { FulfillItem, FulfillMsg, ObjectRow } from '../../src/types.js';
import { collect } from '../helpers/streams.js';

const BASE = 'https://graph.microsoft.com/v1.0/';
const U1 = '11111111-1111-4111-8111-111111111111';
const OPTIONS = { graphBase: BASE, passwordSink: true, generatePassword: () => 'Secret#Pw1!x' };
const object = (over: Partial<ObjectRow>): FulfillItem => ({
  kind: 'row',
  seq: 0,
  row: {
    kind: 'object',
    file: 'in.csv',
    line: 2,
    command: 'update',
    entity: 'user',
    odataType: '#microsoft.graph.user',
    id: U1,
    values: { jobTitle: 'x' },
    ...over,
  },
});

const Build = suite('buildRequest');

Build('buildRequest(item) gives a row its request; group creates are looked up first', () => {
  const update = buildRequest(object({}), OPTIONS);
  assert.equal(update.request?.method, 'PATCH');
  assert.is(update.lookupFirst, undefined);
  const group = buildRequest(
    object({
      command: 'insert',
      entity: 'group',
      odataType: '#microsoft.graph.group',
      id: undefined,
      values: { displayName: 'G', mailNickname: 'g', mailEnabled: false, securityEnabled: true },
    }),
    OPTIONS,
  );
  assert.is(group.request?.url, '/groups');
  assert.is(group.lookupFirst, 'exists');
  assert.is(
    buildRequest({ ...group, lookupFirst: 'started', request: undefined }, OPTIONS).lookupFirst,
    'started',
  );
});

Build('buildRequest(item) gives an outcome to invalid rows and to updates with nothing to change', () => {
  const invalid = buildRequest(
    {
      ...object({}),
      row: { kind: 'invalid', file: 'in.csv', line: 2, command: 'x', odataType: '', id: '', message: 'm' },
    },
    OPTIONS,
  );
  assert.equal(invalid.outcome, { status: 'failed' });
  assert.is(buildRequest(object({ values: {} }), OPTIONS).outcome?.status, 'ok');
});

Build.run();

// ---

const Streams = suite('buildRequests / planRequests');

Streams('buildRequests() then planRequests() plan every request and pass failures along', async () => {
  const failure: FulfillMsg = { kind: 'failure', error: new Error('x') };
  const out = await collect(
    _<FulfillMsg>([object({}), failure])
      .through(buildRequests(OPTIONS))
      .through(planRequests()),
  );
  assert.equal(out[0]?.kind === 'row' && out[0].outcome, {
    status: 'planned',
    message: `PATCH /users/${U1} {"jobTitle":"x"}`,
  });
  assert.is(out[1], failure);
});

Streams.run();
