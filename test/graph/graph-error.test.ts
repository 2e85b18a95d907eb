import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { graphErrorOf } from '../../src/graph/graph-error.js';

const GraphErrorOf = suite('graphErrorOf');

GraphErrorOf('graphErrorOf(body) reads code, message and innererror.code', () => {
  assert.equal(
    graphErrorOf({
      error: { code: 'Forbidden', message: 'no', innererror: { code: 'SecretDisabled', date: 'x' } },
    }),
    { code: 'Forbidden', message: 'no', innerCode: 'SecretDisabled' },
  );
  assert.equal(graphErrorOf({ error: { code: 'Request_BadRequest' } }), { code: 'Request_BadRequest' });
});

GraphErrorOf('graphErrorOf(body) gives nothing for bodies that are not an error envelope', () => {
  for (const body of [undefined, null, 'text', 42, {}, { error: 'x' }, { error: { code: 7, message: '' } }])
    assert.equal(graphErrorOf(body), {}, JSON.stringify(body));
});

GraphErrorOf.run();
