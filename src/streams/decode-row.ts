import catalogue from '../graph/graph-entity-properties.json' with { type: 'json' };
import { findProperty, suggestProperty, type EntityName, type PropertyInfo } from '../graph/schema.js';
import { parseLicenceCell } from './license-request.js';

/**
 * DESIGN §3's cell encoding read back with the schema's types: the inverse of the export's encoding.
 * `''` is absent (leave unchanged), the literal `null` clears, scalars are read by their Edm type and
 * collections and complex values are compact JSON.
 */

export type DecodeResult = { ok: true; value: unknown } | { ok: false; message: string };

export type DecodeRowResult =
  | { ok: true; values: Record<string, unknown>; invitation?: Record<string, unknown> }
  | { ok: false; column: string; message: string };

interface RawType {
  baseTypes: string[];
  properties: { name: string; type: string; isCollection: boolean; nullable: boolean }[];
}
const COMPLEX = catalogue.complexTypes as Record<string, RawType>;
const ENUMS = catalogue.enumTypes as Record<string, string[]>;

// Graph refuses to clear these although the CSDL marks them nullable (user-update.md: "displayName
// can't be cleared", "mail can't be set to null"; the others are required on create).
const NOT_CLEARABLE = new Set([
  'displayName',
  'userPrincipalName',
  'mailNickname',
  'accountEnabled',
  'securityEnabled',
  'mailEnabled',
  'mail',
]);

// Cells of these columns may hold a password: error messages describe them without quoting them.
const SECRET_COLUMNS = new Set(['passwordProfile']);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/** True for a GUID in its 8-4-4-4-12 hexadecimal form. */
export function isGuid(value: string): boolean {
  return GUID.test(value);
}

