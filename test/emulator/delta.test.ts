import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import {
  call,
  deltaRound,
  graphErrorOf,
  sampleTenant,
  SMALL_LIMITS,
  withEmulator,
} from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const DIEGO = '18a81770-9b9b-5140-aba6-2d659dc26e32';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const PATTI = '53aee924-b6cd-5d8a-b7a7-1ba7404c609f';
const FORMER = '3c0d1e6f-8a2b-4c5d-9e7f-0a1b2c3d4e5f';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const LEADERSHIP = '970a8bdb-6d36-5ae5-a7e1-c55755c7c50a';
const PAYROLL = 'bc5bf79b-9477-5aa4-938d-b3904da5359d';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
const FALCON = '62d809ca-1b9c-533f-8715-aaa13ca7b37d';
const PAYROLL_SP = '638dad0f-f1e0-51da-b33d-c6991125981e';
const GLOBAL_ADMIN = '866236dd-4a4c-581a-b37e-270fc7a06507';
const USER_ADMIN = '6f9cf744-8158-51ba-bce4-5f1e3acd79ad';
const LIVE_USERS = 14;
const DAY = 24 * 3600 * 1000;

const USER_DEFAULTS = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

/** One delta page, checked for Graph's envelope: exactly one of nextLink and deltaLink. */
async function page(emu: Emulator, url: string, headers: Record<string, string> = {}) {
  const r = await call(emu, 'GET', url, { headers });
  assert.is(r.status, 200, r.text);
  const body = r.json;
  const next = body['@odata.nextLink'] as string | undefined;
  const delta = body['@odata.deltaLink'] as string | undefined;
  assert.ok(Boolean(next) !== Boolean(delta), 'exactly one state link per page');
  if (next) assert.match(next, /\/delta\?\$skiptoken=/);
  if (delta) assert.match(delta, /\/delta\?\$deltatoken=/);
  assert.ok(Array.isArray(body.value));
  return { body, next, delta, headers: r.headers };
}

/** Members (or owners) per group across a round's pages, with `@removed` ones apart. */
function linksOf(items: any[], nav = 'members') {
  const added = new Map<string, string[]>();
  const removed = new Map<string, string[]>();
  for (const item of items)
    for (const link of item[`${nav}@delta`] ?? []) {
      const map = link['@removed'] ? removed : added;
      map.set(item.id, [...(map.get(item.id) ?? []), link.id]);
    }
  return { added, removed };
}

async function sample(fn: (emu: Emulator) => Promise<void>, limits = SMALL_LIMITS) {
  await withEmulator({ tenant: await sampleTenant(), deltaLimits: limits }, fn);
}

const Users = suite('handleDelta(users)');

Users('GET /users/delta pages with nextLink until a deltaLink and returns every live user once', async () => {
  await sample(async (emu) => {
    const ids: string[] = [];
    let url = '/v1.0/users/delta';
    let pages = 0;
    for (;;) {
      const p = await page(emu, url);
      pages++;
      assert.ok(p.body.value.length <= SMALL_LIMITS.objects);
      ids.push(...p.body.value.map((u: any) => u.id));
      if (p.delta) break;
      url = p.next!;
    }
    assert.is(pages, 3);
    assert.is(ids.length, LIVE_USERS);
    assert.is(new Set(ids).size, LIVE_USERS);
    assert.not.ok(ids.includes(FORMER), 'objects deleted before the first round are not reported');
  });
});

Users('GET /users/delta?$top=2 ignores $top: the server picks the page size', async () => {
  await sample(async (emu) => {
    const p = await page(emu, '/v1.0/users/delta?$top=2');
    assert.is(p.body.value.length, SMALL_LIMITS.objects);
  });
});

Users(
  'GET /users/delta without $select returns the default properties, omitting those never set',
  async () => {
    await sample(async (emu) => {
      const { items } = await deltaRound(emu, '/v1.0/users/delta');
      const adele = items.find((u) => u.id === ADELE);
      for (const item of items)
        for (const key of Object.keys(item)) assert.ok(USER_DEFAULTS.includes(key), key);
      assert.is(adele.displayName, 'Adele Vance');
      // The directory keeps no empty collections: Adele's empty businessPhones is "never set".
      assert.not.ok('businessPhones' in adele, 'empty collection → omitted');
      assert.not.ok('mobilePhone' in adele, 'never set → omitted, not null');
      assert.not.ok('department' in adele);
    });
  },
);

