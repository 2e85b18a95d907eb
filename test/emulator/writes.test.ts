import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { checkMailNickname, checkPassword, checkUserPrincipalName } from '../../src/emulator/validate.js';
import { call, deltaRound, sampleTenant, withEmulator, type HttpAnswer } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const PAYROLL_SP = '638dad0f-f1e0-51da-b33d-c6991125981e';
const DOMAIN = 'contoso.onmicrosoft.com';

function newUser(overrides: Record<string, unknown> = {}) {
  return {
    accountEnabled: true,
    displayName: 'Megan Fox',
    mailNickname: 'MeganF',
    userPrincipalName: `MeganF@${DOMAIN}`,
    passwordProfile: { forceChangePasswordNextSignIn: true, password: 'xWwvJ]6NMw+bWH-d' },
    ...overrides,
  };
}

function newGroup(overrides: Record<string, unknown> = {}) {
  return {
    displayName: 'Library Assist',
    mailEnabled: false,
    mailNickname: 'library',
    securityEnabled: true,
    groupTypes: [],
    ...overrides,
  };
}

/** Asserts Graph's error envelope with a 400 Request_BadRequest and returns the message. */
function badRequest(r: HttpAnswer, code = 'Request_BadRequest'): string {
  assert.is(r.status, 400, r.text);
  assert.is(r.json.error.code, code);
  assert.type(r.json.error.message, 'string');
  assert.ok(r.json.error.innerError['request-id']);
  assert.ok(r.json.error.innerError.date);
  return r.json.error.message as string;
}

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const Create = suite('handleCreate');

