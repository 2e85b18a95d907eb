import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  classifyOutcome,
  conflictOutcome,
  exhaustedOutcome,
  foundOutcome,
  itemVerdict,
  mergeOutcome,
  stoppedOutcome,
} from '../../src/sinks/outcome-policy.js';
import type { LinkRow, ObjectRow } from '../../src/types.js';

const createUser: ObjectRow = {
  kind: 'object',
  file: 'in.csv',
  line: 2,
  command: 'insert',
  entity: 'user',
  odataType: '#microsoft.graph.user',
  values: {},
};
const addMember: LinkRow = {
  kind: 'link',
  file: 'in.csv',
  line: 2,
  command: 'insert',
  entity: 'group',
  navigation: 'members',
  ownerId: 'g1',
  targetId: 'u1',
};
const answer = (status: number, body?: unknown, retryAfterMs?: number) => ({
  status,
  headers: {},
  ...(body !== undefined ? { body } : {}),
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});
const graphError = (code: string, message: string) => ({ error: { code, message } });

const Classify = suite('classifyOutcome');

const ADD = { kind: 'link', command: 'insert' } as const;
const REMOVE = { kind: 'link', command: 'delete' } as const;

Classify('classifyOutcome(row, 2xx) is ok', () => {
  assert.is(classifyOutcome(ADD, 204, undefined, undefined), 'ok');
  assert.is(classifyOutcome({ kind: 'object', command: 'insert' }, 201, undefined, undefined), 'ok');
});

Classify('classifyOutcome(link insert, 400 already exist) is skipped', () => {
  const message =
    "One or more added object references already exist for the following modified properties: 'members'.";
  assert.is(classifyOutcome(ADD, 400, 'Request_BadRequest', message), 'skipped');
  assert.is(classifyOutcome(ADD, 400, 'Request_BadRequest', 'Invalid object identifier'), 'failed');
  assert.is(classifyOutcome(ADD, 404, 'Request_ResourceNotFound', 'does not exist'), 'failed');
});

Classify('classifyOutcome(link delete, missing link) is skipped', () => {
  assert.is(
    classifyOutcome(REMOVE, 404, 'Request_ResourceNotFound', "Resource 'x' does not exist"),
    'skipped',
  );
  const message =
    "One or more removed object references do not exist for the following modified properties: 'members'.";
  assert.is(classifyOutcome(REMOVE, 400, 'Request_BadRequest', message), 'skipped');
  const lastOwner = 'The group must have at least one owner, hence this owner cannot be removed.';
  assert.is(classifyOutcome(REMOVE, 400, 'Request_BadRequest', lastOwner), 'failed');
});

Classify('classifyOutcome(object delete, 404) is skipped; other misses fail', () => {
  assert.is(
    classifyOutcome({ kind: 'object', command: 'delete' }, 404, 'Request_ResourceNotFound', ''),
    'skipped',
  );
  assert.is(
    classifyOutcome({ kind: 'object', command: 'update' }, 404, 'Request_ResourceNotFound', ''),
    'failed',
  );
  assert.is(
    classifyOutcome({ kind: 'object', command: 'delete' }, 403, 'Authorization_RequestDenied', ''),
    'failed',
  );
  assert.is(classifyOutcome(ADD, 429, 'TooManyRequests', 'already exist'), 'failed');
});

Classify.run();

// ---

const Verdict = suite('itemVerdict');

Verdict('itemVerdict(row, 2xx) is done ok, with the new id of a create', () => {
  assert.equal(itemVerdict(createUser, answer(201, { id: 'n1' })), {
    kind: 'done',
    outcome: { status: 'ok', httpStatus: 201, newId: 'n1' },
  });
  assert.equal(itemVerdict(addMember, answer(204)), {
    kind: 'done',
    outcome: { status: 'ok', httpStatus: 204 },
  });
});

Verdict('itemVerdict(row, 429 | 5xx | no answer) is a retry; 5xx and no answer may have been applied', () => {
  assert.equal(itemVerdict(addMember, answer(429, graphError('TooManyRequests', 'slow'), 3000)), {
    kind: 'retry',
    afterMs: 3000,
    status: 429,
    error: { code: 'TooManyRequests', message: 'slow' },
    throttled: true,
    uncertain: false,
  });
  const v = itemVerdict(createUser, answer(503));
  assert.ok(v.kind === 'retry' && v.uncertain && !v.throttled && v.afterMs === undefined);
  const lost = itemVerdict(createUser, undefined);
  assert.ok(lost.kind === 'retry' && lost.uncertain && lost.afterMs === 1000);
});