Users(
  'GET /users/delta?$select=... returns the selected properties and id; the first page names them in @odata.context',
  async () => {
    await sample(async (emu) => {
      const first = await page(emu, '/v1.0/users/delta?$select=displayName,jobTitle,department');
      assert.match(
        first.body['@odata.context'],
        /\/v1\.0\/\$metadata#users\(displayName,jobTitle,department\)$/,
      );
      for (const u of first.body.value)
        for (const key of Object.keys(u))
          assert.ok(['displayName', 'jobTitle', 'department', 'id'].includes(key));
      const second = await page(emu, first.next!);
      assert.match(second.body['@odata.context'], /#users$/);
    });
  },
);

Users('GET /users/delta?$select=... with an extension property tracks and returns it', async () => {
  await sample(async (emu) => {
    const ext = 'extension_b7d8e648520f41d3b9c0fdeb91768a0a_employeeNumber';
    const first = await deltaRound(emu, `/v1.0/users/delta?$select=${ext}`);
    assert.is(first.items.find((u) => u.id === ADELE)[ext], 'E1001');
    emu.tenant.update(ADELE, { [ext]: 'E9999' });
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, [{ [ext]: 'E9999', id: ADELE }]);
  });
});

Users(
  'state tokens carry the query: query options on a nextLink or deltaLink are refused, edited tokens too',
  async () => {
    await sample(async (emu) => {
      const first = await page(emu, '/v1.0/users/delta?$select=displayName');
      const r = await call(emu, 'GET', `${first.next}&$select=jobTitle`);
      assert.is(r.status, 400);
      assert.is(r.json.error.code, 'Request_UnsupportedQuery');
      // The nextLink alone keeps the first request's selection.
      const second = await page(emu, first.next!);
      for (const u of second.body.value) assert.equal(Object.keys(u).sort(), ['displayName', 'id']);
      const token = new URL(first.next!).searchParams.get('$skiptoken')!;
      const edited = `${token.slice(0, 10)}${token[10] === 'A' ? 'B' : 'A'}${token.slice(11)}`;
      const bad = await call(emu, 'GET', `/v1.0/users/delta?$skiptoken=${edited}`);
      assert.is(bad.status, 400);
      assert.is(bad.json.error.code, 'Request_BadRequest');
      // A users token is no groups token.
      assert.is((await call(emu, 'GET', `/v1.0/groups/delta?$skiptoken=${token}`)).status, 400);
    });
  },
);

Users(
  'GET /users/delta refuses $orderby, $expand and $filter other than id eq; $select of unknown or out-of-store properties',
  async () => {
    await sample(async (emu) => {
      for (const q of [
        '$orderby=displayName',
        '$expand=manager',
        "$filter=displayName eq 'x'",
        '$search="x"',
      ])
        assert.equal(graphErrorOf(await call(emu, 'GET', `/v1.0/users/delta?${q}`)).status, 400, q);
      const unknown = await call(emu, 'GET', '/v1.0/users/delta?$select=nonsense');
      assert.is(unknown.status, 400);
      assert.match(unknown.json.error.message, /nonsense/);
      const skills = await call(emu, 'GET', '/v1.0/users/delta?$select=skills');
      assert.is(skills.status, 501);
      assert.is(skills.json.error.code, 'NotImplemented');
    });
  },
);

Users('the deltaLink of a round with no changes since returns value [] and a new deltaLink', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/users/delta');
    const p = await page(emu, first.deltaLink);
    assert.equal(p.body.value, []);
    assert.ok(p.delta);
    assert.is.not(p.delta, first.deltaLink);
  });
});

Users(
  'only selected properties are tracked: changing another property does not report the user',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName,jobTitle');
      emu.tenant.update(ADELE, { department: 'Legal' });
      emu.tenant.update(ALEX, { jobTitle: 'Head of Marketing' });
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(second.items, [{ displayName: 'Alex Wilber', jobTitle: 'Head of Marketing', id: ALEX }]);
    });
  },
);

