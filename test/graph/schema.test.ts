import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  entityFromOdataType,
  entityInfo,
  findProperty,
  isDirectoryExtension,
  suggestProperty,
} from '../../src/graph/schema.js';

const FindProperty = suite('findProperty');

FindProperty('findProperty(user, name) types strings, booleans, collections and complex values', () => {
  assert.is(findProperty('user', 'displayName')?.type, 'Edm.String');
  assert.is(findProperty('user', 'accountEnabled')?.type, 'Edm.Boolean');
  assert.is(findProperty('user', 'businessPhones')?.isCollection, true);
  assert.is(findProperty('user', 'passwordProfile')?.complex, true);
  assert.is(findProperty('user', 'nonsense'), undefined);
});

FindProperty('findProperty(user, name) flags Get-only and read-only properties', () => {
  assert.is(findProperty('user', 'birthday')?.getOnly, true);
  assert.is(findProperty('user', 'mail')?.getOnly, false);
  assert.is(findProperty('user', 'createdDateTime')?.readOnly, true);
  assert.is(findProperty('group', 'members')?.kind, 'navigation');
});

FindProperty('findProperty(entity, extension_...) accepts directory extensions', () => {
  const p = findProperty('user', 'extension_b7d8e648520f41d3b9c0fdeb91768a0a_jobGroupTracker');
  assert.is(p?.type, 'Edm.String');
  assert.ok(isDirectoryExtension('extension_b7d8e648520f41d3b9c0fdeb91768a0a_x'));
  assert.not.ok(isDirectoryExtension('extension_short_x'));
});

FindProperty.run();

// ---

const Lookups = suite('entity lookups');

Lookups('entityFromOdataType() maps both forms and rejects others', () => {
  assert.is(entityFromOdataType('#microsoft.graph.user'), 'user');
  assert.is(entityFromOdataType('microsoft.graph.directoryRole'), 'directoryRole');
  assert.is(entityFromOdataType('#microsoft.graph.application'), undefined);
  assert.is(entityFromOdataType('user'), undefined);
});

Lookups('entityInfo(group) knows its collection, links and required properties', () => {
  const g = entityInfo('group');
  assert.is(g.collection, 'groups');
  assert.equal(g.linkNavigations, ['members', 'owners']);
  assert.ok(g.requiredOnCreate.includes('securityEnabled'));
});

Lookups('suggestProperty() finds the right case', () => {
  assert.is(suggestProperty('user', 'DISPLAYNAME'), 'displayName');
});

Lookups.run();
