/**
 * Conformance with the current docs' payloads in test/fixtures/graph-docs/current (json-batching.md,
 * aad-advanced-queries.md, group-delete.md, and a docs maintainer's conflict answer): the facts the
 * emulator's round-two fixes rely on, checked against its answers.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';

function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(`../fixtures/graph-docs/current/${name}`, import.meta.url), 'utf8'));
}

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const Current = suite('conformance: current docs');

Current('$batch items carry the header names and values of json-batching.md', async () => {
  const f = fixture('concepts-json-batching.response.json');
  const [ok, , denied] = f.response.body.responses;
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/$batch', {
      body: {
        requests: [
          { id: '1', method: 'GET', url: `/users/${ADELE}/memberOf` },
          { id: '4', method: 'GET', url: '/users/00000000-0000-0000-0000-00000000abcd' },
        ],
      },
    });
    const byId = new Map((r.json.responses as any[]).map((x) => [x.id, x]));
    assert.equal(Object.keys(byId.get('1').headers).sort(), Object.keys(ok.headers).sort());
    assert.is(byId.get('1').headers['Content-Type'], ok.headers['Content-Type']);
    assert.equal(Object.keys(byId.get('4').headers).sort(), Object.keys(denied.headers).sort());
    assert.is(byId.get('4').headers['Content-Type'], denied.headers['Content-Type']);
  });
});

Current('advanced-query errors: the $count segment and $search without ConsistencyLevel', async () => {
  const f = fixture('concepts-aad-advanced-queries.errors.json');
  await sample(async (emu) => {
    for (const c of f.cases) {
      const path =
        new URL(c.request.url).pathname.replace('/applications', '/users') + new URL(c.request.url).search;
      const r = await call(emu, c.request.method, path);
      assert.is(r.status, c.response.status, path);
      assert.is(r.json.error.code, c.response.body.error.code, path);
      assert.is(r.json.error.message, c.response.body.error.message, path);
    }
  });
});

Current('DELETE /groups/{id} of a security group moves it to deleted items (group-delete.md)', async () => {
  const f = fixture('v1-0-api-group-delete.current.json');
  await sample(async (emu) => {
    const r = await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}`);
    assert.is(r.status, f.response.status);
    const deleted = await call(emu, 'GET', '/v1.0/directory/deletedItems/microsoft.graph.group');
    assert.ok(deleted.json.value.some((g: any) => g.id === ENGINEERING));
  });
});

Current('a taken userPrincipalName answers the conflict envelope with ObjectConflict details', async () => {
  const f = fixture('v1-0-api-user-post-users.conflict.json');
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/users', {
      body: {
        accountEnabled: true,
        displayName: 'Adele Again',
        mailNickname: 'AdeleAgain',
        userPrincipalName: emu.tenant.get(ADELE)!.data.userPrincipalName,
        passwordProfile: { password: 'xWwvJ]6NMw+bWH-d' },
      },
    });
    assert.is(r.status, f.response.status);
    const expected = f.response.body.error;
    assert.is(r.json.error.code, expected.code);
    assert.is(r.json.error.message, expected.message);
    assert.equal(r.json.error.details, expected.details);
  });
});

Current.run();
