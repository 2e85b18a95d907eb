import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const FORMER = '3c0d1e6f-8a2b-4c5d-9e7f-0a1b2c3d4e5f';
const HENRIETTA_UPN = 'henrietta.mueller_fabrikam.com#EXT#@contoso.onmicrosoft.com';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const PAYROLL = 'bc5bf79b-9477-5aa4-938d-b3904da5359d';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
const USER_ADMIN = '6f9cf744-8158-51ba-bce4-5f1e3acd79ad';
const EVENTUAL = { ConsistencyLevel: 'eventual' };

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

/** Every item of a list, following nextLinks; checks that a page never holds more than `top`. */
async function listAll(emu: Emulator, url: string, top: number, headers: Record<string, string> = {}) {
  const items: any[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    const r = await call(emu, 'GET', next, { headers });
    assert.is(r.status, 200, r.text);
    assert.ok(r.json.value.length <= top);
    items.push(...r.json.value);
    next = r.json['@odata.nextLink'];
    if (next) assert.match(next, /\$skiptoken=/);
    pages++;
  }
  return { items, pages };
}

const List = suite('handleList');

List('GET /users returns live users with the default properties, unset ones as null', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', '/v1.0/users');
    assert.is(r.status, 200);
    assert.match(r.headers['content-type']!, /^application\/json/);
    assert.match(r.json['@odata.context'], /\/v1\.0\/\$metadata#users$/);
    assert.is(r.json['@odata.nextLink'], undefined);
    assert.is(r.json.value.length, 14);
    const adele = r.json.value.find((u: any) => u.id === ADELE);
    assert.equal(Object.keys(adele).sort(), [
      'businessPhones',
      'displayName',
      'givenName',
      'id',
      'jobTitle',
      'mail',
      'mobilePhone',
      'officeLocation',
      'preferredLanguage',
      'surname',
      'userPrincipalName',
    ]);
    assert.is(adele.mobilePhone, null);
    assert.equal(adele.businessPhones, []);
    assert.not.ok(r.json.value.some((u: any) => u.id === FORMER));
  });
});