Users(
  'without $select every main-store property is tracked, properties stored elsewhere are not',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta');
      emu.tenant.update(ADELE, { department: 'Legal' });
      emu.tenant.update(ALEX, { aboutMe: 'Writes poems' });
      emu.tenant.update(DIEGO, {
        licenseAssignmentStates: [{ skuId: '6fd2c87f-b296-42f0-b197-1e91e994b900', state: 'Active' }],
      });
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(
        second.items.map((u) => u.id),
        [ADELE],
      );
      // The default set comes back, not the changed property.
      assert.is(second.items[0].displayName, 'Adele Vance');
      assert.not.ok('department' in second.items[0]);
    });
  },
);

Users(
  'an updated object comes back with every selected property; a cleared one as null only in minimal mode',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName,jobTitle,mobilePhone');
      emu.tenant.update(ALEX, { displayName: 'Alex W.', jobTitle: null });
      const full = await deltaRound(emu, first.deltaLink);
      assert.equal(full.items, [{ displayName: 'Alex W.', mobilePhone: '+1 206 555 0101', id: ALEX }]);
      // Prefer: return=minimal: changed → value, cleared → null, unchanged → omitted.
      const again = await deltaRound(emu, first.deltaLink, { Prefer: 'return=minimal' });
      assert.equal(again.items, [{ displayName: 'Alex W.', jobTitle: null, id: ALEX }]);
    });
  },
);

Users(
  'Prefer: return=minimal is acknowledged with Preference-Applied and may join at any point of a cycle',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName,city');
      emu.tenant.update(ADELE, { city: 'Lyon' });
      emu.tenant.update(ADELE, { displayName: 'Adele V.' });
      const p = await page(emu, first.deltaLink, { Prefer: 'return=minimal' });
      assert.is(p.headers['preference-applied'], 'return=minimal');
      assert.equal(p.body.value, [{ city: 'Lyon', id: ADELE, displayName: 'Adele V.' }]);
      const plain = await page(emu, first.deltaLink);
      assert.is(plain.headers['preference-applied'], undefined);
    });
  },
);

Users(
  '@removed: a deleted user is reported "changed", a purged one "deleted", a restored one as a new object',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
      emu.tenant.delete(ADELE);
      emu.tenant.delete(ALEX);
      emu.tenant.purge(ALEX);
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(second.items, [
        { id: ADELE, '@removed': { reason: 'changed' } },
        { id: ALEX, '@removed': { reason: 'deleted' } },
      ]);
      emu.tenant.restore(ADELE);
      const third = await deltaRound(emu, second.deltaLink);
      assert.equal(third.items, [{ displayName: 'Adele Vance', id: ADELE }]);
    });
  },
);

Users(
  'a user created and deleted between rounds is reported removed; one created during the round appears',
  async () => {
    await sample(async (emu) => {
      const p1 = await page(emu, '/v1.0/users/delta?$select=displayName');
      const created = emu.tenant.createUser({ displayName: 'Mid Round' });
      let url = p1.next;
      const items: any[] = [...p1.body.value];
      let delta = '';
      while (url) {
        const p = await page(emu, url);
        items.push(...p.body.value);
        url = p.next;
        delta = p.delta ?? delta;
      }
      assert.ok(items.some((u) => u.id === created.id && u.displayName === 'Mid Round'));
      const gone = emu.tenant.createUser();
      emu.tenant.delete(gone.id);
      const next = await deltaRound(emu, delta);
      assert.equal(next.items, [{ id: gone.id, '@removed': { reason: 'changed' } }]);
    });
  },
);

Users('an object changed during a round appears twice in that round', async () => {
  await sample(async (emu) => {
    const p1 = await page(emu, '/v1.0/users/delta?$select=displayName');
    assert.ok(p1.body.value.some((u: any) => u.id === ADELE));
    emu.tenant.update(ADELE, { displayName: 'Adele Changed' });
    const rest = await deltaRound(emu, p1.next!);
    const all = [...p1.body.value, ...rest.items].filter((u) => u.id === ADELE);
    assert.equal(
      all.map((u) => u.displayName),
      ['Adele Vance', 'Adele Changed'],
    );
  });
});

