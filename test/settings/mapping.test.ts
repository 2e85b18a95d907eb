import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findProperty } from '../../src/graph/schema.js';
import {
  compareColumns,
  DEFAULT_ATTRIBUTES,
  directoryObjectColumns,
  EXPORT_ENTITIES,
  linkTables,
  parseMappingText,
  readMappingFile,
  resolveMapping,
  selectQuery,
  type Mapping,
} from '../../src/settings/mapping.js';

const fixture = (name: string) => new URL(`../fixtures/mapping/${name}`, import.meta.url).pathname;

function failure(fn: () => unknown): Error & { code: string; context: string[] } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code: string; context: string[] };
  }
  throw new Error('expected an error');
}

async function failureAsync(fn: () => Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('expected an error');
}

const EXT = 'extension_b7d8e648520f41d3b9c0fdeb91768a0a_jobGroupTracker';

// ---

const Resolve = suite('resolveMapping');

Resolve('resolveMapping() exports the four default entities with their default attributes and links', () => {
  const m = resolveMapping();
  assert.equal(
    m.entities.map((e) => e.entity),
    ['user', 'group', 'directoryRole', 'servicePrincipal'],
  );
  const [user, group, role, sp] = m.entities;
  assert.ok(user!.attributes.includes('id') && user!.attributes.includes('userPrincipalName'));
  assert.equal(user!.navigations, []);
  assert.equal(group!.navigations, ['members', 'owners']);
  assert.not.ok(group!.attributes.includes('members'));
  assert.equal(role!.navigations, ['members']);
  assert.ok(sp!.attributes.includes('appId'));
});

Resolve('DEFAULT_ATTRIBUTES are all exportable through delta', () => {
  for (const entity of EXPORT_ENTITIES)
    for (const name of DEFAULT_ATTRIBUTES[entity]) {
      const p = findProperty(entity, name);
      assert.ok(p && !p.getOnly, `${entity}.${name}`);
    }
});

Resolve('resolveMapping({entities}) keeps the default attribute sets of the listed entities', () => {
  const m = resolveMapping({ entities: ['group', 'User'] });
  assert.equal(
    m.entities.map((e) => e.entity),
    ['user', 'group'],
  );
  assert.equal(m.entities[0]!.attributes, resolveMapping().entities[0]!.attributes);
});

Resolve('resolveMapping({select}) exports only the selected entities, id always included', () => {
  const m = resolveMapping({ select: ['user=mail,displayName', 'group=displayName,members', `user=${EXT}`] });
  assert.equal(m.entities, [
    { entity: 'user', attributes: ['displayName', EXT, 'id', 'mail'], navigations: [] },
    { entity: 'group', attributes: ['displayName', 'id'], navigations: ['members'] },
  ]);
});

Resolve('resolveMapping({entities, select}) selects within the listed entities', () => {
  const m = resolveMapping({ entities: ['user,group'], select: ['user=mail'] });
  assert.equal(m.entities[0]!.attributes, ['id', 'mail']);
  assert.equal(m.entities[1]!.navigations, ['members', 'owners']);
  const e = failure(() => resolveMapping({ entities: ['user'], select: ['group=displayName'] }));
  assert.is(e.code, 'ERR_MAPPING');
  assert.match(e.message, 'group');
});

Resolve('resolveMapping({file}) takes the file, and the CLI wins over it', () => {
  const file = parseMappingText('{"entities":{"user":["mail"],"group":["displayName"]}}', 'm.json');
  assert.equal(
    resolveMapping({ file }).entities.map((e) => e.attributes),
    [
      ['id', 'mail'],
      ['displayName', 'id'],
    ],
  );
  const m = resolveMapping({ file, entities: ['user', 'directoryRole'] });
  assert.equal(m.entities[0]!.attributes, ['id', 'mail']);
  assert.equal(m.entities[1]!.navigations, ['members']);
});

Resolve('resolveMapping() rejects an unknown attribute, naming it, and suggests the right case', () => {
  const e = failure(() => resolveMapping({ select: ['user=DisplayName'] }));
  assert.is(e.code, 'ERR_MAPPING');
  assert.match(e.message, "'DisplayName' for user");
  assert.match(e.message, "did you mean 'displayName'");
});