Create(
  'POST /users creates a user: 201, default properties, Location; the password is not returned',
  async () => {
    await sample(async (emu) => {
      const r = await call(emu, 'POST', '/v1.0/users', { body: newUser() });
      assert.is(r.status, 201, r.text);
      assert.match(r.json['@odata.context'], /#users\/\$entity$/);
      assert.match(r.json.id, /^[0-9a-f-]{36}$/);
      assert.is(r.json.displayName, 'Megan Fox');
      assert.is(r.json.userPrincipalName, `MeganF@${DOMAIN}`);
      assert.is(r.json.jobTitle, null);
      assert.equal(r.json.businessPhones, []);
      assert.not.ok(r.text.includes('xWwvJ'));
      assert.match(r.headers.location!, new RegExp(`/directoryObjects/${r.json.id}/`));
      const get = await call(
        emu,
        'GET',
        `/v1.0/users/MeganF@${DOMAIN}?$select=accountEnabled,userType,createdDateTime`,
      );
      assert.equal(get.json.accountEnabled, true);
      assert.is(get.json.userType, 'Member');
      assert.match(get.json.createdDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });
  },
);

Create('POST /users without a required property answers 400 naming it', async () => {
  await sample(async (emu) => {
    for (const missing of [
      'accountEnabled',
      'displayName',
      'mailNickname',
      'passwordProfile',
      'userPrincipalName',
    ]) {
      const body: Record<string, unknown> = newUser();
      delete body[missing];
      const message = badRequest(await call(emu, 'POST', '/v1.0/users', { body }));
      assert.ok(message.includes(missing), `${missing}: ${message}`);
    }
  });
});

Create('POST /users refuses read-only and unknown properties and values of the wrong type', async () => {
  await sample(async (emu) => {
    assert.match(
      badRequest(
        await call(emu, 'POST', '/v1.0/users', {
          body: newUser({ createdDateTime: '2020-01-01T00:00:00Z' }),
        }),
      ),
      /read-only/,
    );
    assert.match(
      badRequest(await call(emu, 'POST', '/v1.0/users', { body: newUser({ shoeSize: 44 }) })),
      /shoeSize.*does not exist/,
    );
    assert.match(
      badRequest(await call(emu, 'POST', '/v1.0/users', { body: newUser({ accountEnabled: 'yes' }) })),
      /accountEnabled/,
    );
    assert.is((await call(emu, 'POST', '/v1.0/users', { body: '{"broken"' })).status, 400);
  });
});

Create(
  'POST /users checks userPrincipalName characters, domain and uniqueness (case-insensitive)',
  async () => {
    await sample(async (emu) => {
      badRequest(
        await call(emu, 'POST', '/v1.0/users', { body: newUser({ userPrincipalName: `Mégan@${DOMAIN}` }) }),
      );
      badRequest(
        await call(emu, 'POST', '/v1.0/users', {
          body: newUser({ userPrincipalName: `Megan Fox@${DOMAIN}` }),
        }),
      );
      assert.match(
        badRequest(
          await call(emu, 'POST', '/v1.0/users', {
            body: newUser({ userPrincipalName: 'MeganF@fabrikam.com' }),
          }),
        ),
        /domain/,
      );
      assert.match(
        badRequest(
          await call(emu, 'POST', '/v1.0/users', {
            body: newUser({ userPrincipalName: `adelev@${DOMAIN.toUpperCase()}` }),
          }),
        ),
        /userPrincipalName already exists/,
      );
      // The conflict names the property (microsoftgraph/microsoft-graph-docs#1508).
      const taken = await call(emu, 'POST', '/v1.0/users', {
        body: newUser({ userPrincipalName: `AdeleV@${DOMAIN}` }),
      });
      assert.equal(taken.json.error.details, [{ target: 'userPrincipalName', code: 'ObjectConflict' }]);
      // Another verified domain of the tenant is fine, and the allowed symbols.
      const ok = await call(emu, 'POST', '/v1.0/users', {
        body: newUser({ userPrincipalName: "o'neil.j-x_y!#^~@contoso.com", mailNickname: 'oneil' }),
      });
      assert.is(ok.status, 201, ok.text);
    });
  },
);

Create('POST /users checks mailNickname characters and password complexity', async () => {
  await sample(async (emu) => {
    for (const nick of ['Megan F', 'megan@x', 'me(g)an', 'a;b'])
      badRequest(await call(emu, 'POST', '/v1.0/users', { body: newUser({ mailNickname: nick }) }));
    for (const password of [
      'short1!',
      'alllowercase',
      'NoDigitsOrSymbols',
      'has space 1A!',
      'MeganF-2024!x',
    ]) {
      const body = newUser({ passwordProfile: { password } });
      assert.match(
        badRequest(await call(emu, 'POST', '/v1.0/users', { body })),
        /password complexity/,
        password,
      );
    }
  });
});

Create("a soft-deleted user's userPrincipalName can be taken by a new user", async () => {
  await sample(async (emu) => {
    assert.is((await call(emu, 'DELETE', `/v1.0/users/${ADELE}`)).status, 204);
    const r = await call(emu, 'POST', '/v1.0/users', {
      body: newUser({ userPrincipalName: `AdeleV@${DOMAIN}`, mailNickname: 'AdeleV' }),
    });
    assert.is(r.status, 201, r.text);
  });
});

Create('POST /groups creates a security group and a Microsoft 365 group with their mail', async () => {
  await sample(async (emu) => {
    const sec = await call(emu, 'POST', '/v1.0/groups', { body: newGroup() });
    assert.is(sec.status, 201, sec.text);
    assert.match(sec.json['@odata.context'], /#groups\/\$entity$/);
    assert.equal(sec.json.groupTypes, []);
    assert.is(sec.json.mail, null);
    assert.is(sec.json.securityEnabled, true);
    const m365 = await call(emu, 'POST', '/v1.0/groups', {
      body: newGroup({
        mailNickname: 'golf',
        mailEnabled: true,
        securityEnabled: false,
        groupTypes: ['Unified'],
      }),
    });
    assert.is(m365.status, 201, m365.text);
    assert.is(m365.json.mail, `golf@${DOMAIN}`);
    assert.equal(m365.json.proxyAddresses, [`SMTP:golf@${DOMAIN}`]);
    assert.is(m365.json.visibility, 'Public');
    assert.ok(m365.json.renewedDateTime);
  });
});

Create(
  'POST /groups validates: required properties, mail-enabled security groups, nickname rules',
  async () => {
    await sample(async (emu) => {
      for (const missing of ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled']) {
        const body: Record<string, unknown> = newGroup();
        delete body[missing];
        assert.ok(badRequest(await call(emu, 'POST', '/v1.0/groups', { body })).includes(missing));
      }
      badRequest(await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ mailEnabled: true }) }));
      badRequest(await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ mailNickname: 'a b' }) }));
      badRequest(
        await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ mailNickname: 'x'.repeat(65) }) }),
      );
      badRequest(await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ mail: 'x@contoso.com' }) }));
    });
  },
);

