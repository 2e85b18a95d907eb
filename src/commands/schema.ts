import { UsageError } from '../errors.js';
import { entityInfo, type PropertyInfo } from '../graph/schema.js';
import { INVITATION_COLUMNS } from '../streams/decode-row.js';
import { DEFAULT_ATTRIBUTES, EXPORT_ENTITIES } from '../settings/mapping.js';
import { didYouMean } from '../suggest.js';
import type { CommonOptions } from './process-io.js';

export interface SchemaArgs extends CommonOptions {
  entity?: string;
  json?: boolean;
}

type ExportEntity = (typeof EXPORT_ENTITIES)[number];

/** One attribute as `entra schema` describes it. */
export interface AttributeSchema {
  name: string;
  /** `String`, `Boolean`, `DateTimeOffset`, `passwordProfile` (complex, JSON in CSV cells), with `[]` for collections. */
  type: string;
  /** `delta`: exported; `get-only`: Graph returns it only on a single-object GET, so it cannot be exported. */
  export: 'delta' | 'get-only';
  /**
   * `writable` by fulfill, `read-only`, `required` on create (and writable), or `assignLicense`: written by
   * update rows through their own action (a user's `assignedLicenses`).
   */
  write: 'writable' | 'read-only' | 'required' | 'assignLicense';
  /** In the built-in attribute set (exported without --select or --mapping). */
  default: boolean;
}

export interface EntitySchema {
  entity: ExportEntity;
  odataType: string;
  collection: string;
  attributes: AttributeSchema[];
  /** Navigations exported as link tables `<connection>_<navigation>_<entity>.csv`. */
  links: { navigation: string; table: string; columns: string[]; default: boolean }[];
  /** Other navigation properties, which are not exported. */
  otherNavigations: string[];
  /**
   * Users only: the columns of an insert row that invites a guest (`POST /invitations`), which are the
   * invitation's, not the user's; the row's other columns are set on the guest afterwards.
   */
  invitationColumns?: { name: string; type: string; required: boolean }[];
}

/** invitation.md's properties that an insert row may give. */
const INVITATION_TYPES: Record<(typeof INVITATION_COLUMNS)[number], string> = {
  invitedUserEmailAddress: 'String',
  inviteRedirectUrl: 'String',
  sendInvitationMessage: 'Boolean',
  invitedUserDisplayName: 'String',
  invitedUserMessageInfo: 'invitedUserMessageInfo',
  invitedUserType: 'String',
};

function typeName(p: PropertyInfo): string {
  const base = p.type.replace(/^Edm\./, '').replace(/^microsoft\.graph\./, '');
  return p.isCollection ? `${base}[]` : base;
}

/** What the connector can export and write of `entity`, from the v1.0 property catalogue. */
export function entitySchema(entity: ExportEntity): EntitySchema {
  const info = entityInfo(entity);
  const defaults = new Set<string>(DEFAULT_ATTRIBUTES[entity]);
  const required = new Set(info.requiredOnCreate);
  const all = [...info.properties.values()];
  return {
    entity,
    odataType: info.odataType,
    collection: info.collection,
    attributes: all
      .filter((p) => p.kind === 'structural')
      .map((p) => ({
        name: p.name,
        type: typeName(p),
        export: p.getOnly ? 'get-only' : 'delta',
        write:
          entity === 'user' && p.name === 'assignedLicenses'
            ? 'assignLicense'
            : required.has(p.name)
              ? 'required'
              : p.readOnly
                ? 'read-only'
                : 'writable',
        default: defaults.has(p.name) || p.name === 'id',
      })),
    links: info.linkNavigations.map((navigation) => ({
      navigation,
      table: `${navigation}_${entity}`,
      columns: ['Command', `${entity}Id`, 'id'],
      default: defaults.has(navigation),
    })),
    otherNavigations: all
      .filter((p) => p.kind === 'navigation' && !info.linkNavigations.includes(p.name))
      .map((p) => p.name),
    ...(entity === 'user'
      ? {
          invitationColumns: INVITATION_COLUMNS.map((name) => ({
            name,
            type: INVITATION_TYPES[name],
            required: name === 'invitedUserEmailAddress' || name === 'inviteRedirectUrl',
          })),
        }
      : {}),
  };
}