Users('pages can be empty and still carry a nextLink: follow it to the deltaLink', async () => {
  await withEmulator(
    { generate: { users: 300, groups: 1 }, deltaLimits: { objects: 200, links: 2000, scan: 50 } },
    async (emu) => {
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
      assert.is(first.items.length, 300);
      // 120 changes nobody tracks, then one that is.
      const users = emu.tenant.list('user');
      for (const u of users.slice(0, 120)) emu.tenant.update(u.id, { jobTitle: 'Untracked' });
      emu.tenant.update(users[200]!.id, { displayName: 'Tracked' });
      const sizes: number[] = [];
      let url: string | undefined = first.deltaLink;
      while (url) {
        const p = await page(emu, url);
        sizes.push(p.body.value.length);
        url = p.next;
      }
      assert.equal(sizes, [0, 0, 1]);
    },
  );
});

Users("GET /users/delta?$filter=id eq '...' or id eq '...' limits the round to those users", async () => {
  await sample(async (emu) => {
    const filter = encodeURIComponent(`id eq '${ADELE}' or id eq '${ALEX}' or id eq '${FORMER}'`);
    const first = await deltaRound(emu, `/v1.0/users/delta?$select=displayName&$filter=${filter}`);
    assert.equal(first.items.map((u) => u.id).sort(), [ALEX, ADELE].sort());
    emu.tenant.update(DIEGO, { displayName: 'Not watched' });
    emu.tenant.update(ALEX, { displayName: 'Watched' });
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, [{ displayName: 'Watched', id: ALEX }]);
  });
});

Users('GET /users/delta?$filter with more than 50 ids is refused', async () => {
  await sample(async (emu) => {
    const ids = Array.from(
      { length: 51 },
      (_, i) => `id eq '00000000-0000-4000-8000-${String(i).padStart(12, '0')}'`,
    );
    const r = await call(emu, 'GET', `/v1.0/users/delta?$filter=${encodeURIComponent(ids.join(' or '))}`);
    assert.is(r.status, 400);
  });
});

Users(
  'GET /users/delta?$deltatoken=latest returns no data and a deltaLink that reports later changes only',
  async () => {
    await sample(async (emu) => {
      emu.tenant.update(ADELE, { displayName: 'Before' });
      const p = await page(emu, '/v1.0/users/delta?$select=displayName&$deltatoken=latest');
      assert.equal(p.body.value, []);
      assert.ok(p.delta);
      emu.tenant.update(ALEX, { displayName: 'After' });
      const next = await deltaRound(emu, p.delta);
      assert.equal(next.items, [{ displayName: 'After', id: ALEX }]);
    });
  },
);

Users('state tokens expire after 7 days with 400 syncStateNotFound', async () => {
  await sample(async (emu) => {
    const p1 = await page(emu, '/v1.0/users/delta');
    const round = await deltaRound(emu, '/v1.0/users/delta');
    emu.clock.advance(6 * DAY);
    assert.is((await call(emu, 'GET', round.deltaLink)).status, 200);
    emu.clock.advance(DAY + 60_000);
    for (const url of [round.deltaLink, p1.next!]) {
      const r = await call(emu, 'GET', url);
      assert.is(r.status, 400);
      assert.is(r.json.error.code, 'syncStateNotFound');
      assert.match(r.json.error.message, /expired/);
      assert.ok(r.json.error.innerError['request-id']);
    }
  });
});

Users('a synchronization reset answers 410 Gone with a Location that restarts the same query', async () => {
  await sample(async (emu) => {
    const filter = `id eq '${ADELE}'`;
    const first = await deltaRound(
      emu,
      `/v1.0/users/delta?$select=displayName&$filter=${encodeURIComponent(filter)}`,
    );
    emu.tenant.resetSync();
    const r = await call(emu, 'GET', first.deltaLink);
    assert.is(r.status, 410);
    assert.is(r.json.error.code, 'resyncRequired');
    const location = new URL(r.headers.location!);
    assert.is(location.pathname, '/v1.0/users/delta');
    assert.is(location.searchParams.get('$deltatoken'), '');
    assert.is(location.searchParams.get('$filter'), filter);
    assert.match(location.searchParams.get('$select')!, /^displayName/);
    const again = await deltaRound(emu, r.headers.location!);
    assert.equal(again.items, [{ displayName: 'Adele Vance', id: ADELE }]);
  });
});