Create(
  'POST /groups: a Microsoft 365 group needs an unused mail nickname; security groups may share one',
  async () => {
    await sample(async (emu) => {
      const unified = { mailEnabled: true, securityEnabled: false, groupTypes: ['Unified'] };
      assert.match(
        badRequest(
          await call(emu, 'POST', '/v1.0/groups', {
            body: newGroup({ ...unified, mailNickname: 'SalesMarketing' }),
          }),
        ),
        /mailNickname/,
      );
      assert.is(
        (await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ mailNickname: 'engineering' }) })).status,
        201,
      );
      assert.is(
        (await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ mailNickname: 'engineering' }) })).status,
        201,
      );
    });
  },
);

Create('POST /groups with members@odata.bind and owners@odata.bind adds up to 20 links', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/groups', {
      body: newGroup({
        'owners@odata.bind': [`https://graph.microsoft.com/v1.0/users/${ADELE}`],
        'members@odata.bind': [
          `https://graph.microsoft.com/v1.0/directoryObjects/${ALEX}`,
          `https://graph.microsoft.com/v1.0/groups/${ENGINEERING}`,
        ],
      }),
    });
    assert.is(r.status, 201, r.text);
    assert.equal(emu.tenant.links(r.json.id, 'members').sort(), [ALEX, ENGINEERING].sort());
    assert.equal(emu.tenant.links(r.json.id, 'owners'), [ADELE]);
    const users = emu.tenant
      .list('user')
      .map((u) => `https://graph.microsoft.com/v1.0/directoryObjects/${u.id}`);
    const tooMany = [...users, ...users].slice(0, 21);
    badRequest(
      await call(emu, 'POST', '/v1.0/groups', { body: newGroup({ 'members@odata.bind': tooMany }) }),
    );
    const missing = await call(emu, 'POST', '/v1.0/groups', {
      body: newGroup({
        'members@odata.bind': [
          'https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-4000-8000-000000000000',
        ],
      }),
    });
    assert.is(missing.status, 404);
  });
});

Create('POST /groups: a Microsoft 365 group accepts only users as members', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/groups', {
      body: newGroup({
        mailNickname: 'm365',
        mailEnabled: true,
        securityEnabled: false,
        groupTypes: ['Unified'],
        'members@odata.bind': [`https://graph.microsoft.com/v1.0/directoryObjects/${PAYROLL_SP}`],
      }),
    });
    badRequest(r);
    assert.is(emu.tenant.list('group').length, 7, 'nothing created');
  });
});

Create('POST /devices, a collection the emulator does not create in, answers 405', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/devices', { body: { displayName: 'x' } });
    assert.is(r.status, 405);
  });
});

Create.run();

// ---

const Update = suite('handleUpdate');

Update('PATCH /users/{id} answers 204 and changes only what was sent; delta sees the change', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/users/delta?$select=jobTitle,city');
    const r = await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, {
      body: { jobTitle: 'Director', city: null },
    });
    assert.is(r.status, 204);
    assert.is(r.text, '');
    const u = emu.tenant.get(ADELE)!;
    assert.is(u.data.jobTitle, 'Director');
    assert.not.ok('city' in u.data);
    assert.is(u.data.department, 'Retail');
    const second = await deltaRound(emu, first.deltaLink, { Prefer: 'return=minimal' });
    assert.equal(second.items, [{ jobTitle: 'Director', city: null, id: ADELE }]);
  });
});

Update('PATCH /users/{userPrincipalName} works by name; a missing user answers 404', async () => {
  await sample(async (emu) => {
    assert.is(
      (await call(emu, 'PATCH', `/v1.0/users/AdeleV@${DOMAIN}`, { body: { officeLocation: '1/1' } })).status,
      204,
    );
    assert.is(emu.tenant.get(ADELE)!.data.officeLocation, '1/1');
    const r = await call(emu, 'PATCH', '/v1.0/users/00000000-0000-4000-8000-000000000000', {
      body: { city: 'x' },
    });
    assert.is(r.status, 404);
    assert.is(r.json.error.code, 'Request_ResourceNotFound');
  });
});