// No spaces or control characters, one @, a dot in the domain: `adele@contoso.onmicrosoft.com`,
// `guest_mail.example#EXT#@contoso.onmicrosoft.com`.
const UPN = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}.]+(?:\.[^\s@\p{Cc}.]+)+$/u;
// group-post-groups.md: ASCII 0-127 without @ ( ) \ [ ] " ; : < > , and space, at most 64.
const MAIL_NICKNAME = /^[\x21-\x7e]{1,64}$/;
const NOT_IN_NICKNAME = /[@()\\[\]";:<>,]/;
// A value that starts like a GUID was meant to be one: a typo in an id is not a mailNickname.
const GUID_LIKE = /^[0-9a-f]{8}-/i;

/** How a cell may name an object where an id is expected. */
export type NameForm = 'id' | 'userPrincipalName' | 'mailNickname';

/**
 * How `value` names an object: a GUID is an id, a value with an `@` a userPrincipalName, any other a
 * mailNickname; undefined when it is none of those the column allows (`forms`).
 * @example nameForm('adele@contoso.com', ['id', 'userPrincipalName']) // 'userPrincipalName'
 */
export function nameForm(value: string, forms: readonly NameForm[]): NameForm | undefined {
  let form: NameForm | undefined;
  if (isGuid(value)) form = 'id';
  else if (value.includes('@')) form = UPN.test(value) ? 'userPrincipalName' : undefined;
  else if (MAIL_NICKNAME.test(value) && !NOT_IN_NICKNAME.test(value) && !GUID_LIKE.test(value))
    form = 'mailNickname';
  return form && forms.includes(form) ? form : undefined;
}

/** `a GUID, a userPrincipalName or a mailNickname`: what a column takes, in words. */
export function describeForms(forms: readonly NameForm[]): string {
  const words = forms.map((f) => (f === 'id' ? 'a GUID' : `a ${f}`));
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)!}` : words[0]!;
}

/** `"abc…"` with long cells cut, so that a message stays one readable line. */
export function quoteCell(cell: string, max = 40): string {
  const cut = cell.length > max ? `${cell.slice(0, max)}…` : cell;
  return JSON.stringify(cut);
}

function validDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se = '0', oh = '0', om = '0'] = m.slice(1).map((x) => x ?? '0');
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  // Date.UTC rolls 2024-02-30 over to March: compare the parts back to reject it.
  return (
    date.getUTCFullYear() === Number(y) &&
    date.getUTCMonth() === Number(mo) - 1 &&
    date.getUTCDate() === Number(d) &&
    Number(h) < 24 &&
    Number(mi) < 60 &&
    Number(se) < 60 &&
    Number(oh) < 24 &&
    Number(om) < 60
  );
}

function describeType(type: string, isCollection: boolean): string {
  if (isCollection) return `a JSON array of ${describeType(type, false).replace(/^an? /, '')} items`;
  switch (type) {
    case 'Edm.Boolean':
      return 'true or false';
    case 'Edm.Int32':
    case 'Edm.Int64':
      return 'a whole number';
    case 'Edm.Double':
    case 'Edm.Single':
    case 'Edm.Decimal':
      return 'a number';
    case 'Edm.Guid':
      return 'a GUID';
    case 'Edm.DateTimeOffset':
      return 'an ISO 8601 date-time with a time zone (2024-05-01T08:00:00Z)';
    case 'Edm.String':
      return 'a string';
  }
  if (ENUMS[type]) return `one of ${ENUMS[type].join(', ')}`;
  if (COMPLEX[type]) return `a JSON object (${type})`;
  return type;
}

function complexProperties(type: string): Map<string, RawType['properties'][number]> {
  const out = new Map<string, RawType['properties'][number]>();
  const t = COMPLEX[type];
  if (!t) return out;
  for (const base of t.baseTypes) for (const [k, v] of complexProperties(base)) out.set(k, v);
  for (const p of t.properties) out.set(p.name, p);
  return out;
}

/** Checks a JSON value against a type; returns what is wrong, or undefined. `path` names the spot. */
function checkJson(value: unknown, type: string, isCollection: boolean, path: string): string | undefined {
  const expected = () => `${path}: expected ${describeType(type, isCollection)}`;
  if (value === null) return undefined;
  if (isCollection) {
    if (!Array.isArray(value)) return expected();
    for (const [i, item] of value.entries()) {
      if (item === null) return `${path}[${i}]: null is not allowed in a collection`;
      const bad = checkJson(item, type, false, `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  switch (type) {
    case 'Edm.Boolean':
      return typeof value === 'boolean' ? undefined : expected();
    case 'Edm.Int32':
    case 'Edm.Int64':
      return Number.isSafeInteger(value) ? undefined : expected();
    case 'Edm.Double':
    case 'Edm.Single':
    case 'Edm.Decimal':
      return typeof value === 'number' ? undefined : expected();
    case 'Edm.Guid':
      return typeof value === 'string' && isGuid(value) ? undefined : expected();
    case 'Edm.DateTimeOffset':
      return typeof value === 'string' && validDateTime(value) ? undefined : expected();
    case 'Edm.String':
    case 'Edm.Binary':
    case 'Edm.Date':
    case 'Edm.TimeOfDay':
    case 'Edm.Duration':
      return typeof value === 'string' ? undefined : expected();
  }
  const members = ENUMS[type];
  if (members) return typeof value === 'string' && members.includes(value) ? undefined : expected();
  if (COMPLEX[type]) {
    if (typeof value !== 'object' || Array.isArray(value)) return expected();
    const props = complexProperties(type);
    // A complex type with no declared property is open (customSecurityAttributeValue): any key goes.
    if (props.size === 0) return undefined;
    for (const [key, v] of Object.entries(value)) {
      if (key.startsWith('@odata.')) continue;
      const p = props.get(key);
      if (!p)
        return `${path}: ${type} has no property ${JSON.stringify(key)} (it has ${[...props.keys()].join(', ')})`;
      const bad = checkJson(v, p.type, p.isCollection, `${path}.${key}`);
      if (bad) return bad;
    }
    return undefined;
  }
  // A type outside the catalogue (an entity reached through a complex type): nothing to check against.
  return undefined;
}