Users('/beta and /users/microsoft.graph.delta serve delta too, with links on the same path', async () => {
  await sample(async (emu) => {
    const beta = await page(emu, '/beta/users/delta');
    assert.match(beta.next!, /\/beta\/users\/delta\?\$skiptoken=/);
    assert.match(beta.body['@odata.context'], /\/beta\/\$metadata#users/);
    const long = await deltaRound(emu, '/v1.0/users/microsoft.graph.delta');
    assert.is(long.items.length, LIVE_USERS);
  });
});

Users.run();

// ---

const Groups = suite('handleDelta(groups)');

Groups(
  'GET /groups/delta includes members@delta by default, with @odata.type and id only; no members, no property',
  async () => {
    await sample(
      async (emu) => {
        const { items } = await deltaRound(emu, '/v1.0/groups/delta');
        const { added } = linksOf(items);
        assert.equal(added.get(ENGINEERING)?.length, 4);
        const payroll = items.find((g) => g.id === PAYROLL);
        assert.equal(payroll['members@delta'].map((m: any) => m['@odata.type']).sort(), [
          '#microsoft.graph.servicePrincipal',
          '#microsoft.graph.user',
        ]);
        for (const m of payroll['members@delta']) assert.equal(Object.keys(m).sort(), ['@odata.type', 'id']);
        const allStaff = items.find((g) => g.id === ALL_STAFF)['members@delta'];
        assert.ok(
          allStaff.some((m: any) => m.id === ENGINEERING && m['@odata.type'] === '#microsoft.graph.group'),
        );
        const falcon = items.find((g) => g.id === FALCON);
        assert.not.ok('members@delta' in falcon);
        assert.not.ok(
          items.some((g) => 'owners@delta' in g),
          'owners only when selected',
        );
      },
      { objects: 200, links: 2000, scan: 5000 },
    );
  },
);

Groups(
  'a large group is split over several pages, repeated with the same properties and the next slice',
  async () => {
    await sample(async (emu) => {
      const pages: any[][] = [];
      let url: string | undefined = '/v1.0/groups/delta?$select=displayName,members';
      while (url) {
        const p = await page(emu, url);
        pages.push(p.body.value);
        const links = p.body.value.reduce((n: number, g: any) => n + (g['members@delta']?.length ?? 0), 0);
        assert.ok(links <= SMALL_LIMITS.links, `${links} links on a page`);
        url = p.next;
      }
      assert.ok(pages.length >= 4, `${pages.length} pages`);
      const sales = pages.flat().filter((g) => g.id === SALES);
      assert.is(sales.length, 2, 'the group comes back on the next page');
      assert.is(sales[0].displayName, sales[1].displayName);
      const { added } = linksOf(pages.flat());
      assert.is(added.get(SALES)?.length, 5);
      assert.is(new Set(added.get(SALES)).size, 5, 'each member once');
      assert.is([...added.values()].flat().length, 21);
    });
  },
);

Groups("a group deleted while split over pages does not shift the next group's links", async () => {
  await sample(async (emu) => {
    const p1 = await page(emu, '/v1.0/groups/delta?$select=displayName,members');
    const split = p1.body.value.at(-1);
    assert.is(split.id, SALES, 'the page ends inside Sales and Marketing');
    emu.tenant.delete(SALES);
    const rest = await deltaRound(emu, p1.next!);
    const { added } = linksOf([...p1.body.value, ...rest.items]);
    assert.is(added.get(LEADERSHIP)?.length, 4);
    assert.is([...added.values()].flat().length, 4 + 3 + 4 + 2 + 2 + 4);
    assert.ok(
      rest.items.some((g) => g.id === SALES && g['@removed']),
      'the deletion is reported',
    );
  });
});

Groups('GET /groups/delta?$select=displayName,members,owners returns owners@delta too', async () => {
  await sample(async (emu) => {
    const { items } = await deltaRound(emu, '/v1.0/groups/delta?$select=displayName,members,owners');
    const owners = linksOf(items, 'owners').added;
    assert.equal(owners.get(SALES)?.length, 2);
    assert.equal(owners.get(PAYROLL), [PAYROLL_SP]);
    assert.ok(
      items.some((g) =>
        (g['owners@delta'] ?? []).some((o: any) => o['@odata.type'] === '#microsoft.graph.servicePrincipal'),
      ),
    );
    assert.is([...owners.values()].flat().length, 8);
  });
});

Groups(
  'membership changes between rounds come as members@delta: added plainly, removed with @removed "deleted"',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/groups/delta?$select=displayName,members');
      emu.tenant.addMember(ENGINEERING, ADELE);
      emu.tenant.removeMember(ENGINEERING, LEE);
      emu.tenant.addMember(FALCON, ALEX);
      const second = await deltaRound(emu, first.deltaLink);
      const eng = second.items.find((g) => g.id === ENGINEERING);
      assert.is(eng.displayName, 'Engineering');
      assert.equal(eng['members@delta'], [
        { '@odata.type': '#microsoft.graph.user', id: ADELE },
        { '@odata.type': '#microsoft.graph.user', id: LEE, '@removed': { reason: 'deleted' } },
      ]);
      assert.equal(second.items.find((g) => g.id === FALCON)['members@delta'], [
        { '@odata.type': '#microsoft.graph.user', id: ALEX },
      ]);
    });
  },
);