Resolve('resolveMapping() rejects Get-only attributes, saying why', () => {
  const e = failure(() => resolveMapping({ select: ['user=displayName,birthday'] }));
  assert.is(e.code, 'ERR_MAPPING');
  assert.match(e.message, "'birthday' of user");
  assert.match(e.message, 'single-object GET');
});

Resolve('resolveMapping() allows members/owners/manager only where delta tracks them', () => {
  assert.match(failure(() => resolveMapping({ select: ['user=members'] })).message, "'members' for user");
  assert.match(
    failure(() => resolveMapping({ select: ['user=directReports'] })).message,
    "'directReports' of user is a navigation property that is not exported (links exported: manager of user, members and owners of group, members of directoryRole)",
  );
  assert.match(failure(() => resolveMapping({ select: ['group=manager'] })).message, "'manager' for group");
  assert.match(failure(() => resolveMapping({ select: ['directoryRole=owners'] })).message, 'directoryRole');
});

Resolve('resolveMapping() takes manager as the navigation of users, never a column', () => {
  const m = resolveMapping({ select: ['user=displayName,manager'] });
  assert.equal(m.entities, [{ entity: 'user', attributes: ['displayName', 'id'], navigations: ['manager'] }]);
  assert.is(selectQuery(m.entities[0]!), 'displayName,id,manager');
});

Resolve('resolveMapping() rejects unknown entities, listing the valid ones', () => {
  for (const options of [{ entities: ['users'] }, { select: ['device=displayName'] }]) {
    const e = failure(() => resolveMapping(options));
    assert.is(e.code, 'ERR_MAPPING');
    assert.match(e.message, 'user, group, directoryRole, servicePrincipal');
  }
});

Resolve('resolveMapping() suggests the attribute and the entity a typo meant', () => {
  const attribute = failure(() => resolveMapping({ select: ['user=displayNme'] }));
  assert.is(
    attribute.message,
    "--select: unknown attribute 'displayNme' for user (did you mean 'displayName'?)",
  );
  const entity = failure(() => resolveMapping({ entities: ['usr'] }));
  assert.is(
    entity.message,
    "--entities: unknown entity 'usr' (did you mean 'user'?); valid: user, group, directoryRole, servicePrincipal",
  );
});

Resolve('resolveMapping() reports every mistake of --select and --entities at once', () => {
  const e = failure(() => resolveMapping({ select: ['user=displayNme,mail,birthday', 'grop=displayName'] }));
  assert.is(e.code, 'ERR_MAPPING');
  assert.is(e.message, '3 errors in --select:');
  assert.equal(e.context, [
    "--select: unknown attribute 'displayNme' for user (did you mean 'displayName'?)",
    "--select: attribute 'birthday' of user is returned by Graph only on a single-object GET (GET /users/{id}), never by delta: remove it",
    "--select: unknown entity 'grop' (did you mean 'group'?); valid: user, group, directoryRole, servicePrincipal",
  ]);
});

Resolve('resolveMapping() rejects malformed --select and empty --entities', () => {
  assert.is(failure(() => resolveMapping({ select: ['user'] })).code, 'ERR_MAPPING');
  assert.is(failure(() => resolveMapping({ select: ['user='] })).code, 'ERR_MAPPING');
  assert.is(failure(() => resolveMapping({ entities: [' , '] })).code, 'ERR_MAPPING');
});

Resolve.run();

// ---

const Parse = suite('parseMappingText / readMappingFile');

Parse('readMappingFile(json) reads the entities form', async () => {
  const file = await readMappingFile(fixture('entities.json'));
  assert.equal(
    [...file.entities],
    [
      ['user', ['accountEnabled', 'displayName', 'mail']],
      ['group', ['displayName', 'members', 'owners']],
    ],
  );
});