/**
 * Decodes one cell for `property`. `''` gives `value: undefined` (absent: leave unchanged); `null` gives
 * `null` (clear), or `[]` for a collection, since Graph clears a collection by replacing it with an empty one.
 * Booleans accept any case (`TRUE` is what spreadsheets write back); enums accept any case and are
 * normalised to the schema's spelling.
 *
 * @example decodeCell('["+1 425 555 0109"]', findProperty('user', 'businessPhones')!) // { ok: true, value: ['+1 425 555 0109'] }
 */
export function decodeCell(cell: string, property: PropertyInfo): DecodeResult {
  const { name, type, isCollection } = property;
  if (cell === '') return { ok: true, value: undefined };
  if (cell === 'null') {
    if (isCollection) return { ok: true, value: [] };
    if (!property.nullable || NOT_CLEARABLE.has(name))
      return { ok: false, message: `column ${name}: cannot be cleared (null), Graph requires a value` };
    return { ok: true, value: null };
  }
  const found = SECRET_COLUMNS.has(name) ? `a value of ${cell.length} characters` : quoteCell(cell);
  const fail = (why = `expected ${describeType(type, isCollection)}`): DecodeResult => ({
    ok: false,
    message: `column ${name}: ${why}, found ${found}`,
  });

  if (isCollection || property.complex) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(cell);
    } catch {
      return fail(`expected ${describeType(type, isCollection)} in JSON`);
    }
    const bad = checkJson(parsed, type, isCollection, name);
    if (bad) return { ok: false, message: `column ${bad}, found ${found}` };
    return { ok: true, value: parsed };
  }
  switch (type) {
    case 'Edm.Boolean': {
      const lower = cell.toLowerCase();
      return lower === 'true' || lower === 'false' ? { ok: true, value: lower === 'true' } : fail();
    }
    case 'Edm.Int32':
    case 'Edm.Int64': {
      const n = Number(cell);
      const inRange = type === 'Edm.Int64' ? Number.isSafeInteger(n) : n >= -(2 ** 31) && n < 2 ** 31;
      return NUMBER.test(cell) && Number.isInteger(n) && inRange ? { ok: true, value: n } : fail();
    }
    case 'Edm.Double':
    case 'Edm.Single':
    case 'Edm.Decimal':
      return NUMBER.test(cell) && Number.isFinite(Number(cell)) ? { ok: true, value: Number(cell) } : fail();
    case 'Edm.Guid':
      return isGuid(cell) ? { ok: true, value: cell } : fail();
    case 'Edm.DateTimeOffset':
      return validDateTime(cell) ? { ok: true, value: cell } : fail();
  }
  const members = ENUMS[type];
  if (members) {
    const member = members.find((m) => m.toLowerCase() === cell.toLowerCase());
    return member === undefined ? fail() : { ok: true, value: member };
  }
  return { ok: true, value: cell };
}

/**
 * The columns of a user `insert` row that invites a guest (invitation-post.md): not user properties but
 * the invitation's, sent as `POST /invitations`. `invitedUserEmailAddress` makes the row an invitation.
 */
export const INVITATION_COLUMNS = [
  'invitedUserEmailAddress',
  'inviteRedirectUrl',
  'sendInvitationMessage',
  'invitedUserDisplayName',
  'invitedUserMessageInfo',
  'invitedUserType',
] as const;

const INVITATION = new Set<string>(INVITATION_COLUMNS);
const MESSAGE_INFO_KEYS = ['ccRecipients', 'customizedMessageBody', 'messageLanguage'];

/** True for a column of the invitation (see {@link INVITATION_COLUMNS}). */
export function isInvitationColumn(name: string): boolean {
  return INVITATION.has(name);
}

/**
 * Decodes one invitation cell. The address is only checked for an `@` and no spaces: whether Graph takes
 * it is Graph's to say (its message becomes the row's).
 */
