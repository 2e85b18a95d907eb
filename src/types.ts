import type { EntityName } from './graph/schema.js';

// --- the mapping: what to export (DESIGN.md §2), resolved by src/settings/mapping.ts

/** What to export of one entity: structural attributes (always with `id`) and link navigations. */
export interface EntityMapping {
  entity: EntityName;
  /** Sorted like the CSV columns (see compareColumns); includes `id`. */
  attributes: string[];
  /** `members`, `owners`: each becomes a `<nav>_<entity>` table, never a column. */
  navigations: string[];
}

export interface Mapping {
  entities: EntityMapping[];
}

export interface LinkTable {
  /** `members_group` */
  table: string;
  entity: EntityName;
  navigation: string;
  /** `groupId`: the owning object's id column. */
  ownerColumn: string;
}

/** The `Command` column of every CSV (DESIGN.md §3, §4). */
export type Command = 'insert' | 'update' | 'delete';

/** A directory object as Graph sends it in a delta page. */
export interface GraphObject {
  id: string;
  '@odata.type'?: string;
  '@removed'?: { reason: string };
  [property: string]: unknown;
}

/**
 * Set by a source on a record that repeats an object already written in the same round only to carry
 * more of its links (a large group's next slice of members): the router writes its link rows only.
 */
export const LINKS_ONLY = '@entra.linksOnly';

/** A complete round (no usable cookie) or an incremental one (from a cookie), per entity. */
export type RoundMode = 'complete' | 'incremental';

/** One record of a delta round, tagged with the entity whose delta query produced it (the router's input). */
export interface RecordMsg {
  kind: 'record';
  entity: EntityName;
  record: GraphObject;
}

// --- export: the messages of the delta stream (DESIGN.md §1), source → router → splitters → cookie stage

/** A round's mode, before its first page: incremental from a cookie, or complete (with why, after a fallback). */
export interface ModeMsg {
  kind: 'mode';
  entity: EntityName;
  mode: RoundMode;
  reason?: string;
}

/** One page of a delta round, as Graph sent it. */
export interface PageMsg {
  kind: 'page';
  entity: EntityName;
  records: GraphObject[];
  /** The page's nextLink, where a sequential round continues after it (for resume checkpoints). */
  next?: string;
  /** The last page's deltaLink (also sent in the state message after it). */
  deltaLink?: string;
  /**
   * A `--parallel` partition's page: its chain of pages (a partition's list, an id-scoped delta round)
   * and where that chain goes on after it (none once it ended), for resume checkpoints.
   */
  chain?: { id: number; next?: string };
}

/**
 * Where a round read in `--parallel` partitions stands at a checkpoint: what a resumed run goes on
 * from, without planning or counting again.
 */
export interface ParallelState {
  /** The `$deltatoken=latest` deltaLink taken before the round listed anything: its cookie. */
  deltaLink: string;
  /** Partitions of the plan (for the `--verbose` line). */
  partitions: number;
  /**
   * Each chain of pages not ended (a partition's list, an id-scoped delta round of 50 objects): the
   * URL of its first page whose rows are not in the checkpointed bytes.
   */
  chains: string[];
  /**
   * An entity read with its links lists ids by partition: each listing not ended, as the page to
   * list next (none once it is listed) and the ids it listed that no chain holds yet.
   */
  listings: { next?: string; carry: string[] }[];
}

/** The end of a delta round: the `@odata.deltaLink` to store as the entity's cookie (a Singer STATE). */
export interface StateMsg {
  kind: 'state';
  entity: EntityName;
  deltaLink: string;
}

/** What a delta source yields: its mode first, then pages, then the round's deltaLink. */
export type SourceMsg = ModeMsg | PageMsg | StateMsg;

/**
 * A page after the router: each record with the entity whose mapping it follows (`owners[i]`, from
 * its `@odata.type`) and its `directoryobjects` row (`rows[i]`; none for a repeat that only carries
 * more links). Parallel arrays, not an object per record: the export's hot path.
 */
export interface RoutedMsg {
  kind: 'routed';
  entity: EntityName;
  records: GraphObject[];
  owners: EntityName[];
  rows: (TableRow | undefined)[];
}

/** A page after the splitters: its table rows (object rows each followed by its link rows). */
export interface RowsMsg {
  kind: 'rows';
  entity: EntityName;
  /** How many records the page held. */
  records: number;
  rows: TableRow[];
  /** Rows that no page held (the deletes `--diff` reads back from the snapshot): no page is counted. */
  derived?: true;
}

export type ExportMsg = SourceMsg | RoutedMsg | RowsMsg;

/** A row bound for one table: `directoryobjects`, or `<nav>_<entity>` for link tables. */
export interface TableRow {
  table: string;
  /** Cells by column name, already encoded as CSV text (DESIGN.md §3 cell encoding). */
  cells: Record<string, string>;
  /**
   * For NDJSON (set only when the router is asked for it): the object's own columns as Graph's typed
   * JSON values, null for absent; a delete row carries only its `id`.
   */
  values?: Record<string, unknown>;
}

