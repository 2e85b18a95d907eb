import { readFile } from 'node:fs/promises';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UsageError } from '../errors.js';
import { closest, didYouMean } from '../suggest.js';
import {
  entityFromOdataType,
  entityInfo,
  findProperty,
  suggestProperty,
  type EntityName,
} from '../graph/schema.js';
import { compareColumns } from '../streams/export-tables.js';
import type { EntityMapping, Mapping } from '../types.js';
import { parseJsonText } from './settings.js';

export type { EntityMapping, LinkTable, Mapping } from '../types.js';
export { compareColumns, directoryObjectColumns, linkTables } from '../streams/export-tables.js';

/** The entities the export handles (the Identity Manager default `C0`), in export order. */
export const EXPORT_ENTITIES = ['user', 'group', 'directoryRole', 'servicePrincipal'] as const;

/** A mapping file, parsed and checked: the attribute and navigation names listed per entity. */
export interface MappingFile {
  origin: string;
  entities: Map<EntityName, string[]>;
}

/** The built-in attribute sets: what an identity engineer usually reconciles. */
export const DEFAULT_ATTRIBUTES: Record<(typeof EXPORT_ENTITIES)[number], readonly string[]> = {
  user: [
    'accountEnabled', 'businessPhones', 'city', 'companyName', 'country', 'createdDateTime', 'department',
    'displayName', 'employeeHireDate', 'employeeId', 'employeeOrgData', 'employeeType', 'externalUserState',
    'givenName', 'jobTitle', 'mail', 'mailNickname', 'mobilePhone', 'officeLocation', 'onPremisesImmutableId',
    'onPremisesSamAccountName', 'onPremisesSyncEnabled', 'otherMails', 'preferredLanguage', 'proxyAddresses',
    'surname', 'usageLocation', 'userPrincipalName', 'userType',
  ],
  group: [
    'classification', 'createdDateTime', 'description', 'displayName', 'groupTypes', 'isAssignableToRole',
    'mail', 'mailEnabled', 'mailNickname', 'membershipRule', 'onPremisesSyncEnabled', 'proxyAddresses',
    'securityEnabled', 'visibility', 'members', 'owners',
  ],
  directoryRole: ['description', 'displayName', 'roleTemplateId', 'members'],
  servicePrincipal: [
    'accountEnabled', 'appDisplayName', 'appId', 'appOwnerOrganizationId', 'appRoleAssignmentRequired',
    'displayName', 'servicePrincipalNames', 'servicePrincipalType', 'tags',
  ],
}; // prettier-ignore

export interface MappingOptions {
  /** `--entities` values; each may hold a comma-separated list. */
  entities?: string[];
  /** `--select` values: `user=displayName,mail`, repeatable. */
  select?: string[];
  /** The `--mapping` file, from {@link readMappingFile}. */
  file?: MappingFile;
}

/**
 * Resolves what to export. The CLI wins over the mapping file, which wins over the built-in default:
 * - entities: `--entities` if given, else the entities named by `--select`, else the file's, else all four;
 * - attributes of each entity: its `--select` list, else the file's list, else {@link DEFAULT_ATTRIBUTES}.
 * So `--entities user` exports users with the default user attributes (or the file's, with `--mapping`),
 * and `--select user=mail` alone exports only users, with `id` and `mail`.
 */