List(
  'GET /users?$select=a,b returns just those properties (no id unless selected), named in @odata.context',
  async () => {
    await sample(async (emu) => {
      const r = await call(emu, 'GET', '/v1.0/users?$select=displayName,department');
      assert.match(r.json['@odata.context'], /#users\(displayName,department\)$/);
      for (const u of r.json.value) assert.equal(Object.keys(u), ['displayName', 'department']);
      const withId = await call(emu, 'GET', '/v1.0/users?$select=id,displayName');
      assert.equal(Object.keys(withId.json.value[0]), ['id', 'displayName']);
    });
  },
);

List('GET /users?$select=unknown answers 400, a property stored outside the directory 501', async () => {
  await sample(async (emu) => {
    const bad = await call(emu, 'GET', '/v1.0/users?$select=shoeSize');
    assert.is(bad.status, 400);
    assert.is(bad.json.error.code, 'Request_BadRequest');
    const skills = await call(emu, 'GET', '/v1.0/users?$select=skills');
    assert.is(skills.status, 501);
    assert.is(skills.json.error.code, 'NotImplemented');
  });
});

List('GET /users?$top=N pages with nextLink; $top is between 1 and 999', async () => {
  await withEmulator({ generate: { users: 300, groups: 1 } }, async (emu) => {
    const def = await listAll(emu, '/v1.0/users?$select=id', 100);
    assert.is(def.pages, 3, '100 per page by default');
    assert.is(def.items.length, 300);
    assert.is(new Set(def.items.map((u) => u.id)).size, 300);
    const small = await listAll(emu, '/v1.0/users?$top=7&$select=id', 7);
    assert.is(small.items.length, 300);
    assert.is(small.pages, 43);
    const big = await call(emu, 'GET', '/v1.0/users?$top=999&$select=id');
    assert.is(big.json.value.length, 300);
    for (const top of ['0', '1000', 'x'])
      assert.is((await call(emu, 'GET', `/v1.0/users?$top=${top}`)).status, 400, top);
  });
});

List('GET /users?$filter=... supports eq, startswith and in on properties Graph indexes', async () => {
  await sample(async (emu) => {
    const ids = async (filter: string) => {
      const r = await call(emu, 'GET', `/v1.0/users?$select=id&$filter=${encodeURIComponent(filter)}`);
      assert.is(r.status, 200, `${filter}: ${r.text}`);
      return r.json.value.map((u: any) => u.id);
    };
    assert.equal(await ids("displayName eq 'adele vance'"), [ADELE]);
    assert.equal(await ids(`id eq '${ADELE}'`), [ADELE]);
    assert.is((await ids("startswith(displayName,'A')")).length, 2);
    assert.is((await ids("department in ('Retail','marketing')")).length, 3);
    assert.is((await ids("userType eq 'Guest'")).length, 2);
    assert.is((await ids("startswith(mail,'a') and accountEnabled eq true")).length, 2);
  });
});

List(
  'GET /users?$filter on a property Graph does not index answers 400 Request_UnsupportedQuery',
  async () => {
    await sample(async (emu) => {
      const r = await call(
        emu,
        'GET',
        `/v1.0/users?$filter=${encodeURIComponent("officeLocation eq '10/1100'")}`,
      );
      assert.is(r.status, 400);
      assert.is(r.json.error.code, 'Request_UnsupportedQuery');
      assert.match(r.json.error.message, /officeLocation/);
      const syntax = await call(emu, 'GET', `/v1.0/users?$filter=${encodeURIComponent('displayName eq')}`);
      assert.is(syntax.status, 400);
    });
  },
);

List(
  'advanced queries (ne, not, endswith, other properties) need ConsistencyLevel: eventual and $count=true',
  async () => {
    await sample(async (emu) => {
      const q = `/v1.0/users?$filter=${encodeURIComponent("endswith(mail,'@contoso.onmicrosoft.com')")}&$count=true&$select=id`;
      const plain = await call(emu, 'GET', q.replace('&$count=true', ''));
      assert.is(plain.status, 400);
      assert.is(plain.json.error.code, 'Request_UnsupportedQuery');
      const r = await call(emu, 'GET', q, { headers: EVENTUAL });
      assert.is(r.status, 200, r.text);
      assert.is(r.json['@odata.count'], 12);
      assert.is(r.json.value.length, 12);
      const other = await call(
        emu,
        'GET',
        `/v1.0/users?$filter=${encodeURIComponent("officeLocation eq '10/1100'")}`,
        {
          headers: EVENTUAL,
        },
      );
      assert.equal(other.json.value.length, 1);
    });
  },
);

List('an advanced query keeps its mode on the nextLink', async () => {
  await withEmulator({ generate: { users: 60, groups: 1 } }, async (emu) => {
    const q = `/v1.0/users?$filter=${encodeURIComponent("userType ne 'Guest'")}&$count=true&$top=10&$select=id`;
    const { items } = await listAll(emu, q, 10, EVENTUAL);
    assert.ok(items.length > 40);
  });
});

List(
  'GET /users?$count=true adds @odata.count with ConsistencyLevel: eventual; without, it is ignored',
  async () => {
    await sample(async (emu) => {
      // aad-advanced-queries.md: without the header "the request ... silently ignores the $count query parameter".
      const plain = await call(emu, 'GET', '/v1.0/users?$count=true');
      assert.is(plain.status, 200);
      assert.is(plain.json['@odata.count'], undefined);
      const r = await call(emu, 'GET', '/v1.0/users?$count=true&$top=2', { headers: EVENTUAL });
      assert.is(r.json['@odata.count'], 14);
      assert.is(r.json.value.length, 2);
      const next = await call(emu, 'GET', r.json['@odata.nextLink'], { headers: EVENTUAL });
      assert.is(next.json['@odata.count'], undefined, 'only on the first page');
    });
  },
);

List('GET /users?$orderby=displayName sorts; with $filter it is an advanced query', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', '/v1.0/users?$orderby=displayName&$select=displayName');
    assert.is(r.status, 200, r.text);
    const names = r.json.value.map((u: any) => u.displayName.toLowerCase());
    assert.equal(names, [...names].sort());
    const desc = await listAll(emu, '/v1.0/users?$orderby=displayName desc&$select=displayName&$top=4', 4);
    const d = desc.items.map((u) => u.displayName.toLowerCase());
    assert.equal(d, [...names].reverse());
    const filtered = `/v1.0/users?$filter=${encodeURIComponent("startswith(displayName,'a')")}&$orderby=displayName`;
    assert.is((await call(emu, 'GET', filtered)).status, 400);
    const ok = await call(emu, 'GET', `${filtered}&$count=true&$top=1`, { headers: EVENTUAL });
    assert.is(ok.status, 200);
    assert.is(ok.json['@odata.count'], 2);
    assert.is(ok.json.value[0].displayName, 'Adele Vance');
    assert.is((await call(emu, 'GET', '/v1.0/users?$orderby=jobTitle')).status, 400);
  });
});

List('GET /users?$search needs ConsistencyLevel: eventual', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', '/v1.0/users?$search="displayName:wa"');
    assert.is(r.status, 400);
  });
});