/**
 * A page boundary after the cookie stage, for resumable runs: the table writer calls its `onMark`
 * once the rows before it are taken, and takes nothing more until the checkpoint is written.
 */
export interface PageMark {
  kind: 'mark';
  entity: EntityName;
  /** Pages of the entity's round taken so far, and the objects they held. */
  pages: number;
  objects: number;
  /** The round's deltaLink: a mark after its state message, once every row of the round is taken. */
  deltaLink?: string;
}

/** Outcome of one fulfill input row (DESIGN.md §4). */
export type ResultStatus = 'ok' | 'skipped' | 'failed' | 'planned';

export interface ResultRow {
  line: number;
  Command: string;
  '@odata.type': string;
  id: string;
  status: ResultStatus;
  httpStatus: string;
  errorCode: string;
  message: string;
  newId: string;
  file: string;
  ownerId: string;
  /** The object's userPrincipalName (users) or mailNickname (groups), when the row gives or makes one. */
  key: string;
  /** An invited guest's redeem URL: only with `--redeem-urls`, and never journaled. */
  inviteRedeemUrl?: string;
}

// --- fulfill: the reverse stream's rows and requests (DESIGN.md §4)

export type Navigation = 'members' | 'owners' | 'manager';

export interface ObjectRow {
  kind: 'object';
  file: string;
  line: number;
  command: Command;
  entity: EntityName;
  odataType: string;
  /** Empty on insert: Graph assigns it. */
  id?: string;
  /** Decoded non-empty cells; `null` clears. Always empty for `delete`. */
  values: Record<string, unknown>;
  /** Cells of the pass-through columns, as they are. */
  extra?: Record<string, string>;
  /**
   * A user insert that invites a guest: the invitation cells (`invitedUserEmailAddress`,
   * `inviteRedirectUrl`, ...), decoded. The row's `values` are set on the guest after the invitation.
   */
  invitation?: Record<string, unknown>;
}

export interface LinkRow {
  kind: 'link';
  file: string;
  line: number;
  command: 'insert' | 'delete';
  /** The owner's entity: a group or role (`members`, `owners`), a user (`manager`). */
  entity: 'group' | 'directoryRole' | 'user';
  navigation: Navigation;
  ownerId: string;
  targetId: string;
}

export interface InvalidRow {
  kind: 'invalid';
  file: string;
  line: number;
  /** Lower-cased when it is a known command, as found otherwise. */
  command: string;
  /** Empty for link rows. */
  odataType: string;
  id: string;
  ownerId?: string;
  column?: string;
  message: string;
}

export type CommandRow = ObjectRow | LinkRow | InvalidRow;

/** Graph's answer to one request of a row (a `$batch` item): what the row's next step is decided on. */
export interface StepAnswer {
  status: number;
  body?: unknown;
}

/**
 * What a row does once a step is answered: send another request (`carry` holds what the steps so far
 * found, e.g. the id of a created object), or end with an outcome.
 */
export type NextStep = { request: PlannedRequest; carry?: Partial<Outcome> } | { outcome: Outcome };

/**
 * An object a row names by its key instead of its id: a user by userPrincipalName, a group by
 * mailNickname. Resolved to the id before the request goes out: the id of an object created (or found)
 * earlier in the same run, else Graph's answer to a lookup (see src/sinks/references.ts).
 */
export interface ObjectReference {
  /** `users/userPrincipalName=<upn>`, `groups/mailNickname=<nick>` (lower case): the key a create of it holds. */
  key: string;
  collection: 'users' | 'groups';
  property: 'userPrincipalName' | 'mailNickname';
  /** As the row gives it. */
  value: string;
  /** The column that names it, for messages. */
  column: string;
  /** Graph takes the key itself in the request's URL: looked up only by `--dry-run`. */
  direct?: boolean;
}

/** What a reference resolves to: an id, a create planned by `--dry-run`, or why there is none. */
export type Resolution =
  | { id: string }
  | { planned: string }
  | { missing: string }
  /** `--dry-run` without settings: nothing to look it up with. */
  | { unchecked: true };

/** Resolves references to ids, once per run per key; learns the ids of the run's creates. */
export interface ReferenceResolver {
  resolve(ref: ObjectReference): Promise<Resolution>;
  /** The id a create of this run gave the key, if any (no lookup). */
  learned(key: string): string | undefined;
  /** A create of this run made or found the object of `key`. */
  created(key: string, id: string): void;
  /** A create of this run failed (`where`: `line 3 of f.csv`): said when a later row names it. */
  createFailed(key: string, where: string): void;
  /** `--dry-run`: a create of `key` is planned at `where`. */
  planned(key: string, where: string): void;
  /** The object of `key` was deleted: later rows look it up again. */
  forget(key: string): void;
}