export function resolveMapping(options: MappingOptions = {}): Mapping {
  const problems: string[] = [];
  const selected = new Map<EntityName, string[]>();
  for (const spec of options.select ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 0) {
      problems.push(`--select ${spec}: expected <entity>=<attribute>,<attribute>...`);
      continue;
    }
    const entity = entityNamed(spec.slice(0, eq).trim());
    if (!entity) {
      problems.push(unknownEntity(spec.slice(0, eq).trim(), '--select'));
      continue;
    }
    const names = splitList(spec.slice(eq + 1));
    if (names.length === 0) problems.push(`--select ${spec}: no attribute listed for ${entity}`);
    for (const name of names) {
      const v = classify(entity, name);
      if ('error' in v) problems.push(`--select: ${v.error}`);
    }
    selected.set(entity, [...(selected.get(entity) ?? []), ...names]);
  }
  const listed: EntityName[] = [];
  for (const name of (options.entities ?? []).flatMap(splitList)) {
    const entity = entityNamed(name);
    if (entity) listed.push(entity);
    else problems.push(unknownEntity(name, '--entities'));
  }
  throwProblems(problems, options.select?.length ? '--select' : '--entities');
  if (options.entities && listed.length === 0) throw mappingError('--entities lists no entity');
  for (const entity of selected.keys())
    if (listed.length && !listed.includes(entity))
      throw mappingError(`--select names ${entity}, which --entities does not list (${listed.join(', ')})`);
  const wanted: EntityName[] = listed.length
    ? listed
    : selected.size
      ? [...selected.keys()]
      : options.file
        ? [...options.file.entities.keys()]
        : [...EXPORT_ENTITIES];
  const entities = EXPORT_ENTITIES.filter((e) => wanted.includes(e)).map((entity) =>
    buildEntity(
      entity,
      selected.get(entity) ?? options.file?.entities.get(entity) ?? DEFAULT_ATTRIBUTES[entity],
    ),
  );
  if (entities.length === 0)
    throw mappingError(`${options.file?.origin ?? 'the mapping'} lists no entity to export`);
  return { entities };
}

/** The link tables of a connection, as an Identity Manager mapping names them. */
function linkTableNames(connection: string): string[] {
  return EXPORT_ENTITIES.flatMap((entity) =>
    entityInfo(entity).linkNavigations.map((nav) => `${connection}_${nav}_${entity}`),
  );
}

/** Reads a `--mapping` file: JSON (`{ "entities": {...} }`) or Identity Manager XML, told apart by content. */
export async function readMappingFile(path: string, connection?: string): Promise<MappingFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw mappingError(`cannot read mapping file ${path}: ${code === 'ENOENT' ? 'not found' : code}`, error);
  }
  return parseMappingText(text, path, connection);
}

/**
 * Parses mapping text. XML: every `EntityTypeMapping` whose `ConnectionTable` is
 * `<connection>_directoryobjects`, anywhere in the document, lists one attribute set for all entities
 * of its `C0`; an attribute some of them lack is left out for those, and is an error only when none has it.
 * `EntityAssociationMapping`s with `ConnectionTable="<connection>_members_group"` (or owners_group,
 * members_directoryRole, manager_user) add that navigation.
 */
export function parseMappingText(text: string, origin: string, connection?: string): MappingFile {
  const body = text.replace(/^\uFEFF/, '').trimStart();
  return body.startsWith('<') ? parseXml(body, origin, connection) : parseJson(text, origin);
}

/** The `$select` value of an entity: attributes then navigations, in a stable order. */
export function selectQuery(m: EntityMapping): string {
  return [...m.attributes, ...m.navigations].join(',');
}

/** `manager of user, members and owners of group, members of directoryRole`: for error messages. */
const EXPORTED_LINKS = EXPORT_ENTITIES.filter((e) => entityInfo(e).linkNavigations.length)
  .map((e) => `${entityInfo(e).linkNavigations.join(' and ')} of ${e}`)
  .join(', ');

type Verdict = { kind: 'attribute' | 'navigation' } | { error: string; unknown: boolean };

function classify(entity: EntityName, name: string): Verdict {
  const p = findProperty(entity, name);
  if (!p) {
    const hint = suggestProperty(entity, name);
    const error = `unknown attribute '${name}' for ${entity}${hint ? ` (did you mean '${hint}'?)` : ''}`;
    return { error, unknown: true };
  }
  if (p.kind === 'navigation') {
    if (entityInfo(entity).linkNavigations.includes(name)) return { kind: 'navigation' };
    const error = `'${name}' of ${entity} is a navigation property that is not exported (links exported: ${EXPORTED_LINKS})`;
    return { error, unknown: false };
  }
  if (p.getOnly) {
    const error = `attribute '${name}' of ${entity} is returned by Graph only on a single-object GET (GET /${entityInfo(entity).collection}/{id}), never by delta: remove it`;
    return { error, unknown: false };
  }
  return { kind: 'attribute' };
}

