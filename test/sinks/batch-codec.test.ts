import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBatch, encodeBatch } from '../../src/sinks/batch-codec.js';

const Encode = suite('encodeBatch');

Encode('encodeBatch(requests) numbers the items and gives bodies a JSON content type', () => {
  assert.equal(
    encodeBatch([
      { method: 'PATCH', url: '/users/u1', body: { jobTitle: 'x' }, objectKey: 'users/u1' },
      { method: 'DELETE', url: '/groups/g1/members/u1/$ref', objectKey: 'k' },
    ]),
    {
      requests: [
        {
          id: '1',
          method: 'PATCH',
          url: '/users/u1',
          headers: { 'Content-Type': 'application/json' },
          body: { jobTitle: 'x' },
        },
        { id: '2', method: 'DELETE', url: '/groups/g1/members/u1/$ref' },
      ],
    },
  );
});

Encode.run();

// ---

const Decode = suite('decodeBatch');

Decode('decodeBatch(body, n) puts answers back in request order, headers lower-cased', () => {
  const answers = decodeBatch(
    {
      responses: [
        { id: '2', status: 429, headers: { 'Retry-After': '3' } },
        { id: '1', status: 201, body: { id: 'n1' } },
      ],
    },
    3,
  );
  assert.equal(answers, [
    { status: 201, headers: {}, body: { id: 'n1' } },
    { status: 429, headers: { 'retry-after': '3' }, retryAfterMs: 3000 },
    undefined,
  ]);
});

Decode('decodeBatch(body) is undefined without a responses array', () => {
  assert.is(decodeBatch({ error: { code: 'x' } }, 1), undefined);
  assert.is(decodeBatch(undefined, 1), undefined);
});

Decode.run();