Groups('membership changes are not reported when members are not selected', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/groups/delta?$select=displayName');
    emu.tenant.addMember(ENGINEERING, ADELE);
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, []);
  });
});

Groups('owners changes come as owners@delta when owners are selected', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/groups/delta?$select=owners');
    emu.tenant.addOwner(ENGINEERING, ADELE);
    emu.tenant.addMember(ENGINEERING, ALEX);
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, [
      { id: ENGINEERING, 'owners@delta': [{ '@odata.type': '#microsoft.graph.user', id: ADELE }] },
    ]);
  });
});

Groups(
  'a permanently deleted member leaves every group with @removed; a soft-deleted one does not',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/groups/delta?$select=members');
      emu.tenant.delete(DIEGO);
      const soft = await deltaRound(emu, first.deltaLink);
      assert.equal(soft.items, []);
      emu.tenant.purge(DIEGO);
      const hard = await deltaRound(emu, soft.deltaLink);
      assert.equal(hard.items.map((g) => g.id).sort(), [PAYROLL, ALL_STAFF].sort());
      for (const g of hard.items)
        assert.equal(g['members@delta'], [
          { '@odata.type': '#microsoft.graph.user', id: DIEGO, '@removed': { reason: 'deleted' } },
        ]);
    });
  },
);

Groups('deleting a group of either kind reports "changed" (restorable); purging it "deleted"', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/groups/delta?$select=displayName');
    emu.tenant.delete(ENGINEERING);
    emu.tenant.delete(SALES);
    emu.tenant.purge(SALES);
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, [
      { id: ENGINEERING, '@removed': { reason: 'changed' } },
      { id: SALES, '@removed': { reason: 'deleted' } },
    ]);
  });
});

Groups('a group created between rounds comes with all its members, split over pages when many', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/groups/delta?$select=displayName,members');
    const g = emu.tenant.createGroup({ displayName: 'Big New Group' });
    const users = emu.tenant.list('user');
    const store = emu.tenant.store;
    // Links made with the object, before anyone saw it: only the creation is in the log that matters.
    for (const u of users) store.addLink(g.id, 'members', u.id, { log: false });
    const second = await deltaRound(emu, first.deltaLink);
    const copies = second.items.filter((x) => x.id === g.id);
    assert.ok(copies.length >= 2, `${copies.length} copies`);
    for (const c of copies) assert.is(c.displayName, 'Big New Group');
    assert.is(linksOf(second.items).added.get(g.id)?.length, users.length);
    assert.ok(second.pages >= 2);
  });
});