Update(
  'PATCH /users/{id} refuses clearing displayName or mail, read-only properties, a taken userPrincipalName',
  async () => {
    await sample(async (emu) => {
      badRequest(await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { body: { displayName: null } }));
      badRequest(await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { body: { mail: null } }));
      badRequest(await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { body: { id: ALEX } }));
      badRequest(await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { body: { proxyAddresses: [] } }));
      assert.match(
        badRequest(
          await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, {
            body: { userPrincipalName: `AlexW@${DOMAIN}` },
          }),
        ),
        /already exists/,
      );
      assert.is(emu.tenant.get(ADELE)!.data.userPrincipalName, `AdeleV@${DOMAIN}`);
    });
  },
);

Update('PATCH /users/{id} with passwordProfile checks complexity and never stores the password', async () => {
  await sample(async (emu) => {
    badRequest(
      await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { body: { passwordProfile: { password: 'weak' } } }),
    );
    const r = await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, {
      body: { passwordProfile: { forceChangePasswordNextSignIn: true, password: 'Str0ng&Secret!' } },
    });
    assert.is(r.status, 204);
    assert.equal(emu.tenant.get(ADELE)!.data.passwordProfile, { forceChangePasswordNextSignIn: true });
  });
});

Update('PATCH /groups/{id} with members@odata.bind adds all or none', async () => {
  await sample(async (emu) => {
    const ok = await call(emu, 'PATCH', `/v1.0/groups/${ENGINEERING}`, {
      body: { 'members@odata.bind': [`https://graph.microsoft.com/v1.0/directoryObjects/${ADELE}`] },
    });
    assert.is(ok.status, 204);
    const before = emu.tenant.links(ENGINEERING, 'members');
    const r = await call(emu, 'PATCH', `/v1.0/groups/${ENGINEERING}`, {
      body: {
        description: 'changed',
        'members@odata.bind': [
          `https://graph.microsoft.com/v1.0/directoryObjects/${ALEX}`,
          `https://graph.microsoft.com/v1.0/directoryObjects/${ADELE}`,
        ],
      },
    });
    assert.match(badRequest(r), /already exist/);
    assert.equal(emu.tenant.links(ENGINEERING, 'members'), before, 'nobody added');
    assert.not.ok(emu.tenant.get(ENGINEERING)!.data.description === 'changed', 'nothing changed');
  });
});

Update('PATCH /groups/{id} and /servicePrincipals/{id} answer 204', async () => {
  await sample(async (emu) => {
    assert.is(
      (await call(emu, 'PATCH', `/v1.0/groups/${SALES}`, { body: { description: 'Sales & Marketing' } }))
        .status,
      204,
    );
    assert.is(
      (await call(emu, 'PATCH', `/v1.0/servicePrincipals/${PAYROLL_SP}`, { body: { notes: 'x' } })).status,
      204,
    );
    badRequest(await call(emu, 'PATCH', `/v1.0/servicePrincipals/${PAYROLL_SP}`, { body: { appId: 'x' } }));
  });
});

Update.run();

// ---

const Delete = suite('handleDelete');

Delete('DELETE /users/{id} answers 204 and moves the user to deleted items', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'DELETE', `/v1.0/users/${ADELE}`);
    assert.is(r.status, 204);
    assert.is((await call(emu, 'GET', `/v1.0/users/${ADELE}`)).status, 404);
    const deleted = await call(emu, 'GET', '/v1.0/directory/deletedItems/microsoft.graph.user');
    assert.ok(deleted.json.value.some((u: any) => u.id === ADELE && typeof u.deletedDateTime === 'string'));
    assert.is((await call(emu, 'DELETE', `/v1.0/users/${ADELE}`)).status, 404);
  });
});

