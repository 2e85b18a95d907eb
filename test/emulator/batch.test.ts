import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const MISSING = '00000000-0000-4000-8000-000000000000';
const JSON_HEADERS = { 'Content-Type': 'application/json' };

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

async function batch(emu: Emulator, requests: unknown[]) {
  const r = await call(emu, 'POST', '/v1.0/$batch', { body: { requests } });
  const byId = new Map<string, any>();
  for (const item of (r.json?.responses ?? []) as any[]) byId.set(item.id, item);
  return { r, byId };
}

const Batch = suite('handleBatch');

Batch('POST /$batch answers 200 with one response per request: id, status, headers, body', async () => {
  await sample(async (emu) => {
    const { r, byId } = await batch(emu, [
      { id: '1', method: 'GET', url: `/users/${ADELE}?$select=displayName` },
      { id: '2', method: 'GET', url: `users/${MISSING}` },
      {
        id: '3',
        method: 'PATCH',
        url: `/users/${ADELE}`,
        headers: JSON_HEADERS,
        body: { jobTitle: 'Batched' },
      },
    ]);
    assert.is(r.status, 200);
    assert.is(r.json.responses.length, 3);
    const one = byId.get('1');
    assert.is(one.status, 200);
    assert.is(one.body.displayName, 'Adele Vance');
    // Graph's spelling, as json-batching.md shows it: the Graph JS SDK reads headers["Content-Type"].
    assert.match(one.headers['Content-Type'], /^application\/json;odata\.metadata=minimal/);
    assert.is(one.headers['content-type'], undefined);
    assert.is(one.headers['Cache-Control'], 'no-cache');
    assert.is(one.headers['OData-Version'], '4.0');
    assert.is(one.headers['x-ms-resource-unit'], '1');
    const two = byId.get('2');
    assert.is(two.status, 404);
    assert.is(two.body.error.code, 'Request_ResourceNotFound');
    assert.ok(two.body.error.innerError['request-id']);
    const three = byId.get('3');
    assert.is(three.status, 204);
    assert.is(three.body, undefined);
    assert.is(emu.tenant.get(ADELE)!.data.jobTitle, 'Batched');
  });
});

Batch('POST /$batch answers in an order of its own: clients must correlate by id', async () => {
  await sample(async (emu) => {
    const requests = ['a', 'b', 'c'].map((id) => ({ id, method: 'GET', url: '/users?$top=1&$select=id' }));
    const { r } = await batch(emu, requests);
    const order = r.json.responses.map((x: any) => x.id);
    assert.equal([...order].sort(), ['a', 'b', 'c']);
    assert.not.equal(order, ['a', 'b', 'c']);
  });
});

Batch('POST /$batch takes at most 20 requests: 21 fail the whole batch with 400', async () => {
  await sample(async (emu) => {
    const make = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: String(i + 1),
        method: 'GET',
        url: '/users?$top=1&$select=id',
      }));
    const ok = await batch(emu, make(20));
    assert.is(ok.r.status, 200);
    assert.is(ok.r.json.responses.length, 20);
    const tooMany = await batch(emu, make(21));
    assert.is(tooMany.r.status, 400);
    assert.is(tooMany.r.json.error.code, 'BadRequest');
    assert.match(tooMany.r.json.error.message, /20/);
  });
});

Batch(
  'POST /$batch with a malformed envelope fails whole: bad JSON, no requests, duplicate ids, missing fields, unknown dependsOn',
  async () => {
    await sample(async (emu) => {
      const raw = await call(emu, 'POST', '/v1.0/$batch', { body: '{"requests": [' });
      assert.is(raw.status, 400);
      for (const requests of [
        [],
        [
          { id: '1', method: 'GET', url: '/users' },
          { id: '1', method: 'GET', url: '/groups' },
        ],
        [{ id: '1', url: '/users' }],
        [{ id: '1', method: 'GET', url: '/users', dependsOn: ['9'] }],
      ]) {
        const { r } = await batch(emu, requests);
        assert.is(r.status, 400, JSON.stringify(requests));
        assert.ok(r.json.error.code);
      }
      assert.is((await call(emu, 'GET', '/v1.0/$batch')).status, 405);
    });
  },
);