List(
  'GET /groups, /servicePrincipals, /directoryRoles, /contacts and /devices list their objects',
  async () => {
    await withEmulator(
      {
        tenant: {
          ...(await sampleTenant()),
          contacts: [{ id: '00000000-0000-4000-8000-0000000000c1', displayName: 'Ext' }],
          devices: [{ id: '00000000-0000-4000-8000-0000000000d1', displayName: 'Laptop' }],
        },
      },
      async (emu) => {
        for (const [path, n] of [
          ['groups', 7],
          ['servicePrincipals', 3],
          ['directoryRoles', 2],
          ['contacts', 1],
          ['devices', 1],
        ] as const) {
          const r = await call(emu, 'GET', `/v1.0/${path}`);
          assert.is(r.status, 200, path);
          assert.is(r.json.value.length, n, path);
          assert.match(r.json['@odata.context'], new RegExp(`#${path}$`));
        }
        const g = (
          await call(emu, 'GET', `/v1.0/groups?$filter=${encodeURIComponent('mailEnabled eq true')}`)
        ).json;
        assert.equal(
          g.value.map((x: any) => x.id),
          [SALES],
        );
      },
    );
  },
);

List(
  'GET /users/$count answers the number as text with ConsistencyLevel: eventual, 400 without',
  async () => {
    await sample(async (emu) => {
      assert.is((await call(emu, 'GET', '/v1.0/users/$count')).status, 400);
      const r = await call(emu, 'GET', '/v1.0/users/$count', { headers: EVENTUAL });
      assert.is(r.status, 200);
      assert.match(r.headers['content-type']!, /^text\/plain/);
      assert.is(r.text, '14');
      const f = await call(
        emu,
        'GET',
        `/v1.0/users/$count?$filter=${encodeURIComponent("userType eq 'Guest'")}`,
        {
          headers: EVENTUAL,
        },
      );
      assert.is(f.text, '2');
    });
  },
);

List.run();

// ---

const Get = suite('handleGet');

Get('GET /users/{id} returns the default properties with @odata.context .../$entity', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', `/v1.0/users/${ADELE}`);
    assert.is(r.status, 200);
    assert.match(r.json['@odata.context'], /#users\/\$entity$/);
    assert.is(r.json.id, ADELE);
    assert.is(r.json.displayName, 'Adele Vance');
    assert.is(r.json.mobilePhone, null);
    const upper = await call(emu, 'GET', `/v1.0/users/${ADELE.toUpperCase()}`);
    assert.is(upper.json.id, ADELE);
  });
});

Get('GET /users/{userPrincipalName} finds a user by name, guests with #EXT# too', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', '/v1.0/users/adelev@CONTOSO.onmicrosoft.com');
    assert.is(r.json.id, ADELE);
    const guest = await call(emu, 'GET', `/v1.0/users/${encodeURIComponent(HENRIETTA_UPN)}`);
    assert.is(guest.status, 200);
    assert.is(guest.json.userPrincipalName, HENRIETTA_UPN);
  });
});