Delete(
  'DELETE /groups/{id}: Microsoft 365 and security groups go to deleted items and can be restored',
  async () => {
    await sample(async (emu) => {
      // group-delete.md (current): "both Microsoft 365 and security groups are moved to a temporary container".
      assert.is((await call(emu, 'DELETE', `/v1.0/groups/${SALES}`)).status, 204);
      assert.is((await call(emu, 'DELETE', `/v1.0/groups/${ENGINEERING}`)).status, 204);
      const deleted = await call(emu, 'GET', '/v1.0/directory/deletedItems/microsoft.graph.group');
      assert.equal(deleted.json.value.map((g: any) => g.id).sort(), [SALES, ENGINEERING].sort());
      assert.is((await call(emu, 'GET', `/v1.0/groups/${ENGINEERING}`)).status, 404);
      const restored = await call(emu, 'POST', `/v1.0/directory/deletedItems/${ENGINEERING}/restore`);
      assert.is(restored.status, 200);
      assert.is(restored.json['@odata.type'], '#microsoft.graph.group');
      assert.is(
        (
          await call(emu, 'GET', `/v1.0/groups/${ENGINEERING}/members/$count`, {
            headers: { ConsistencyLevel: 'eventual' },
          })
        ).text,
        String(emu.tenant.links(ENGINEERING, 'members').length),
      );
      assert.ok(emu.tenant.links(ENGINEERING, 'members').length > 0, 'members come back with the group');
    });
  },
);

Delete(
  'DELETE /groups/{id} of a distribution group (mail-enabled, not security) deletes it for good',
  async () => {
    await sample(async (emu) => {
      const dl = emu.tenant.createGroup({
        mailEnabled: true,
        securityEnabled: false,
        mail: 'dl@contoso.com',
      });
      assert.is((await call(emu, 'DELETE', `/v1.0/groups/${dl.id}`)).status, 204);
      assert.is(emu.tenant.get(dl.id, { includeDeleted: true }), undefined);
    });
  },
);

Delete('DELETE without the needed permission answers 403 Authorization_RequestDenied', async () => {
  await withEmulator(
    { tenant: await sampleTenant(), roles: ['User.Read.All', 'Directory.ReadWrite.All'] },
    async (emu) => {
      const r = await call(emu, 'DELETE', `/v1.0/users/${ADELE}`);
      assert.is(r.status, 403);
      assert.is(r.json.error.code, 'Authorization_RequestDenied');
      assert.is((await call(emu, 'PATCH', `/v1.0/users/${ADELE}`, { body: { city: 'x' } })).status, 204);
    },
  );
});

Delete.run();

// ---

const Validate = suite('validate');

Validate(
  'checkUserPrincipalName(upn, domains) accepts the allowed characters on a tenant domain only',
  () => {
    const domains = ['contoso.com'];
    assert.is(checkUserPrincipalName("a.b-c_d'e!f#g^h~i@contoso.com", domains), undefined);
    assert.is(checkUserPrincipalName('guest_x.com#EXT#@CONTOSO.com', domains), undefined);
    for (const bad of [
      'José@contoso.com',
      'a b@contoso.com',
      '@contoso.com',
      '.a@contoso.com',
      'a.@contoso.com',
      'noat',
    ])
      assert.ok(checkUserPrincipalName(bad, domains), bad);
    assert.match(checkUserPrincipalName('a@fabrikam.com', domains)!, /domain/);
  },
);

Validate(
  'checkMailNickname(entity, nick) allows printable ASCII except @ ( ) \\ [ ] " ; : < > , and space, up to 64',
  () => {
    assert.is(checkMailNickname('group', 'Sales-2024_team.x'), undefined);
    for (const bad of [
      'a b',
      'a@b',
      'a(b',
      'a)b',
      'a\\b',
      'a[b',
      'a]b',
      'a"b',
      'a;b',
      'a:b',
      'a<b',
      'a>b',
      'a,b',
      'ü',
      'x'.repeat(65),
    ])
      assert.ok(checkMailNickname('group', bad), bad);
  },
);

Validate(
  'checkPassword(password, alias) wants 8-256 characters of three kinds, no spaces, not the alias',
  () => {
    assert.is(checkPassword('xWwvJ]6NMw+bWH-d', 'adele'), undefined);
    assert.is(checkPassword('abcdEFGH1', 'adele'), undefined);
    for (const bad of ['aB1!', 'abcdefgh', 'abcd1234', 'Abc 1234!', 'x'.repeat(257), 'Adele-2024!'])
      assert.ok(checkPassword(bad, 'adele'), bad);
    assert.ok(checkPassword(undefined, 'adele'));
  },
);

Validate.run();