Verdict('itemVerdict(create, 400 same unique name) asks for a lookup, with the failure as fallback', () => {
  const message = 'Another object with the same value for property userPrincipalName already exists.';
  const v = itemVerdict(createUser, answer(400, graphError('Request_BadRequest', message)));
  assert.equal(v, {
    kind: 'conflict',
    status: 400,
    error: { code: 'Request_BadRequest', message },
    fallback: { status: 'failed', httpStatus: 400, errorCode: 'Request_BadRequest', message },
  });
});

Verdict('itemVerdict(row, 4xx) is done: skipped for a replay, failed otherwise', () => {
  const exists = graphError('Request_BadRequest', 'One or more added object references already exist');
  assert.equal(itemVerdict(addMember, answer(400, exists)), {
    kind: 'done',
    outcome: {
      status: 'skipped',
      httpStatus: 400,
      errorCode: 'Request_BadRequest',
      message: 'nothing to do: One or more added object references already exist',
    },
  });
  assert.equal(itemVerdict(addMember, answer(403)), {
    kind: 'done',
    outcome: { status: 'failed', httpStatus: 403, errorCode: '', message: 'Graph answered 403' },
  });
});

Verdict(
  'itemVerdict(row, answer, request) knows a read changes nothing and only a create gives an id',
  () => {
    const read = { method: 'GET' as const, url: '/users/u1?$select=assignedLicenses' };
    const v = itemVerdict(createUser, answer(503), read);
    assert.is(v.kind === 'retry' && v.uncertain, false, 'a read that failed applied nothing');
    const lost = itemVerdict(createUser, undefined, read);
    assert.is(lost.kind === 'retry' && lost.uncertain, false, 'nor did a read left unanswered');
    const patch = itemVerdict(createUser, answer(200, { id: 'u1' }), { method: 'PATCH', url: '/users/u1' });
    assert.equal(patch, { kind: 'done', outcome: { status: 'ok', httpStatus: 200 } });
    const conflict = graphError(
      'Request_BadRequest',
      'Another object with the same value for property userPrincipalName already exists.',
    );
    assert.is(
      itemVerdict(createUser, answer(400, conflict), { method: 'POST', url: '/invitations' }).kind,
      'conflict',
    );
    assert.is(
      itemVerdict(createUser, answer(400, conflict), { method: 'PATCH', url: '/users/u1' }).kind,
      'done',
    );
  },
);

Verdict.run();

// ---

const Merge = suite('mergeOutcome');

Merge('mergeOutcome(carry, outcome) keeps what earlier steps found, and their messages first', () => {
  assert.equal(mergeOutcome(undefined, { status: 'ok' }), { status: 'ok' });
  assert.equal(
    mergeOutcome(
      { status: 'ok', httpStatus: 201, newId: 'n1', created: true, message: 'invited' },
      { status: 'failed', httpStatus: 400, errorCode: 'Request_BadRequest', message: 'no seats' },
    ),
    {
      status: 'failed',
      httpStatus: 400,
      newId: 'n1',
      created: true,
      errorCode: 'Request_BadRequest',
      message: 'invited; no seats',
    },
  );
  assert.is(mergeOutcome({ status: 'ok' }, { status: 'skipped' }).status, 'ok', 'a change was made');
  assert.is(mergeOutcome({ status: 'skipped' }, { status: 'skipped' }).status, 'skipped');
});

Merge.run();

// ---

const Words = suite('outcomes');

Words('conflictOutcome(), foundOutcome(), exhaustedOutcome(), stoppedOutcome() say what happened', () => {
  assert.is(conflictOutcome('n1', true, 400, {}).status, 'ok');
  assert.is(conflictOutcome('n1', false, 400, { message: 'dup' }).message, 'already exists (dup)');
  const request = { method: 'POST' as const, url: '/groups', objectKey: 'k' };
  assert.equal(foundOutcome('exists', 'g1', request), {
    status: 'skipped',
    httpStatus: 200,
    newId: 'g1',
    message: 'already exists: found by its mailNickname',
  });
  assert.is(
    foundOutcome('started', 'g1', request).message,
    'created by an earlier run (found by its mailNickname)',
  );
  assert.equal(exhaustedOutcome(10, undefined, undefined, false), {
    status: 'failed',
    httpStatus: '',
    errorCode: 'ERR_RETRIES_EXHAUSTED',
    message: 'gave up after 10 attempts',
  });
  assert.match(
    exhaustedOutcome(3, 503, { message: 'busy' }, true).message!,
    /busy; it may have been applied/,
  );
  assert.equal(stoppedOutcome({ code: 'ERR_INTERRUPTED', message: 'interrupted' }, false, false), {
    status: 'failed',
    errorCode: 'ERR_INTERRUPTED',
    message: 'not sent: interrupted',
  });
});

Words.run();
