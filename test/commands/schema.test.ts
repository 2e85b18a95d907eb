import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { entitySchema, exportEntity, schemaCommand } from '../../src/commands/schema.js';
import { failure } from '../helpers/common.js';

async function print(args: Parameters<typeof schemaCommand>[0]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  assert.is(await schemaCommand(args, out), 0);
  return text;
}

const Entity = suite('entitySchema');

Entity('entitySchema(user) gives types, Get-only, read-only, required and the default set', () => {
  const s = entitySchema('user');
  const by = new Map(s.attributes.map((a) => [a.name, a]));
  assert.equal(by.get('displayName'), {
    name: 'displayName',
    type: 'String',
    export: 'delta',
    write: 'required',
    default: true,
  });
  assert.equal(by.get('businessPhones')?.type, 'String[]');
  assert.equal(by.get('passwordProfile')?.type, 'passwordProfile');
  assert.is(by.get('birthday')?.export, 'get-only');
  assert.is(by.get('createdDateTime')?.write, 'read-only');
  assert.is(by.get('jobTitle')?.write, 'writable');
  assert.is(by.get('id')?.default, true);
  assert.not.ok(by.has('manager'), 'navigations are not attributes');
  assert.ok(s.otherNavigations.includes('directReports'));
  assert.equal(s.links, [
    { navigation: 'manager', table: 'manager_user', columns: ['Command', 'userId', 'id'], default: false },
  ]);
  assert.equal(s.invitationColumns?.slice(0, 3), [
    { name: 'invitedUserEmailAddress', type: 'String', required: true },
    { name: 'inviteRedirectUrl', type: 'String', required: true },
    { name: 'sendInvitationMessage', type: 'Boolean', required: false },
  ]);
  assert.is(entitySchema('group').invitationColumns, undefined, 'only users are invited');
});

Entity('entitySchema(group) lists its link tables with their columns', () => {
  assert.equal(entitySchema('group').links, [
    { navigation: 'members', table: 'members_group', columns: ['Command', 'groupId', 'id'], default: true },
    { navigation: 'owners', table: 'owners_group', columns: ['Command', 'groupId', 'id'], default: true },
  ]);
});

Entity('exportEntity(name) takes any case or the @odata.type, and suggests on a typo', async () => {
  assert.is(exportEntity('User'), 'user');
  assert.is(exportEntity('#microsoft.graph.servicePrincipal'), 'servicePrincipal');
  assert.is(
    await failure(
      Promise.resolve().then(() => exportEntity('usr')),
      'ERR_USAGE',
    ),
    "unknown entity 'usr' (did you mean 'user'?); entities: user, group, directoryRole, servicePrincipal",
  );
});

Entity.run();

// ---

const Command = suite('schemaCommand');

Command('schemaCommand({}) prints one line per entity; ({entity}) its attribute table', async () => {
  const summary = (await print({})).split('\n');
  assert.match(summary[0]!, /^entity +attributes +writable +link tables$/);
  assert.match(summary[2]!, /^group +\d+ +\d+ +members_group, owners_group$/);
  const user = await print({ entity: 'user' });
  assert.match(
    user,
    /^user \(#microsoft\.graph\.user, \/users\): \d+ exportable attributes, \* in the default set\n/,
  );
  assert.match(user, /\ndisplayName \* +String +yes +required on create\n/);
  assert.match(user, /\nbirthday +DateTimeOffset +no: Get-only +writable\n/);
  assert.match(user, /\nLink tables: <connection>_manager_user\.csv \(Command,userId,id\)\n/);
  assert.match(summary[1]!, /^user +\d+ +\d+ +manager_user$/);
  assert.match(user, /\ninvitedUserEmailAddress +String +required to invite\n/);
  assert.match(await print({ entity: 'servicePrincipal' }), /\nLink tables: none\n/);
});

Command('schemaCommand({entity, json}) prints the same as JSON, for programs', async () => {
  const json = JSON.parse(await print({ entity: 'group', json: true })) as ReturnType<typeof entitySchema>;
  assert.equal(json, entitySchema('group'));
  const all = JSON.parse(await print({ json: true })) as unknown[];
  assert.is(all.length, 4);
});

Command.run();