export interface PlannedRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  /**
   * Opaque key of the object whose state the request changes; requests with equal keys keep input order.
   * `users/<id>` for existing objects, `users/userPrincipalName=<upn>` / `groups/mailNickname=<nick>` for
   * creates and for rows that name an object by that key, `groups/<owner>/members/<id>` for a member
   * link, `groups/<owner>/owners` for every owner link of a group (the last owner cannot be removed, so
   * their order matters).
   */
  objectKey: string;
  /**
   * Keys of objects the request needs but does not change alone: a link's owner and linked object. Such
   * requests may run side by side, but never beside a request whose objectKey is one of them.
   */
  sharedKeys?: string[];
  /** Dotted body paths that must never be printed (`passwordProfile.password`). */
  secretFields?: string[];
  /** Something the command should warn about, e.g. a group created without owners. */
  warning?: string;
  /**
   * A row of several requests: read before write (a manager, licences), or what follows a create. Called
   * with each answer that is not retried; undefined (or no function): that answer is the row's outcome.
   * The later requests keep the first one's keys, so the row holds its object until it is done.
   */
  next?: (answer: StepAnswer) => NextStep | undefined;
  /** A create's follow-up once the object exists, made now or found by its unique name (a replay). */
  afterCreate?: (id: string) => NextStep | undefined;
  /** The request sent again when this one is retried: the read it was computed from. */
  retryFrom?: PlannedRequest;
  /** What the row does after this request, in words (`--dry-run`). */
  then?: string;
  /**
   * Objects the row names by key: resolved to ids before the request is sent, and `resolve` called with
   * the ids in the same order. The request's own URL and body still hold the keys as given; its lock
   * keys are the references' keys, so that a row waits for the create of an object it names.
   */
  references?: ObjectReference[];
  resolve?: (ids: string[]) => PlannedRequest;
}

/** A password generated for a new user: for the protected password sink only, never for printing. */
export interface GeneratedPassword {
  file: string;
  line: number;
  userPrincipalName: string;
  password: string;
  /** Where a mailed password goes, from the row's `MailSettings:ToColumn` cell. */
  recipient?: string;
}

/** What a command learned about one row. */
export interface Outcome {
  status: ResultStatus;
  httpStatus?: number | string;
  errorCode?: string;
  message?: string;
  newId?: string;
  /** Not written out: the request may have been applied although no answer said so. */
  uncertain?: boolean;
  /** Not written out: whether a create started by an earlier run was found (`started` lookups). */
  earlierRun?: 'found' | 'absent';
  /** Not written out: this row created its object, even if a later step of the row failed. */
  created?: boolean;
  /** Not written out: an invitation's redeem URL, a credential for the password sinks only. */
  redeemUrl?: string;
}

/**
 * One input row on its way through the reverse stream (fulfill). Stages fill it in: the request
 * builder its `request`, the batch writer its `outcome`, the results stage its `result`. A row that
 * already has an outcome or a result (invalid, done in an earlier run, planned) passes the later
 * stages untouched.
 */
export interface FulfillItem {
  kind: 'row';
  /** Input order across all files: the results sink puts rows back in it. */
  seq: number;
  row: CommandRow;
  request?: PlannedRequest;
  /** Look the object of a create up before sending it (see BatchWriter's WriteItem). */
  lookupFirst?: 'started' | 'exists';
  generatedPassword?: GeneratedPassword;
  /** Set when the password sinks have recorded the generated password `pending` (the request went out). */
  passwordPending?: boolean;
  outcome?: Outcome;
  result?: ResultRow;
}

/** The reverse stream failed after some rows: they still get their results, then the run fails. */
export interface FulfillFailure {
  kind: 'failure';
  error: Error;
}

export type FulfillMsg = FulfillItem | FulfillFailure;

// --- settings shapes shared by the layers that read them and the stages that use them

/**
 * Settings with .NET configuration semantics: flat keys joined with ':' and compared ignoring case,
 * built from layers where a later layer overrides an earlier one key by key (file, encrypted file,
 * Key Vault, environment, command line...).
 */
export interface SettingsLayer {
  /** Where the values came from: 'appsettings.agent.json', 'environment', 'command line', ... */
  origin: string;
  values: Map<string, string>;
}

export type MailSecurity = 'StartTls' | 'Tls' | 'None';

export interface MailSettings {
  host: string;
  port: number;
  security: MailSecurity;
  username?: string;
  password?: string;
  from: string;
  /** A fixed recipient. */
  to?: string;
  /** The input column holding each user's recipient (see `GeneratedPassword.recipient`). */
  toColumn?: string;
  /** Absolute path of an extra CA (PEM). */
  caFile?: string;
}

/** A write budget: at most `writes` writes in any `windowMs` (Graph's: 3,000 per 2 min 30 s). */
export interface WriteBudget {
  writes: number;
  windowMs: number;
}

/** A logger injected into modules: they never write to the process streams themselves. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, verbose() {} };