Parse(
  'readMappingFile(xml) reads the Identity Manager form for the connection, leaving out what an entity lacks',
  async () => {
    const m = resolveMapping({ file: await readMappingFile(fixture('connector.xml'), 'Contoso') });
    const byEntity = Object.fromEntries(m.entities.map((e) => [e.entity, e]));
    assert.equal(byEntity.user!.attributes, ['accountEnabled', 'displayName', 'id', 'mail']);
    assert.equal(byEntity.group!.attributes, ['displayName', 'id', 'mail']);
    assert.equal(byEntity.group!.navigations, ['members']);
    assert.equal(byEntity.directoryRole!.attributes, ['displayName', 'id', 'roleTemplateId']);
    assert.equal(byEntity.servicePrincipal!.attributes, ['accountEnabled', 'appId', 'displayName', 'id']);
  },
);

Parse('readMappingFile(xml, other connection) finds only that connection', async () => {
  const file = await readMappingFile(fixture('connector.xml'), 'fabrikam');
  assert.equal([...file.entities], [['user', ['jobTitle']]]);
  const e = await failureAsync(() => readMappingFile(fixture('connector.xml'), 'Northwind'));
  assert.is(e.code, 'ERR_MAPPING');
  assert.match(e.message, 'Northwind_directoryobjects');
});

Parse('readMappingFile(xml) fails when no C0 entity has the attribute, with a suggestion', async () => {
  const e = await failureAsync(() => readMappingFile(fixture('unknown-attribute.xml')));
  assert.is(e.code, 'ERR_MAPPING');
  assert.match(e.message, "Property 'Mail'");
  assert.match(e.message, "did you mean 'mail'");
});

Parse('readMappingFile(xml) rejects Get-only attributes', async () => {
  const e = await failureAsync(() => readMappingFile(fixture('get-only.xml')));
  assert.is(e.code, 'ERR_MAPPING');
  assert.match(e.message, 'birthday');
});

Parse('readMappingFile(malformed) names the file, line and column', async () => {
  const xml = await failureAsync(() => readMappingFile(fixture('malformed.xml')));
  assert.is(xml.code, 'ERR_MAPPING');
  assert.match(xml.message, /malformed\.xml:\d+:\d+: malformed XML/);
  const json = await failureAsync(() => readMappingFile(fixture('malformed.json')));
  assert.is(json.code, 'ERR_MAPPING');
  assert.match(json.message, 'malformed.json:3:21: malformed JSON');
});

Parse('readMappingFile(missing) fails with ERR_MAPPING', async () => {
  assert.is((await failureAsync(() => readMappingFile('/nonexistent/m.json'))).code, 'ERR_MAPPING');
});

const xml = (body: string) => `<?xml version="1.0"?>\n<ConfigurationFile>\n${body}\n</ConfigurationFile>\n`;
const users = (properties: string[]) =>
  `<EntityTypeMapping Identifier="E" ConnectionTable="Contoso_directoryobjects" C0="user group">\n${properties
    .map((c, i) => `<Property Identifier="p${i}" ConnectionColumn="${c}" />`)
    .join('\n')}\n</EntityTypeMapping>`;

Parse('parseMappingText(xml) reports every error of the file at once, each with its place', () => {
  const text = xml(
    `${users(['displayNme', 'mail', 'birthday'])}\n<EntityAssociationMapping Identifier="L" ConnectionTable="Contoso_members_bogus" />\n<EntityAssociationMapping Identifier="M" ConnectionTable="Contoso_owner_group" />`,
  );
  const e = failure(() => parseMappingText(text, 'm.xml', 'Contoso'));
  assert.is(e.code, 'ERR_MAPPING');
  assert.is(e.message, '4 errors in m.xml:');
  assert.equal(e.context, [
    "m.xml: EntityTypeMapping 'E', Property 'p0': unknown attribute 'displayNme' for user, group (did you mean 'displayName'?)",
    "m.xml: EntityTypeMapping 'E', Property 'p2': attribute 'birthday' of user is returned by Graph only on a single-object GET (GET /users/{id}), never by delta: remove it",
    'm.xml: EntityAssociationMapping ConnectionTable="Contoso_members_bogus": not a link table of this connector; link tables: Contoso_manager_user, Contoso_members_group, Contoso_owners_group, Contoso_members_directoryRole',
    'm.xml: EntityAssociationMapping ConnectionTable="Contoso_owner_group": not a link table of this connector (did you mean \'Contoso_owners_group\'?); link tables: Contoso_manager_user, Contoso_members_group, Contoso_owners_group, Contoso_members_directoryRole',
  ]);
});

