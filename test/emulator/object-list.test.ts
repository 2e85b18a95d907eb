import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, graphErrorOf, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const GLOBAL_ADMIN = '866236dd-4a4c-581a-b37e-270fc7a06507';
const EVENTUAL = { ConsistencyLevel: 'eventual' };

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const q = (s: string) => encodeURIComponent(s);

const Members = suite('listObjects (navigation collections)');

Members('GET /groups/{id}/members honours $select, $top and nextLinks like any directory list', async () => {
  await sample(async (emu) => {
    const first = await call(emu, 'GET', `/v1.0/groups/${SALES}/members?$select=displayName&$top=2`);
    assert.is(first.status, 200, first.text);
    assert.is(first.json.value.length, 2);
    for (const m of first.json.value) assert.equal(Object.keys(m).sort(), ['@odata.type', 'displayName']);
    assert.match(first.json['@odata.context'], /\$metadata#directoryObjects\(displayName\)$/);
    const second = await call(emu, 'GET', first.json['@odata.nextLink']);
    assert.is(second.json.value.length, 2);
    assert.is(second.json.value[0].displayName === first.json.value[0].displayName, false);
  });
});

Members(
  'GET /groups/{id}/members?$filter filters; $count=true counts with ConsistencyLevel: eventual',
  async () => {
    await sample(async (emu) => {
      const all = (await call(emu, 'GET', `/v1.0/groups/${SALES}/members?$select=displayName`)).json.value;
      const initial = all[0].displayName[0];
      const expected = all.filter((m: any) => m.displayName.startsWith(initial)).length;
      const url = `/v1.0/groups/${SALES}/members/microsoft.graph.user?$filter=${q(`startswith(displayName,'${initial}')`)}&$count=true`;
      const plain = await call(emu, 'GET', url);
      assert.is(plain.json.value.length, expected);
      assert.is(plain.json['@odata.count'], undefined, 'ignored without ConsistencyLevel');
      const counted = await call(emu, 'GET', url, { headers: EVENTUAL });
      assert.is(counted.json['@odata.count'], expected);
      const unsupported = await call(
        emu,
        'GET',
        `/v1.0/groups/${SALES}/members?$filter=${q("officeLocation eq 'x'")}`,
      );
      assert.is(graphErrorOf(unsupported).code, 'Request_UnsupportedQuery');
    });
  },
);

Members(
  'GET /groups/{id}/members?$search needs ConsistencyLevel: eventual, then searches tokens',
  async () => {
    await sample(async (emu) => {
      const all = (await call(emu, 'GET', `/v1.0/groups/${SALES}/members?$select=displayName`)).json.value;
      const surname = String(all[0].displayName).split(' ')[1]!;
      const url = `/v1.0/groups/${SALES}/members?$search=${q(`"displayName:${surname.slice(0, 3).toLowerCase()}"`)}`;
      const refused = await call(emu, 'GET', url);
      assert.equal(graphErrorOf(refused), {
        status: 400,
        code: 'Request_UnsupportedQuery',
        message:
          "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      });
      const found = await call(emu, 'GET', url, { headers: EVENTUAL });
      assert.is(found.status, 200, found.text);
      assert.ok(found.json.value.some((m: any) => m.displayName === all[0].displayName));
      assert.ok(
        found.json.value.every((m: any) =>
          m.displayName.toLowerCase().includes(surname.slice(0, 3).toLowerCase()),
        ),
      );
    });
  },
);

Members('GET /directoryRoles and their members come on one page: $top does not page them', async () => {
  await sample(async (emu) => {
    const roles = await call(emu, 'GET', '/v1.0/directoryRoles?$top=1');
    assert.is(roles.status, 200, roles.text);
    assert.is(roles.json.value.length, emu.tenant.list('directoryRole').length);
    assert.is(roles.json['@odata.nextLink'], undefined);
    const members = await call(emu, 'GET', `/v1.0/directoryRoles/${GLOBAL_ADMIN}/members?$top=1`);
    assert.is(members.json.value.length, emu.tenant.links(GLOBAL_ADMIN, 'members').length);
    assert.is(members.json['@odata.nextLink'], undefined);
  });
});

Members(
  'GET /groups/{id}/members with $expand answers 400; a skip token of another list is refused',
  async () => {
    await sample(async (emu) => {
      assert.is((await call(emu, 'GET', `/v1.0/groups/${SALES}/members?$expand=memberOf`)).status, 400);
      const page = await call(emu, 'GET', `/v1.0/groups/${SALES}/members?$top=1`);
      const token = new URL(page.json['@odata.nextLink']).searchParams.get('$skiptoken')!;
      const other = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members?$skiptoken=${token}`);
      assert.is(other.status, 400);
    });
  },
);

Members('a skip token older than the token lifetime answers 400 Directory_ExpiredPageToken', async () => {
  await sample(async (emu) => {
    const page = await call(emu, 'GET', `/v1.0/users?$select=id&$top=2`);
    const next = page.json['@odata.nextLink'];
    assert.is((await call(emu, 'GET', next)).status, 200);
    emu.clock.advance(8 * 24 * 3600 * 1000);
    const old = await call(emu, 'GET', next);
    assert.is(old.status, 400);
    assert.is(graphErrorOf(old).code, 'Directory_ExpiredPageToken');
  });
});

Members.run();