Groups(
  'Prefer: return=minimal on a group whose members changed returns the id and members@delta only',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/groups/delta?$select=displayName,description,members');
      emu.tenant.addMember(LEADERSHIP, ADELE);
      emu.tenant.update(ENGINEERING, { description: null });
      const second = await deltaRound(emu, first.deltaLink, { Prefer: 'return=minimal' });
      assert.equal(second.items, [
        { id: LEADERSHIP, 'members@delta': [{ '@odata.type': '#microsoft.graph.user', id: ADELE }] },
        { description: null, id: ENGINEERING },
      ]);
    });
  },
);

Groups.run();

// ---

const Others = suite('handleDelta(directoryRoles, servicePrincipals, contacts, devices)');

Others(
  'GET /directoryRoles/delta returns roles with members@delta, and member removals with @removed',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/directoryRoles/delta');
      const { added } = linksOf(first.items);
      assert.equal(added.get(GLOBAL_ADMIN)?.sort(), [PATTI, '048828f7-1449-536d-b74e-f215efeebe54'].sort());
      const ua = first.items.find((r) => r.id === USER_ADMIN);
      assert.is(ua.roleTemplateId, 'fe930be7-5e62-47db-91af-98c3a49a38b1');
      assert.ok(
        ua['members@delta'].some((m: any) => m['@odata.type'] === '#microsoft.graph.servicePrincipal'),
      );
      emu.tenant.store.removeLink(GLOBAL_ADMIN, 'members', PATTI);
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(second.items.length, 1);
      assert.equal(second.items[0]['members@delta'], [
        { '@odata.type': '#microsoft.graph.user', id: PATTI, '@removed': { reason: 'deleted' } },
      ]);
      assert.is(second.items[0].displayName, 'Global Administrator');
    });
  },
);

Others(
  'GET /servicePrincipals/delta returns the service principals; a deleted one is reported "changed"',
  async () => {
    await sample(async (emu) => {
      const first = await deltaRound(emu, '/v1.0/servicePrincipals/delta?$select=displayName,appId');
      assert.is(first.items.length, 3);
      assert.ok(first.items.every((sp) => typeof sp.appId === 'string'));
      emu.tenant.delete(PAYROLL_SP);
      const second = await deltaRound(emu, first.deltaLink);
      assert.equal(second.items, [{ id: PAYROLL_SP, '@removed': { reason: 'changed' } }]);
    });
  },
);

Others('GET /contacts/delta and /devices/delta serve organizational contacts and devices', async () => {
  const contact = '00000000-0000-4000-8000-0000000000c1';
  const device = '00000000-0000-4000-8000-0000000000d1';
  await withEmulator(
    {
      tenant: {
        contacts: [{ id: contact, displayName: 'Ext Contact', mail: 'ext@fabrikam.com' }],
        devices: [{ id: device, displayName: 'LAPTOP-1', operatingSystem: 'Windows', accountEnabled: true }],
      },
    },
    async (emu) => {
      const c = await deltaRound(emu, '/v1.0/contacts/delta?$select=displayName,mail');
      assert.equal(c.items, [{ displayName: 'Ext Contact', mail: 'ext@fabrikam.com', id: contact }]);
      const d = await deltaRound(emu, '/v1.0/devices/delta');
      assert.is(d.items[0].operatingSystem, 'Windows');
      emu.tenant.update(contact, { mail: 'ext2@fabrikam.com' });
      const c2 = await deltaRound(emu, c.deltaLink);
      assert.equal(c2.items, [{ displayName: 'Ext Contact', mail: 'ext2@fabrikam.com', id: contact }]);
    },
  );
});

Others(
  'delta needs a read permission for the collection: 403 Authorization_RequestDenied otherwise',
  async () => {
    await withEmulator({ tenant: await sampleTenant(), roles: ['User.Read.All'] }, async (emu) => {
      assert.is((await call(emu, 'GET', '/v1.0/users/delta')).status, 200);
      const r = await call(emu, 'GET', '/v1.0/groups/delta');
      assert.is(r.status, 403);
      assert.is(r.json.error.code, 'Authorization_RequestDenied');
    });
  },
);

Others.run();