function buildEntity(entity: EntityName, names: readonly string[]): EntityMapping {
  const attributes = new Set(['id']);
  const navigations = new Set<string>();
  for (const name of names) {
    const v = classify(entity, name);
    if ('kind' in v) (v.kind === 'navigation' ? navigations : attributes).add(name);
  }
  const order = entityInfo(entity).linkNavigations;
  return {
    entity,
    attributes: [...attributes].sort(compareColumns),
    navigations: order.filter((n) => navigations.has(n)),
  };
}

/** The export entity `name` means, ignoring case (`User`, `#microsoft.graph.user`), if any. */
function entityNamed(name: string): EntityName | undefined {
  return (
    EXPORT_ENTITIES.find((e) => e.toLowerCase() === name.toLowerCase()) ??
    EXPORT_ENTITIES.find((e) => e === entityFromOdataType(name))
  );
}

function unknownEntity(name: string, origin: string): string {
  return `${origin}: unknown entity '${name}'${didYouMean(name, EXPORT_ENTITIES)}; valid: ${EXPORT_ENTITIES.join(', ')}`;
}

/** Throws the problems found: one as its own message, several as lines under `N errors in <where>:`. */
function throwProblems(problems: string[], where: string): void {
  if (problems.length === 1) throw mappingError(problems[0]!);
  if (problems.length > 1)
    throw new UsageError('ERR_MAPPING', `${problems.length} errors in ${where}:`, { context: problems });
}

function splitList(list: string): string[] {
  return list
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function mappingError(message: string, cause?: unknown): UsageError {
  return new UsageError('ERR_MAPPING', message, cause === undefined ? {} : { cause });
}

function parseJson(text: string, origin: string): MappingFile {
  const json = parseJsonText(text, origin, 'ERR_MAPPING') as Record<string, unknown> | null;
  const shape = `${origin}: expected { "entities": { "user": ["displayName", ...], ... } }`;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw mappingError(shape);
  for (const key of Object.keys(json))
    if (key !== 'entities' && !key.startsWith('$'))
      throw mappingError(`${origin}: unknown key '${key}'; ${shape}`);
  const listed = json.entities;
  if (typeof listed !== 'object' || listed === null || Array.isArray(listed)) throw mappingError(shape);
  const entities = new Map<EntityName, string[]>();
  const problems: string[] = [];
  for (const [key, names] of Object.entries(listed)) {
    const entity = entityNamed(key);
    if (!entity) {
      problems.push(unknownEntity(key, origin));
      continue;
    }
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      problems.push(`${origin}: entities.${key} must be an array of attribute names`);
      continue;
    }
    for (const name of names as string[]) {
      const v = classify(entity, name);
      if ('error' in v) problems.push(`${origin}: entities.${key}: ${v.error}`);
    }
    entities.set(entity, names as string[]);
  }
  throwProblems(problems, origin);
  return { origin, entities };
}

type XmlNode = Record<string, unknown>;

function attr(node: XmlNode, name: string): string | undefined {
  const value = node[`@${name}`];
  return typeof value === 'string' ? value : undefined;
}

/** Where the first `<!DOCTYPE` or `<!ENTITY` of `text` is, as `line:column`, if any. */
function doctypeAt(text: string): string | undefined {
  const at = text.search(/<!(DOCTYPE|ENTITY)\b/i);
  if (at < 0) return undefined;
  const before = text.slice(0, at);
  return `${before.split('\n').length}:${at - before.lastIndexOf('\n')}`;
}

