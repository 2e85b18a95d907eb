import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { castOf, normalizeSegment } from '../../src/emulator/paths.js';
import { call, deltaRound, graphErrorOf, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const Normalize = suite('normalizeSegment');

Normalize('normalizeSegment(s) reads delta bare, called and fully qualified as one function', () => {
  for (const s of ['delta', 'delta()', 'microsoft.graph.delta', 'microsoft.graph.delta()'])
    assert.is(normalizeSegment(s), 'delta', s);
  assert.is(normalizeSegment('microsoft.graph.getByIds'), 'getByIds');
});

Normalize("normalizeSegment(s) qualifies the SDKs' graph.<type> casts; castOf() names the entity", () => {
  assert.is(normalizeSegment('graph.user'), 'microsoft.graph.user');
  assert.is(castOf(normalizeSegment('graph.group')), 'group');
  assert.is(castOf('microsoft.graph.servicePrincipal'), 'servicePrincipal');
  assert.is(castOf('members'), undefined);
  assert.is(normalizeSegment('members'), 'members');
});

Normalize.run();

// ---

const Routes = suite('routeGraph URL forms');

Routes('GET /users/delta() and /groups/microsoft.graph.delta() start the same round as /delta', async () => {
  await sample(async (emu) => {
    const plain = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
    for (const form of ['delta()', 'microsoft.graph.delta', 'microsoft.graph.delta()']) {
      const r = await deltaRound(emu, `/v1.0/users/${form}?$select=displayName`);
      assert.equal(r.items, plain.items, form);
    }
    const groups = await call(emu, 'GET', '/v1.0/groups/microsoft.graph.delta()');
    assert.is(groups.status, 200, groups.text);
  });
});

Routes(
  "GET /groups/{id}/members/graph.user is the SDKs' spelling of the microsoft.graph.user cast",
  async () => {
    await sample(async (emu) => {
      const full = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members/microsoft.graph.user`);
      const short = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members/graph.user`);
      assert.is(short.status, 200, short.text);
      assert.equal(short.json.value, full.json.value);
      assert.ok(short.json.value.every((m: any) => m['@odata.type'] === '#microsoft.graph.user'));
      const groups = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members/graph.group`);
      assert.equal(
        groups.json.value.map((g: any) => g.id).sort(),
        emu.tenant
          .links(ALL_STAFF, 'members')
          .filter((id) => emu.tenant.get(id)?.entity === 'group')
          .sort(),
      );
    });
  },
);

Routes(
  'a malformed object id answers 400 Invalid object identifier; a well-formed unknown one 404',
  async () => {
    await sample(async (emu) => {
      for (const path of [
        '/v1.0/groups/not-a-guid',
        '/v1.0/groups/not-a-guid/members',
        '/v1.0/servicePrincipals/1234',
        '/v1.0/directoryObjects/xyz',
        `/v1.0/groups/${ENGINEERING}/members/not-a-guid/$ref`,
        '/v1.0/directory/deletedItems/nope',
      ]) {
        const method = path.endsWith('$ref') ? 'DELETE' : 'GET';
        const r = await call(emu, method, path);
        const id = path.split('/').find((s) => /^(not-a-guid|1234|xyz|nope)$/.test(s));
        assert.equal(
          graphErrorOf(r),
          { status: 400, code: 'Request_BadRequest', message: `Invalid object identifier '${id}'.` },
          path,
        );
      }
      const unknown = await call(emu, 'GET', '/v1.0/groups/00000000-0000-0000-0000-000000000001');
      assert.is(unknown.status, 404);
      // Users also take a userPrincipalName: a string that is neither finds nobody.
      assert.is((await call(emu, 'GET', '/v1.0/users/nobody')).status, 404);
    });
  },
);

Routes.run();