Get(
  'GET /users/{id}?$select=... returns only those, including properties stored outside the directory',
  async () => {
    await sample(async (emu) => {
      emu.tenant.update(ADELE, { aboutMe: 'Retail at heart' });
      const r = await call(emu, 'GET', `/v1.0/users/${ADELE}?$select=displayName,aboutMe,postalCode`);
      assert.match(r.json['@odata.context'], /#users\(displayName,aboutMe,postalCode\)\/\$entity$/);
      assert.equal(
        Object.keys(r.json).filter((k) => !k.startsWith('@')),
        ['displayName', 'aboutMe', 'postalCode'],
      );
      assert.is(r.json.aboutMe, 'Retail at heart');
      assert.is(r.json.postalCode, null);
      assert.is((await call(emu, 'GET', `/v1.0/users/${ADELE}?$select=nope`)).status, 400);
    });
  },
);

Get(
  "GET of a missing or soft-deleted object answers 404 Request_ResourceNotFound in Graph's envelope",
  async () => {
    await sample(async (emu) => {
      for (const path of [
        `/v1.0/users/${FORMER}`,
        '/v1.0/users/00000000-0000-4000-8000-000000000000',
        '/v1.0/users/nobody@contoso.onmicrosoft.com',
        `/v1.0/groups/${ADELE}`,
      ]) {
        const r = await call(emu, 'GET', path);
        assert.is(r.status, 404, path);
        assert.is(r.json.error.code, 'Request_ResourceNotFound');
        assert.equal(Object.keys(r.json.error).sort(), ['code', 'innerError', 'message']);
        assert.equal(Object.keys(r.json.error.innerError).sort(), [
          'client-request-id',
          'date',
          'request-id',
        ]);
        assert.is(r.json.error.innerError['request-id'], r.headers['request-id']);
        assert.match(r.json.error.innerError.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      }
    });
  },
);

Get(
  'GET /groups/{id}, /servicePrincipals/{id}, /directoryRoles/{id} and /directoryObjects/{id}',
  async () => {
    await sample(async (emu) => {
      const g = await call(emu, 'GET', `/v1.0/groups/${SALES}`);
      assert.is(g.json.displayName, 'Sales and Marketing');
      assert.equal(g.json.groupTypes, ['Unified']);
      const role = await call(emu, 'GET', `/v1.0/directoryRoles/${USER_ADMIN}`);
      assert.is(role.json.roleTemplateId, 'fe930be7-5e62-47db-91af-98c3a49a38b1');
      const o = await call(emu, 'GET', `/v1.0/directoryObjects/${SALES}`);
      assert.is(o.json['@odata.type'], '#microsoft.graph.group');
      assert.match(o.json['@odata.context'], /#directoryObjects\/\$entity$/);
    });
  },
);

Get.run();

// ---

const Nav = suite('handleNavigationList');

Nav('GET /groups/{id}/members lists members as directoryObjects, each with @odata.type', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members`);
    assert.is(r.status, 200);
    assert.match(r.json['@odata.context'], /#directoryObjects$/);
    assert.equal(
      r.json.value.map((m: any) => m['@odata.type']),
      ['#microsoft.graph.group', '#microsoft.graph.group', '#microsoft.graph.user', '#microsoft.graph.user'],
    );
    const payroll = await call(emu, 'GET', `/v1.0/groups/${PAYROLL}/owners`);
    assert.is(payroll.json.value[0]['@odata.type'], '#microsoft.graph.servicePrincipal');
    assert.is(payroll.json.value[0].appId, '3278f132-af7e-58d2-903d-f9a5ddc1422b');
  });
});

Nav('GET /groups/{id}/members?$top=N pages with nextLink; soft-deleted members are left out', async () => {
  await sample(async (emu) => {
    emu.tenant.delete(ADELE);
    const { items, pages } = await listAll(emu, `/v1.0/groups/${SALES}/members?$top=2`, 2);
    assert.is(items.length, 4);
    assert.is(pages, 2);
    assert.not.ok(items.some((m) => m.id === ADELE));
  });
});

Nav(
  'GET /directoryRoles/{id}/members and /directoryRoles/roleTemplateId={id}/members list role members',
  async () => {
    await sample(async (emu) => {
      const byId = await call(emu, 'GET', `/v1.0/directoryRoles/${USER_ADMIN}/members`);
      const byTemplate = await call(
        emu,
        'GET',
        '/v1.0/directoryRoles/roleTemplateId=fe930be7-5e62-47db-91af-98c3a49a38b1/members',
      );
      assert.is(byId.json.value.length, 2);
      assert.equal(byTemplate.json.value, byId.json.value);
      const missing = await call(
        emu,
        'GET',
        '/v1.0/directoryRoles/roleTemplateId=00000000-0000-4000-8000-000000000000/members',
      );
      assert.is(missing.status, 404);
    });
  },
);

Nav(
  'GET /groups/{id}/members/$count (ConsistencyLevel: eventual) and /members/microsoft.graph.user[/$count] by type',
  async () => {
    await sample(async (emu) => {
      assert.is((await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members/$count`)).status, 400);
      const all = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members/$count`, { headers: EVENTUAL });
      assert.is(all.text, '4');
      const usersOnly = await call(
        emu,
        'GET',
        `/v1.0/groups/${ALL_STAFF}/members/microsoft.graph.user/$count`,
        {
          headers: EVENTUAL,
        },
      );
      assert.is(usersOnly.text, '2');
      const list = await call(emu, 'GET', `/v1.0/groups/${ALL_STAFF}/members/microsoft.graph.group?$top=1`);
      assert.is(list.status, 200);
      assert.match(list.json['@odata.context'], /#groups$/);
      assert.equal(
        list.json.value.map((m: any) => m['@odata.type']),
        ['#microsoft.graph.group'],
      );
      const next = await call(emu, 'GET', list.json['@odata.nextLink']);
      assert.is(next.json.value.length, 1);
      assert.is(next.json['@odata.nextLink'], undefined);
    });
  },
);

Nav('GET /groups/{missing}/members answers 404; an unknown navigation 400', async () => {
  await sample(async (emu) => {
    assert.is(
      (await call(emu, 'GET', '/v1.0/groups/00000000-0000-4000-8000-000000000000/members')).status,
      404,
    );
    assert.is((await call(emu, 'GET', `/v1.0/groups/${SALES}/sponsors`)).status, 400);
  });
});

Nav.run();