Batch('dependsOn runs requests in order, and a failed request fails its dependants with 424', async () => {
  await sample(async (emu) => {
    const { byId } = await batch(emu, [
      {
        id: '3',
        method: 'PATCH',
        url: `/users/${ADELE}`,
        headers: JSON_HEADERS,
        body: { jobTitle: 'third' },
        dependsOn: ['2'],
      },
      {
        id: '2',
        method: 'PATCH',
        url: `/users/${ADELE}`,
        headers: JSON_HEADERS,
        body: { jobTitle: 'second' },
        dependsOn: ['1'],
      },
      {
        id: '1',
        method: 'PATCH',
        url: `/users/${ADELE}`,
        headers: JSON_HEADERS,
        body: { jobTitle: 'first' },
      },
      { id: '4', method: 'PATCH', url: `/users/${MISSING}`, headers: JSON_HEADERS, body: { jobTitle: 'x' } },
      { id: '5', method: 'GET', url: '/users?$top=1', dependsOn: ['4'] },
      { id: '6', method: 'GET', url: '/users?$top=1', dependsOn: ['5'] },
    ]);
    assert.equal(
      ['1', '2', '3', '4', '5', '6'].map((id) => byId.get(id).status),
      [204, 204, 204, 404, 424, 424],
    );
    assert.is(emu.tenant.get(ADELE)!.data.jobTitle, 'third', 'ran 1, 2, 3 in order');
    assert.ok(byId.get('5').body.error);
  });
});

Batch('a batch item with an absolute URL fails alone with 400', async () => {
  await sample(async (emu) => {
    const { r, byId } = await batch(emu, [
      { id: '2', method: 'GET', url: `https://graph.microsoft.com/v1.0/users/${ADELE}` },
      { id: '3', method: 'GET', url: `/users/${ADELE}` },
    ]);
    assert.is(r.status, 200);
    assert.is(byId.get('2').status, 400);
    assert.is(byId.get('3').status, 200);
  });
});

Batch(
  'a write without a Content-Type header or without a body fails the whole $batch with 400; nothing runs',
  async () => {
    await sample(async (emu) => {
      for (const write of [
        { id: '1', method: 'PATCH', url: `/users/${ADELE}`, body: { jobTitle: 'x' } },
        { id: '1', method: 'POST', url: `/groups/${ENGINEERING}/members/$ref`, headers: JSON_HEADERS },
      ]) {
        const { r } = await batch(emu, [
          {
            id: '0',
            method: 'PATCH',
            url: `/users/${ADELE}`,
            headers: JSON_HEADERS,
            body: { jobTitle: 'ran' },
          },
          write,
        ]);
        assert.is(r.status, 400);
        assert.is(r.json.error.code, 'BadRequest');
        assert.is(r.json.error.message, 'Write request id : 1 does not contain Content-Type header or body.');
        assert.is.not(emu.tenant.get(ADELE)!.data.jobTitle, 'ran');
      }
    });
  },
);

Batch('batch items go through the same routes: $ref writes, creates with binds, delta pages', async () => {
  await sample(async (emu) => {
    const { byId } = await batch(emu, [
      {
        id: 'add',
        method: 'POST',
        url: `/groups/${ENGINEERING}/members/$ref`,
        headers: JSON_HEADERS,
        body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${ADELE}` },
      },
      {
        id: 'again',
        method: 'POST',
        url: `/groups/${ENGINEERING}/members/$ref`,
        headers: JSON_HEADERS,
        body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${ADELE}` },
        dependsOn: ['add'],
      },
      { id: 'delta', method: 'GET', url: '/groups/delta?$select=displayName' },
    ]);
    assert.is(byId.get('add').status, 204);
    assert.is(byId.get('again').status, 400);
    assert.match(byId.get('again').body.error.message, /already exist/);
    const delta = byId.get('delta').body;
    assert.ok(Array.isArray(delta.value));
    assert.ok(delta['@odata.deltaLink'] || delta['@odata.nextLink']);
  });
});

Batch('a batch item body can be base64url text (for non-JSON payloads)', async () => {
  await sample(async (emu) => {
    const body = Buffer.from(JSON.stringify({ city: 'Oslo' })).toString('base64url');
    const { byId } = await batch(emu, [
      { id: '1', method: 'PATCH', url: `/users/${ADELE}`, headers: JSON_HEADERS, body },
    ]);
    assert.is(byId.get('1').status, 204);
    assert.is(emu.tenant.get(ADELE)!.data.city, 'Oslo');
  });
});

Batch('POST /$batch without a token answers 401 for the whole batch', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/$batch', {
      token: null,
      body: { requests: [{ id: '1', method: 'GET', url: '/users' }] },
    });
    assert.is(r.status, 401);
    assert.is(r.json.error.code, 'InvalidAuthenticationToken');
  });
});

Batch('each batch item is logged in emu.requests, as well as the batch', async () => {
  await sample(async (emu) => {
    await batch(emu, [
      { id: '1', method: 'GET', url: '/users?$top=1' },
      { id: '2', method: 'GET', url: '/groups?$top=1' },
    ]);
    const paths = emu.requests.map((e) => `${e.method} ${e.path}`);
    assert.ok(paths.includes('POST /v1.0/$batch'));
    assert.ok(paths.includes('GET /v1.0/users?$top=1'));
    assert.ok(paths.includes('GET /v1.0/groups?$top=1'));
  });
});

Batch.run();
