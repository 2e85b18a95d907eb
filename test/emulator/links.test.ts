import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, deltaRound, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';
const PATTI = '53aee924-b6cd-5d8a-b7a7-1ba7404c609f';
const FORMER = '3c0d1e6f-8a2b-4c5d-9e7f-0a1b2c3d4e5f';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const FALCON = '62d809ca-1b9c-533f-8715-aaa13ca7b37d';
const PAYROLL_SP = '638dad0f-f1e0-51da-b33d-c6991125981e';
const GLOBAL_ADMIN = '866236dd-4a4c-581a-b37e-270fc7a06507';
const MISSING = '00000000-0000-4000-8000-000000000000';
const ref = (id: string) => ({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const Add = suite('handleAddRef');

Add(
  'POST /groups/{id}/members/$ref adds a member: 204, then the same again is 400 "already exist"',
  async () => {
    await sample(async (emu) => {
      const r = await call(emu, 'POST', `/v1.0/groups/${ENGINEERING}/members/$ref`, { body: ref(ADELE) });
      assert.is(r.status, 204);
      assert.is(r.text, '');
      assert.ok(emu.tenant.links(ENGINEERING, 'members').includes(ADELE));
      const again = await call(emu, 'POST', `/v1.0/groups/${ENGINEERING}/members/$ref`, { body: ref(ADELE) });
      assert.is(again.status, 400);
      assert.is(again.json.error.code, 'Request_BadRequest');
      assert.match(again.json.error.message, /already exist.*'members'/);
    });
  },
);

Add(
  'POST .../members/$ref accepts users/, groups/ and directoryObjects/ URLs; a missing object is 404',
  async () => {
    await sample(async (emu) => {
      for (const url of [
        `https://graph.microsoft.com/v1.0/users/${ALEX}`,
        `https://graph.microsoft.com/v1.0/groups/${SALES}`,
        `https://graph.microsoft.com/v1.0/servicePrincipals/${PAYROLL_SP}`,
      ])
        assert.is(
          (await call(emu, 'POST', `/v1.0/groups/${FALCON}/members/$ref`, { body: { '@odata.id': url } }))
            .status,
          204,
          url,
        );
      const missing = await call(emu, 'POST', `/v1.0/groups/${FALCON}/members/$ref`, { body: ref(MISSING) });
      assert.is(missing.status, 404);
      assert.is(missing.json.error.code, 'Request_ResourceNotFound');
      const deleted = await call(emu, 'POST', `/v1.0/groups/${FALCON}/members/$ref`, { body: ref(FORMER) });
      assert.is(deleted.status, 404);
      const bad = await call(emu, 'POST', `/v1.0/groups/${FALCON}/members/$ref`, {
        body: { '@odata.id': 'nope' },
      });
      assert.is(bad.status, 400);
      const noGroup = await call(emu, 'POST', `/v1.0/groups/${MISSING}/members/$ref`, { body: ref(ADELE) });
      assert.is(noGroup.status, 404);
    });
  },
);

Add(
  'POST .../members/$ref refuses what the group cannot hold: non-users in Microsoft 365 groups, itself',
  async () => {
    await sample(async (emu) => {
      assert.is(
        (await call(emu, 'POST', `/v1.0/groups/${SALES}/members/$ref`, { body: ref(PAYROLL_SP) })).status,
        400,
      );
      assert.is(
        (await call(emu, 'POST', `/v1.0/groups/${SALES}/members/$ref`, { body: ref(ENGINEERING) })).status,
        400,
      );
      assert.is(
        (await call(emu, 'POST', `/v1.0/groups/${FALCON}/members/$ref`, { body: ref(FALCON) })).status,
        400,
      );
    });
  },
);

Add('POST /groups/{id}/owners/$ref adds a user or service principal owner; a group cannot own', async () => {
  await sample(async (emu) => {
    assert.is(
      (await call(emu, 'POST', `/v1.0/groups/${FALCON}/owners/$ref`, { body: ref(ADELE) })).status,
      204,
    );
    assert.is(
      (await call(emu, 'POST', `/v1.0/groups/${FALCON}/owners/$ref`, { body: ref(PAYROLL_SP) })).status,
      204,
    );
    assert.is(
      (await call(emu, 'POST', `/v1.0/groups/${FALCON}/owners/$ref`, { body: ref(ADELE) })).status,
      400,
    );
    assert.is(
      (await call(emu, 'POST', `/v1.0/groups/${FALCON}/owners/$ref`, { body: ref(SALES) })).status,
      400,
    );
    assert.equal(emu.tenant.links(FALCON, 'owners'), [ADELE, PAYROLL_SP]);
  });
});

Add('POST /directoryRoles/{id}/members/$ref and roleTemplateId={id} add role members', async () => {
  await sample(async (emu) => {
    assert.is(
      (await call(emu, 'POST', `/v1.0/directoryRoles/${GLOBAL_ADMIN}/members/$ref`, { body: ref(ADELE) }))
        .status,
      204,
    );
    const byTemplate = await call(
      emu,
      'POST',
      '/v1.0/directoryRoles/roleTemplateId=62e90394-69f5-4237-9190-012177145e10/members/$ref',
      { body: ref(ALEX) },
    );
    assert.is(byTemplate.status, 204);
    assert.ok(emu.tenant.links(GLOBAL_ADMIN, 'members').includes(ALEX));
    assert.is(
      (await call(emu, 'POST', `/v1.0/directoryRoles/${GLOBAL_ADMIN}/members/$ref`, { body: ref(ADELE) }))
        .status,
      400,
    );
  });
});

Add(
  'POST .../members/$ref needs GroupMember.ReadWrite.All (or wider), role members RoleManagement.ReadWrite.Directory',
  async () => {
    await withEmulator(
      { tenant: await sampleTenant(), roles: ['GroupMember.ReadWrite.All', 'Directory.Read.All'] },
      async (emu) => {
        assert.is(
          (await call(emu, 'POST', `/v1.0/groups/${FALCON}/members/$ref`, { body: ref(ADELE) })).status,
          204,
        );
        assert.is(
          (await call(emu, 'POST', `/v1.0/groups/${FALCON}/owners/$ref`, { body: ref(ADELE) })).status,
          403,
        );
        assert.is(
          (await call(emu, 'POST', `/v1.0/directoryRoles/${GLOBAL_ADMIN}/members/$ref`, { body: ref(ADELE) }))
            .status,
          403,
        );
      },
    );
  },
);

Add('member changes made with $ref reach the next delta round', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/groups/delta?$select=members');
    await call(emu, 'POST', `/v1.0/groups/${ENGINEERING}/members/$ref`, { body: ref(ADELE) });
    await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/members/${LEE}/$ref`);
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, [
      {
        id: ENGINEERING,
        'members@delta': [
          { '@odata.type': '#microsoft.graph.user', id: ADELE },
          { '@odata.type': '#microsoft.graph.user', id: LEE, '@removed': { reason: 'deleted' } },
        ],
      },
    ]);
  });
});

Add.run();

// ---

const Remove = suite('handleRemoveRef');

Remove('DELETE /groups/{id}/members/{id}/$ref removes a member: 204; a non-member is 404', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/members/${LEE}/$ref`);
    assert.is(r.status, 204);
    assert.not.ok(emu.tenant.links(ENGINEERING, 'members').includes(LEE));
    const again = await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/members/${LEE}/$ref`);
    assert.is(again.status, 404);
    assert.is(again.json.error.code, 'Request_ResourceNotFound');
    assert.is((await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/members/${MISSING}/$ref`)).status, 404);
  });
});