/** The export entity `name` names (any case, or `#microsoft.graph.<entity>`), or a usage error. */
export function exportEntity(name: string): ExportEntity {
  const bare = name.replace(/^#?microsoft\.graph\./, '').toLowerCase();
  const found = EXPORT_ENTITIES.find((e) => e.toLowerCase() === bare);
  if (found) return found;
  throw new UsageError(
    'ERR_USAGE',
    `unknown entity '${name}'${didYouMean(name, EXPORT_ENTITIES)}; entities: ${EXPORT_ENTITIES.join(', ')}`,
  );
}

/** Left-aligned columns, two spaces apart. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** The text `entra schema ENTITY` prints. */
export function describeEntity(s: EntitySchema): string[] {
  const exportable = s.attributes.filter((a) => a.export === 'delta').length;
  return [
    `${s.entity} (${s.odataType}, /${s.collection}): ${exportable} exportable attributes, * in the default set`,
    '',
    ...table([
      ['attribute', 'type', 'export', 'fulfill'],
      ...s.attributes.map((a) => [
        `${a.name}${a.default ? ' *' : ''}`,
        a.type,
        a.export === 'delta' ? 'yes' : 'no: Get-only',
        a.write === 'required'
          ? 'required on create'
          : a.write === 'assignLicense'
            ? 'update rows, through assignLicense'
            : a.write,
      ]),
    ]),
    '',
    s.links.length
      ? `Link tables: ${s.links.map((l) => `<connection>_${l.table}.csv (${l.columns.join(',')})${l.default ? ' *' : ''}`).join(', ')}`
      : 'Link tables: none',
    `Other navigation properties (not exported): ${s.otherNavigations.join(', ') || 'none'}`,
    'Directory extensions extension_<appId without dashes>_<name> are exported as strings.',
    ...(s.entity === 'user'
      ? [
          "Licences: assignedLicenses cells name skuIds or skuPartNumbers; entra skus lists the tenant's SKUs.",
        ]
      : []),
    ...(s.invitationColumns
      ? [
          '',
          'Guests: an insert row with an invitedUserEmailAddress cell invites a guest (POST /invitations, needs',
          'User.Invite.All); its other columns are set on the guest afterwards. Invitation columns:',
          ...table([
            ['column', 'type', 'fulfill'],
            ...s.invitationColumns.map((c) => [
              c.name,
              c.type,
              c.required ? 'required to invite' : 'optional',
            ]),
          ]),
        ]
      : []),
  ];
}

/** The text `entra schema` prints: one line per entity. */
export function describeEntities(list: EntitySchema[]): string[] {
  return [
    ...table([
      ['entity', 'attributes', 'writable', 'link tables'],
      ...list.map((s) => [
        s.entity,
        String(s.attributes.filter((a) => a.export === 'delta').length),
        String(s.attributes.filter((a) => a.write !== 'read-only').length),
        s.links.map((l) => l.table).join(', ') || '-',
      ]),
    ]),
    '',
    "Run 'entra schema ENTITY' for the attributes of one, with types and what fulfill can write.",
  ];
}

/**
 * `entra schema [ENTITY]`: the exportable attributes of each entity with their types, which are
 * Get-only (not exportable), read-only or writable, and the link tables; `--json` for programs.
 */
export async function schemaCommand(
  args: SchemaArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const list = args.entity ? [entitySchema(exportEntity(args.entity))] : EXPORT_ENTITIES.map(entitySchema);
  const text = args.json
    ? JSON.stringify(args.entity ? list[0] : list, null, 2)
    : (args.entity ? describeEntity(list[0]!) : describeEntities(list)).join('\n');
  out.write(`${text}\n`);
  return 0;
}