export function decodeInvitationCell(column: string, cell: string): DecodeResult {
  const fail = (expected: string): DecodeResult => ({
    ok: false,
    message: `column ${column}: expected ${expected}, found ${quoteCell(cell)}`,
  });
  if (cell === 'null') return { ok: true, value: undefined };
  switch (column) {
    case 'invitedUserEmailAddress':
      return /^[^\s@]+@[^\s@]+$/.test(cell) ? { ok: true, value: cell } : fail('an email address');
    case 'inviteRedirectUrl':
      return /^https?:\/\/[^\s/]+\S*$/i.test(cell)
        ? { ok: true, value: cell }
        : fail('an absolute http(s) URL');
    case 'sendInvitationMessage': {
      const lower = cell.toLowerCase();
      return lower === 'true' || lower === 'false'
        ? { ok: true, value: lower === 'true' }
        : fail('true or false');
    }
    case 'invitedUserType': {
      const type = ['Guest', 'Member'].find((t) => t.toLowerCase() === cell.toLowerCase());
      return type ? { ok: true, value: type } : fail('Guest or Member');
    }
    case 'invitedUserMessageInfo': {
      const expected = `a JSON object with ${MESSAGE_INFO_KEYS.join(', ')}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(cell);
      } catch {
        return fail(expected);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail(expected);
      const info = parsed as Record<string, unknown>;
      const unknownKey = Object.keys(info).find((k) => !MESSAGE_INFO_KEYS.includes(k));
      if (unknownKey) return fail(`${expected} (not ${JSON.stringify(unknownKey)})`);
      if (info.ccRecipients !== undefined && !Array.isArray(info.ccRecipients))
        return fail(`${expected}, ccRecipients an array of {"emailAddress":{"address":...}}`);
      return { ok: true, value: info };
    }
    default:
      return { ok: true, value: cell };
  }
}

/**
 * Why `name` cannot be written on `entity`, or undefined when it can: unknown, navigation (links go through
 * link files), Get-only, or read-only.
 */
export function unwritableReason(entity: EntityName, name: string): string | undefined {
  // Written through its own action (POST /users/{id}/assignLicense), not in the PATCH body.
  if (entity === 'user' && name === 'assignedLicenses') return undefined;
  // Sent as the invitation of a guest, not in the user's body.
  if (entity === 'user' && INVITATION.has(name)) return undefined;
  const p = findProperty(entity, name);
  if (!p) {
    const hint = suggestProperty(entity, name);
    return `${name} is not a property of ${entity}${hint ? ` (did you mean ${hint}?)` : ''}`;
  }
  if (p.kind === 'navigation')
    return `${name} is a navigation property of ${entity}: write it through a *_${name}_${entity}.csv link file`;
  if (p.getOnly) return `${name} is returned only by a single-object GET and cannot be written here`;
  if (p.readOnly) return `${name} is read-only on ${entity}`;
  return undefined;
}

/**
 * Decodes the attribute cells of one object row for `entity`: only non-empty cells end up in `values`.
 * The first unwritable column or undecodable cell fails the row.
 */
export function decodeObjectRow(entity: EntityName, cells: Record<string, string>): DecodeRowResult {
  const values: Record<string, unknown> = {};
  let invitation: Record<string, unknown> | undefined;
  for (const [column, cell] of Object.entries(cells)) {
    if (cell === '') continue;
    const unwritable = unwritableReason(entity, column);
    if (unwritable) return { ok: false, column, message: `column ${unwritable}` };
    if (entity === 'user' && INVITATION.has(column)) {
      const decoded = decodeInvitationCell(column, cell);
      if (!decoded.ok) return { ok: false, column, message: decoded.message };
      if (decoded.value !== undefined) (invitation ??= {})[column] = decoded.value;
      continue;
    }
    if (entity === 'user' && column === 'assignedLicenses') {
      const licences = parseLicenceCell(cell);
      if (!licences.ok) return { ok: false, column, message: licences.message };
      values[column] = licences.value;
      continue;
    }
    const decoded = decodeCell(cell, findProperty(entity, column)!);
    if (!decoded.ok) return { ok: false, column, message: decoded.message };
    values[column] = decoded.value;
  }
  return { ok: true, values, ...(invitation ? { invitation } : {}) };
}