Remove('DELETE /groups/{id}/owners/{id}/$ref removes an owner, but not the last one', async () => {
  await sample(async (emu) => {
    assert.is((await call(emu, 'DELETE', `/v1.0/groups/${SALES}/owners/${MEGAN}/$ref`)).status, 204);
    const last = await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/owners/${LEE}/$ref`);
    assert.is(last.status, 400);
    assert.match(last.json.error.message, /at least one owner/);
  });
});

Remove('DELETE /directoryRoles/{id}/members/{id}/$ref removes a role member', async () => {
  await sample(async (emu) => {
    assert.is(
      (await call(emu, 'DELETE', `/v1.0/directoryRoles/${GLOBAL_ADMIN}/members/${PATTI}/$ref`)).status,
      204,
    );
    assert.not.ok(emu.tenant.links(GLOBAL_ADMIN, 'members').includes(PATTI));
  });
});

Remove('DELETE /groups/{id}/members/{id} without /$ref deletes the member object itself', async () => {
  await sample(async (emu) => {
    assert.is((await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/members/${LEE}`)).status, 204);
    assert.is(emu.tenant.get(LEE), undefined);
    assert.ok(emu.tenant.get(LEE, { includeDeleted: true })?.deletedAt);
    assert.is((await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}/members/${ADELE}`)).status, 404);
  });
});

Remove.run();

// ---

const Deleted = suite('handleDeletedItems');

Deleted(
  'GET /directory/deletedItems needs a type cast; GET .../microsoft.graph.user lists deleted users with deletedDateTime',
  async () => {
    await sample(async (emu) => {
      const plain = await call(emu, 'GET', '/v1.0/directory/deletedItems');
      assert.is(plain.status, 400);
      const r = await call(emu, 'GET', '/v1.0/directory/deletedItems/microsoft.graph.user');
      assert.is(r.status, 200);
      assert.ok(r.json['@odata.context']);
      assert.equal(
        r.json.value.map((u: any) => u.id),
        [FORMER],
      );
      assert.is(r.json.value[0].deletedDateTime, '2026-11-01T10:00:00Z');
      assert.is(r.json.value[0].displayName, 'Former Employee');
      const groups = await call(emu, 'GET', '/v1.0/directory/deletedItems/microsoft.graph.group');
      assert.equal(groups.json.value, []);
    });
  },
);

Deleted(
  'GET .../deletedItems/microsoft.graph.user pages with $top and nextLink, honours $select',
  async () => {
    await sample(async (emu) => {
      for (const u of emu.tenant.list('user').slice(0, 5)) emu.tenant.delete(u.id);
      const first = await call(
        emu,
        'GET',
        '/v1.0/directory/deletedItems/microsoft.graph.user?$top=4&$select=id,displayName',
      );
      assert.is(first.json.value.length, 4);
      assert.equal(Object.keys(first.json.value[0]), ['id', 'displayName']);
      const second = await call(emu, 'GET', first.json['@odata.nextLink']);
      assert.is(second.json.value.length, 2);
      assert.is(second.json['@odata.nextLink'], undefined);
    });
  },
);

Deleted(
  'POST /directory/deletedItems/{id}/restore brings a user back: 200 with @odata.type, then delta shows it',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
      const r = await call(emu, 'POST', `/v1.0/directory/deletedItems/${FORMER}/restore`);
      assert.is(r.status, 200, r.text);
      assert.is(r.json['@odata.type'], '#microsoft.graph.user');
      assert.is(r.json.id, FORMER);
      assert.match(r.json['@odata.context'], /#directoryObjects\/\$entity$/);
      assert.is((await call(emu, 'GET', `/v1.0/users/${FORMER}`)).status, 200);
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(second.items, [{ displayName: 'Former Employee', id: FORMER }]);
      assert.is((await call(emu, 'POST', `/v1.0/directory/deletedItems/${FORMER}/restore`)).status, 404);
    });
  },
);

Deleted('restoring a Microsoft 365 group brings back its members', async () => {
  await sample(async (emu) => {
    await call(emu, 'DELETE', `/v1.0/groups/${SALES}`);
    const r = await call(emu, 'POST', `/v1.0/directory/deletedItems/${SALES}/restore`);
    assert.is(r.status, 200);
    assert.is(r.json['@odata.type'], '#microsoft.graph.group');
    assert.is(emu.tenant.links(SALES, 'members').length, 5);
  });
});

Deleted('restoring a user whose userPrincipalName was taken meanwhile answers 400', async () => {
  await sample(async (emu) => {
    await call(emu, 'DELETE', `/v1.0/users/${ADELE}`);
    emu.tenant.createUser({ userPrincipalName: 'AdeleV@contoso.onmicrosoft.com', mailNickname: 'AdeleV' });
    const r = await call(emu, 'POST', `/v1.0/directory/deletedItems/${ADELE}/restore`);
    assert.is(r.status, 400);
    assert.match(r.json.error.message, /userPrincipalName/);
    assert.ok(emu.tenant.get(ADELE, { includeDeleted: true })?.deletedAt, 'still deleted');
  });
});

Deleted(
  'GET and DELETE /directory/deletedItems/{id}: read, then delete for good (delta reports "deleted")',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
      const get = await call(emu, 'GET', `/v1.0/directory/deletedItems/${FORMER}`);
      assert.is(get.status, 200);
      assert.is(get.json['@odata.type'], '#microsoft.graph.user');
      assert.is((await call(emu, 'DELETE', `/v1.0/directory/deletedItems/${FORMER}`)).status, 204);
      assert.is((await call(emu, 'GET', `/v1.0/directory/deletedItems/${FORMER}`)).status, 404);
      assert.is(
        (await call(emu, 'DELETE', `/v1.0/directory/deletedItems/${ADELE}`)).status,
        404,
        'live objects are not deleted items',
      );
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(second.items, [{ id: FORMER, '@removed': { reason: 'deleted' } }]);
    });
  },
);

Deleted.run();
