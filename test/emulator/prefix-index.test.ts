import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateTenant } from '../../src/emulator/generate.js';
import { parseFilter, matches } from '../../src/emulator/odata-filter.js';
import { indexedPositions } from '../../src/emulator/prefix-index.js';
import { DirectoryStore } from '../../src/emulator/store.js';

const Index = suite('indexedPositions');

/** The positions a scan finds: what the index must answer. */
function scan(store: DirectoryStore, entity: 'user' | 'group', filter: string): number[] {
  const node = parseFilter(filter);
  const out: number[] = [];
  store.entityStore(entity).slots.forEach((o, i) => {
    if (o && !o.deletedAt && matches(node, (p) => (p === 'id' ? o.id : o.data[p]))) out.push(i);
  });
  return out;
}

Index(
  'answers or-ed startswith/eq on userPrincipalName and mailNickname like a scan, after changes too',
  () => {
    const store = new DirectoryStore({ tenantId: 't', domains: ['contoso.onmicrosoft.com'] });
    generateTenant(store, { users: 2000, groups: 200, seed: 7 });
    const filters: ['user' | 'group', string][] = [
      ['user', "startswith(userPrincipalName,'a')"],
      [
        'user',
        "startswith(userPrincipalName,'Ma') or startswith(userPrincipalName,'b') or startswith(userPrincipalName,'m')",
      ],
      ['user', "startswith(userPrincipalName,'zz')"],
      ['group', "startswith(mailNickname,'s') or mailNickname eq 'x'"],
    ];
    const check = () => {
      for (const [entity, f] of filters)
        assert.equal([...indexedPositions(store, entity, parseFilter(f))!], scan(store, entity, f), f);
    };
    check();
    // Changes: a rename, a soft delete and a new user are seen by the next query.
    const users = store.entityStore('user').slots;
    const first = users.find((o) => o && /^a/i.test(String(o.data.userPrincipalName)))!;
    store.update(first.id, { userPrincipalName: 'zzfirst@contoso.onmicrosoft.com' });
    const second = users.find((o) => o && !o.deletedAt && /^b/i.test(String(o.data.userPrincipalName)))!;
    store.softDelete(second.id);
    store.create('user', { displayName: 'New', userPrincipalName: 'Mango@contoso.onmicrosoft.com' });
    check();
    assert.equal(
      [
        ...indexedPositions(
          store,
          'user',
          parseFilter(`userPrincipalName eq 'ZZFIRST@contoso.onmicrosoft.com'`),
        )!,
      ],
      scan(store, 'user', `userPrincipalName eq 'zzfirst@contoso.onmicrosoft.com'`),
    );
  },
);

Index('leaves other filters to a scan', () => {
  const store = new DirectoryStore({ tenantId: 't', domains: ['contoso.onmicrosoft.com'] });
  generateTenant(store, { users: 10, groups: 2, seed: 7 });
  for (const f of [
    "startswith(userPrincipalName,'a') and accountEnabled eq true",
    "startswith(userPrincipalName,'a') or startswith(mail,'a')",
    "startswith(jobTitle,'a')",
    "startswith(userPrincipalName,'é')",
  ])
    assert.is(indexedPositions(store, 'user', parseFilter(f)), undefined, f);
});

Index.run();