function parseXml(text: string, origin: string, connection?: string): MappingFile {
  // Entities are how XML reads other files (XXE) or blows up (billion laughs); mappings need none.
  const doctype = doctypeAt(text);
  if (doctype)
    throw mappingError(
      `${origin}:${doctype}: a DOCTYPE (which may define entities) is not allowed in a mapping file: remove it`,
    );
  const valid = XMLValidator.validate(text);
  if (valid !== true)
    throw mappingError(`${origin}:${valid.err.line}:${valid.err.col}: malformed XML: ${valid.err.msg}`);
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    parseAttributeValue: false,
    isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  }).parse(text) as XmlNode;
  const types: XmlNode[] = [];
  const links: XmlNode[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'EntityTypeMapping') types.push(...(child as XmlNode[]));
      if (key === 'EntityAssociationMapping') links.push(...(child as XmlNode[]));
      if (!key.startsWith('@')) walk(child);
    }
  };
  walk(doc);
  const table = (node: XmlNode): string => attr(node, 'ConnectionTable') ?? '';
  const ours = (suffix: RegExp) => (node: XmlNode) => {
    const m = suffix.exec(table(node));
    return m !== null && (connection === undefined || m[1]!.toLowerCase() === connection.toLowerCase());
  };
  const mine = types.filter(ours(/^(.*)_directoryobjects$/i));
  if (mine.length === 0) {
    const found = types.map(table).filter(Boolean).join(', ') || 'none';
    throw mappingError(
      `${origin}: no EntityTypeMapping with ConnectionTable="${connection ?? '<connection>'}_directoryobjects" (found: ${found})`,
    );
  }
  const entities = new Map<EntityName, string[]>();
  const problems: string[] = [];
  const add = (entity: EntityName, name: string) =>
    entities.set(entity, [...(entities.get(entity) ?? []), name]);
  for (const node of mine) {
    const where = `${origin}: EntityTypeMapping '${attr(node, 'Identifier') ?? table(node)}'`;
    const listed: EntityName[] = [];
    for (const name of splitList(attr(node, 'C0') ?? EXPORT_ENTITIES.join(' '))) {
      const entity = entityNamed(name);
      if (entity) listed.push(entity);
      else problems.push(unknownEntity(name, `${where} C0`));
    }
    for (const entity of listed) if (!entities.has(entity)) entities.set(entity, []);
    for (const property of (node.Property ?? []) as XmlNode[]) {
      const column = attr(property, 'ConnectionColumn');
      const id = attr(property, 'Identifier') ?? '?';
      if (typeof column !== 'string' || !column) {
        problems.push(`${where}, Property '${id}': ConnectionColumn is missing`);
        continue;
      }
      if (listed.length === 0) continue;
      const verdicts = listed.map((entity) => [entity, classify(entity, column)] as const);
      const fits = verdicts.filter(([, v]) => 'kind' in v);
      for (const [entity] of fits) add(entity, column);
      if (fits.length > 0) continue;
      const errors = verdicts.map(([, v]) => v as { error: string; unknown: boolean });
      const specific = errors.find((e) => !e.unknown)?.error;
      const hint = listed.map((e) => suggestProperty(e, column)).find(Boolean);
      const unknown = `unknown attribute '${column}' for ${listed.join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}`;
      problems.push(`${where}, Property '${id}': ${specific ?? unknown}`);
    }
  }
  const LINK = new RegExp(
    `^(.*)_(${[...new Set(EXPORT_ENTITIES.flatMap((e) => entityInfo(e).linkNavigations))].join('|')})_(${EXPORT_ENTITIES.filter((e) => entityInfo(e).linkNavigations.length).join('|')})$`,
    'i',
  );
  // The connections this file maps: a link table of theirs that is not one of ours is a typo, not
  // another connector's table, and would silently drop the links it meant.
  const prefixes = mine.map((n) => table(n).replace(/_directoryobjects$/i, ''));
  for (const node of links) {
    const name = table(node);
    const where = `${origin}: EntityAssociationMapping ConnectionTable="${name}"`;
    const m = LINK.exec(name);
    if (!m || !ours(LINK)(node)) {
      const prefix = prefixes.find((p) => name.toLowerCase().startsWith(`${p.toLowerCase()}_`));
      if (!prefix) continue;
      const tables = linkTableNames(prefix);
      const near = closest(name, tables);
      if (near || /_(members|owners|manager)_|_(user|group|directoryRole)$/i.test(name))
        problems.push(
          `${where}: not a link table of this connector${near ? ` (did you mean '${near}'?)` : ''}; link tables: ${tables.join(', ')}`,
        );
      continue;
    }
    const entity = entityNamed(m[3]!)!;
    const nav = m[2]!.toLowerCase();
    if (!entities.has(entity)) {
      problems.push(`${where}: ${entity} is not in any C0 of the mapping`);
      continue;
    }
    const v = classify(entity, nav);
    if ('error' in v) problems.push(`${where}: ${v.error}`);
    else add(entity, nav);
  }
  throwProblems(problems, origin);
  return { origin, entities };
}
