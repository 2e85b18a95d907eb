import catalogue from '../graph/graph-entity-properties.json' with { type: 'json' };
import { findProperty, type EntityName, type PropertyInfo } from '../graph/schema.js';

/**
 * Graph's checks of a POST/PATCH body, in Graph's own words. Messages follow what the directory
 * service answers (graph-protocol.md §8); each returns undefined when the value is fine.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
/** userPrincipalName alias characters (user-post-users.md). */
const UPN_ALIAS = /^[A-Za-z0-9'.\-_!#^~]+$/;
/** mailNickname: ASCII 0-127 except @ ( ) \ [ ] " ; : < > , and space (group-post-groups.md). */
const MAIL_NICKNAME = /^[\x21-\x7e]+$/;
const MAIL_NICKNAME_FORBIDDEN = /[@()\\[\]";:<>,]/;

function resource(entity: EntityName): string {
  return entity[0]!.toUpperCase() + entity.slice(1);
}

export function invalidValue(entity: EntityName, prop: string): string {
  return `Invalid value specified for property '${prop}' of resource '${resource(entity)}'.`;
}

export function requiredValue(entity: EntityName, prop: string): string {
  return `A value is required for property '${prop}' of resource '${resource(entity)}'.`;
}

/** Checks one body property against the schema; returns Graph's message for a bad one. */
export function checkProperty(entity: EntityName, name: string, value: unknown): string | undefined {
  const property = findProperty(entity, name);
  if (!property || property.kind === 'navigation')
    return `Property '${name}' does not exist as a declared property or extension property.`;
  if (property.readOnly || property.getOnly) return `Property '${name}' is read-only and cannot be set.`;
  if (value === null) return property.nullable ? undefined : invalidValue(entity, name);
  if (property.isCollection) {
    if (!Array.isArray(value)) return invalidValue(entity, name);
    return value.every((v) => matchesType(property, v)) ? undefined : invalidValue(entity, name);
  }
  return matchesType(property, value) ? undefined : invalidValue(entity, name);
}

type ComplexTypes = Record<string, { properties: { name: string; type: string; isCollection: boolean }[] }>;
const complexTypes = catalogue.complexTypes as unknown as ComplexTypes;

function matchesType(property: Pick<PropertyInfo, 'type' | 'complex' | 'isEnum'>, v: unknown): boolean {
  if (property.complex) return isComplex(property.type, v);
  if (property.isEnum) return typeof v === 'string';
  switch (property.type) {
    case 'Edm.Boolean':
      return typeof v === 'boolean';
    case 'Edm.Int32':
    case 'Edm.Int64':
      return Number.isInteger(v);
    case 'Edm.Double':
      return typeof v === 'number';
    case 'Edm.Guid':
      return typeof v === 'string' && GUID.test(v);
    case 'Edm.DateTimeOffset':
      return typeof v === 'string' && ISO_DATE.test(v);
    default:
      return typeof v === 'string';
  }
}

function isComplex(type: string, v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const t = complexTypes[type];
  if (!t) return true;
  for (const [key, inner] of Object.entries(v)) {
    if (key.startsWith('@odata.')) continue;
    const p = t.properties.find((x) => x.name === key);
    if (!p) return false;
    if (inner === null) continue;
    const info = {
      type: p.type,
      complex: p.type in complexTypes,
      isEnum: !p.type.startsWith('Edm.') && !(p.type in complexTypes),
    };
    if (
      p.isCollection
        ? !Array.isArray(inner) || !inner.every((x) => matchesType(info, x))
        : !matchesType(info, inner)
    )
      return false;
  }
  return true;
}

/** userPrincipalName: `alias@verifiedDomain`, alias from Graph's allowed characters. */
export function checkUserPrincipalName(upn: string, domains: string[]): string | undefined {
  const at = upn.lastIndexOf('@');
  const alias = upn.slice(0, at);
  const domain = upn.slice(at + 1).toLowerCase();
  if (at <= 0 || !UPN_ALIAS.test(alias) || alias.startsWith('.') || alias.endsWith('.') || alias.length > 64)
    return invalidValue('user', 'userPrincipalName');
  if (!domains.some((d) => d.toLowerCase() === domain))
    return 'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.';
  return undefined;
}

export function checkMailNickname(entity: EntityName, nick: string): string | undefined {
  if (!MAIL_NICKNAME.test(nick) || MAIL_NICKNAME_FORBIDDEN.test(nick) || nick.length > 64)
    return invalidValue(entity, 'mailNickname');
  return undefined;
}

/**
 * Entra's default password policy: 8 to 256 characters, three of lower case, upper case, digits and
 * symbols, no spaces... and not the user's alias.
 */
export function checkPassword(password: unknown, alias: string): string | undefined {
  const message =
    'The specified password does not comply with password complexity requirements. Please provide a different password.';
  if (typeof password !== 'string' || password.length < 8 || password.length > 256 || /\s/.test(password))
    return message;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3) return message;
  if (alias.length >= 3 && password.toLowerCase().includes(alias.toLowerCase())) return message;
  return undefined;
}