Parse('parseMappingText(xml) reads the manager link table of users', () => {
  const text = xml(
    `${users(['displayName'])}\n<EntityAssociationMapping Identifier="Mgr" ConnectionTable="Contoso_manager_user" />`,
  );
  const m = resolveMapping({ file: parseMappingText(text, 'm.xml', 'Contoso') });
  assert.equal(
    m.entities.map((e) => [e.entity, e.navigations]),
    [
      ['user', ['manager']],
      ['group', []],
    ],
  );
  const typo = failure(() =>
    parseMappingText(
      xml(`${users(['displayName'])}\n<EntityAssociationMapping ConnectionTable="Contoso_managers_user" />`),
      'm.xml',
      'Contoso',
    ),
  );
  assert.match(typo.message, "did you mean 'Contoso_manager_user'?");
});

Parse('parseMappingText(xml) refuses a DOCTYPE and its entities before reading anything', () => {
  const text = `<?xml version="1.0"?>\n<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n${users(['&xxe;'])}\n`;
  const e = failure(() => parseMappingText(text, 'm.xml', 'Contoso'));
  assert.is(e.code, 'ERR_MAPPING');
  assert.is(
    e.message,
    'm.xml:2:1: a DOCTYPE (which may define entities) is not allowed in a mapping file: remove it',
  );
});

Parse('parseMappingText(json) reports every unknown attribute at once', () => {
  const e = failure(() =>
    parseMappingText('{"entities":{"user":["mial","displayName"],"group":["dispalyName"]}}', 'm.json'),
  );
  assert.is(e.message, '2 errors in m.json:');
  assert.equal(e.context, [
    "m.json: entities.user: unknown attribute 'mial' for user (did you mean 'mail'?)",
    "m.json: entities.group: unknown attribute 'dispalyName' for group (did you mean 'displayName'?)",
  ]);
});

Parse('parseMappingText(json) rejects bad shapes and unknown entities', () => {
  for (const text of [
    '[]',
    '{"entity":{}}',
    '{"entities":{"user":"mail"}}',
    '{"entities":{"device":["id"]}}',
  ]) {
    assert.is(failure(() => parseMappingText(text, 'm.json')).code, 'ERR_MAPPING', text);
  }
});

Parse.run();

// ---

const Helpers = suite('selectQuery / directoryObjectColumns / linkTables');

const mapping: Mapping = resolveMapping({
  select: ['user=mail,accountEnabled', 'group=displayName,owners,members', 'directoryRole=members'],
});

Helpers('selectQuery(m) lists attributes then navigations in a stable order', () => {
  assert.is(selectQuery(mapping.entities[0]!), 'accountEnabled,id,mail');
  assert.is(selectQuery(mapping.entities[1]!), 'displayName,id,members,owners');
  assert.is(
    selectQuery(resolveMapping({ select: ['user=accountEnabled,mail'] }).entities[0]!),
    selectQuery(resolveMapping({ select: ['user=mail,accountEnabled'] }).entities[0]!),
  );
});

Helpers('directoryObjectColumns(mapping) gives the DESIGN example header order', () => {
  assert.equal(directoryObjectColumns(resolveMapping({ select: ['user=mail,accountEnabled'] })), [
    'accountEnabled',
    'id',
    'mail',
  ]);
  assert.equal(directoryObjectColumns(mapping), ['accountEnabled', 'displayName', 'id', 'mail']);
});

Helpers('compareColumns() orders lower-cased names ordinally', () => {
  assert.equal(['mail', 'Zeta', 'id', 'extension_x', 'employeeId'].sort(compareColumns), [
    'employeeId',
    'extension_x',
    'id',
    'mail',
    'Zeta',
  ]);
});

Helpers('linkTables(mapping) names each link table and its owner column', () => {
  assert.equal(linkTables(mapping), [
    { table: 'members_group', entity: 'group', navigation: 'members', ownerColumn: 'groupId' },
    { table: 'owners_group', entity: 'group', navigation: 'owners', ownerColumn: 'groupId' },
    {
      table: 'members_directoryRole',
      entity: 'directoryRole',
      navigation: 'members',
      ownerColumn: 'directoryRoleId',
    },
  ]);
});

Helpers.run();
