import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GraphClient } from '../../src/graph/client.js';
import { References } from '../../src/sinks/references.js';
import { referenceTo } from '../../src/streams/to-request.js';
import { rejection } from '../helpers/common.js';

const G1 = '11111111-1111-4111-8111-111111111111';
const G2 = '22222222-2222-4222-8222-222222222222';

/** A Graph client answering GETs from `answers` (path → status and body), counting them. */
function fakeClient(answers: Record<string, { status: number; body?: unknown }>) {
  const asked: string[] = [];
  const client = {
    get: (url: string) => {
      asked.push(decodeURIComponent(url));
      const answer = answers[decodeURIComponent(url)] ?? { status: 404, body: {} };
      return Promise.resolve({ ...answer, headers: {} });
    },
  } as unknown as GraphClient;
  return { client, asked };
}

const Resolve = suite('References');

Resolve('resolve(user by UPN) asks Graph once per key; 404 says which user is missing', async () => {
  const { client, asked } = fakeClient({
    'users/ann@contoso.example?$select=id': { status: 200, body: { id: G1 } },
  });
  const refs = new References({ client });
  const ann = referenceTo('ann@contoso.example', 'id')!;
  assert.equal(await refs.resolve(ann), { id: G1 });
  assert.equal(await refs.resolve({ ...ann, value: 'ANN@contoso.example', key: ann.key }), { id: G1 });
  assert.is(asked.length, 1, 'the second row is answered from memory');
  assert.equal(await refs.resolve(referenceTo('ghost@contoso.example', 'id')!), {
    missing: 'id: no user has userPrincipalName "ghost@contoso.example"',
  });
});

Resolve('resolve(group by mailNickname): one match, none, more than one', async () => {
  const filter = (nick: string) => `groups?$filter=mailNickname eq '${nick}'&$select=id&$top=2`;
  const { client } = fakeClient({
    [filter('one')]: { status: 200, body: { value: [{ id: G1 }] } },
    [filter('none')]: { status: 200, body: { value: [] } },
    [filter('two')]: { status: 200, body: { value: [{ id: G1 }, { id: G2 }] } },
    [filter("o''brien")]: { status: 200, body: { value: [{ id: G2 }] } },
  });
  const refs = new References({ client });
  assert.equal(await refs.resolve(referenceTo('one', 'groupId')!), { id: G1 });
  assert.equal(await refs.resolve(referenceTo("o'brien", 'groupId')!), { id: G2 }, 'quotes doubled');
  assert.equal(await refs.resolve(referenceTo('none', 'groupId')!), {
    missing: 'groupId: no group has mailNickname "none"',
  });
  assert.equal(await refs.resolve(referenceTo('two', 'groupId')!), {
    missing: `groupId: more than one group has mailNickname "two" (${G1}, ${G2}): name the group by its id`,
  });
});

Resolve(
  'resolve() prefers the run\'s own creates; a failed create is named; a 5xx is not taken for "absent"',
  async () => {
    const { client, asked } = fakeClient({
      'users/busy@contoso.example?$select=id': { status: 503, body: {} },
    });
    const refs = new References({ client });
    const kite = referenceTo('kite', 'groupId')!;
    refs.created(kite.key, G2);
    assert.equal(await refs.resolve(kite), { id: G2 });
    assert.is(refs.learned(kite.key), G2);
    assert.is(asked.length, 0);

    const nopw = referenceTo('nopw@contoso.example', 'id')!;
    refs.createFailed(nopw.key, 'line 2 of a.csv');
    assert.equal(await refs.resolve(nopw), {
      missing:
        'id: no user has userPrincipalName "nopw@contoso.example": its insert on line 2 of a.csv failed',
    });

    const busy = referenceTo('busy@contoso.example', 'id')!;
    const e = await rejection(refs.resolve(busy));
    assert.is(e.code, 'ERR_GRAPH_LOOKUP');
    await rejection(refs.resolve(busy));
    assert.is(asked.filter((a) => a.startsWith('users/busy')).length, 2, 'not remembered: asked again');

    refs.planned(busy.key, 'line 9 of b.csv');
    assert.equal(await refs.resolve(busy), { planned: 'line 9 of b.csv' });
    assert.equal(await new References().resolve(busy), { unchecked: true });
  },
);

Resolve('memory is bounded: the oldest keys are forgotten and looked up again', async () => {
  const { client, asked } = fakeClient({});
  const refs = new References({ client, limit: 2 });
  for (const n of ['a', 'b', 'c', 'a']) await refs.resolve(referenceTo(`${n}@x.example`, 'id')!);
  assert.is(asked.length, 4);
});

Resolve.run();
