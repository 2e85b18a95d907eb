import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { parse, type InfoRecord, type Options } from 'csv-parse';
import { UsageError } from '../errors.js';
import { excerpt } from '../redact.js';
import { closest } from '../suggest.js';
import {
  ENTITY_NAMES,
  entityFromOdataType,
  entityInfo,
  findProperty,
  isEntityName,
  type EntityName,
} from '../graph/schema.js';
import { canonicalEncoding, InputText, type InvalidBytes } from './input-text.js';
import {
  decodeObjectRow,
  describeForms,
  nameForm,
  quoteCell,
  unwritableReason,
  type NameForm,
} from '../streams/decode-row.js';
import type { Command, CommandRow, InvalidRow, Navigation, ObjectRow } from '../types.js';

/**
 * Command CSVs (DESIGN §4) → typed command rows. A file is an object file (`Command,@odata.type,id,...`)
 * or a link file (`Command,<entity>Id,id`). File-level problems throw a {@link CsvInputError} (`ERR_CSV`);
 * row-level problems become `invalid` rows, so that one bad row fails alone.
 */

export type { Navigation, ObjectRow, LinkRow, InvalidRow, CommandRow } from '../types.js';

export interface CommandCsvOptions {
  /** A path, or `-` for `stdin`. */
  input: string;
  stdin?: Readable;
  /**
   * Columns that carry data for the command, not for Graph (e.g. the column named by
   * `MailSettings:ToColumn`): not validated against the schema, not sent, read into `ObjectRow.extra`.
   */
  passThrough?: string[];
  /** Navigation of a link file when its name does not say it (`*_<nav>_<entity>.csv`). */
  navigation?: Navigation;
  /** Largest record in bytes; default 1 MiB. */
  maxRecordSize?: number;
  /**
   * Read a whole file once before yielding, so that bytes that are not text, control characters and
   * malformed CSV fail before any write; default true. Stdin is then first copied to a temp file.
   */
  prescan?: boolean;
  /** The file's encoding (iconv-lite's names) when it has no byte order mark and is not UTF-8. */
  encoding?: string;
  /** `,` `;` `tab` or `|`; detected from the header by default. */
  delimiter?: string;
}

export interface CommandCsv {
  file: string;
  kind: 'object' | 'link';
  columns: string[];
  /** For link files: the owner's entity and the navigation. */
  entity?: 'group' | 'directoryRole' | 'user';
  navigation?: Navigation;
  /** How many data rows the file holds (counted by the prescan). */
  rowCount?: number;
  /**
   * What the first pass over the input counted (stdin too: it is spooled first): its data rows and
   * the rows whose Command is delete, for fulfill's `--max-deletes` before anything is sent.
   */
  counted?: { rows: number; deletes: number };
  /** The data rows, in file order; iterate once. */
  rows(): AsyncGenerator<CommandRow>;
  /** Releases the input when rows() is not consumed to the end. */
  close(): Promise<void>;
}

/** A file-level CSV problem: names the file, line and column. */
export class CsvInputError extends UsageError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: string | undefined,
    detail: string,
    cause?: unknown,
  ) {
    const where = `${line === undefined ? '' : `, line ${line}`}${column === undefined ? '' : `, column ${column}`}`;
    super('ERR_CSV', `${shown(file)}${where}: ${detail}`, { cause });
    this.name = 'CsvInputError';
  }
}

const COMMANDS: readonly string[] = ['insert', 'update', 'delete'];
// Entities whose objects rows may write; directory roles only through their members link files.
const WRITABLE: readonly EntityName[] = ['user', 'group', 'servicePrincipal'];
const MIB = 1024 * 1024;

const shown = (file: string) => (file === '-' ? 'stdin' : file);

/** Maps byte offsets to 1-based physical lines; CRLF, LF and lone CR each end one line. */
class LineIndex {
  private starts: number[] = [];
  private head = 0;
  private line = 1;
  private offset = 0;
  private lastCr = -2;

  feed(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const at = this.offset + i;
      if (chunk[i] === 13) {
        this.starts.push(at + 1);
        this.lastCr = at;
      } else if (chunk[i] === 10) {
        // The second half of a CRLF moves the line start of its CR instead of adding a line.
        if (this.lastCr === at - 1) this.starts[this.starts.length - 1] = at + 1;
        else this.starts.push(at + 1);
      }
    }
    this.offset += chunk.length;
  }

  /** Queries must not go backwards: passed line starts are dropped. */
  lineAt(offset: number): number {
    while (this.head < this.starts.length && this.starts[this.head]! <= offset) {
      this.head++;
      this.line++;
    }
    if (this.head > 4096) {
      this.starts.splice(0, this.head);
      this.head = 0;
    }
    return this.line;
  }
}

const QUOTING: Record<string, string> = {
  INVALID_OPENING_QUOTE: 'a quote inside a field that does not begin with one',
  CSV_INVALID_CLOSING_QUOTE: 'characters after the closing quote of a field',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'characters after the closing quote of a field',
};

function parseError(error: unknown, file: string, line: number, header: string[] | undefined): unknown {
  if (error instanceof CsvInputError) return error;
  const e = error as { code?: string; column?: unknown; message?: string };
  const column =
    typeof e.column === 'number'
      ? `${e.column + 1}${header?.[e.column] ? ` (${excerpt(header[e.column]!, 24, '')})` : ''}`
      : undefined;
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new CsvInputError(file, line, column, 'unclosed quote: this record never ends', error);
    case 'CSV_MAX_RECORD_SIZE':
      return new CsvInputError(
        file,
        line,
        column,
        `record larger than the ${e.message?.match(/of (\d+)/)?.[1] ?? ''} bytes allowed`,
        error,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      // csv-parse's message quotes the field, which may be a secret: say what is wrong, not what is there.
      return new CsvInputError(file, line, column, `malformed quoting (${QUOTING[e.code]})`, error);
    case 'ENOENT':
    case 'EACCES':
    case 'EISDIR':
      return new CsvInputError(file, undefined, undefined, `cannot read: ${e.message}`, error);
  }
  return e.code?.startsWith('CSV_') ? new CsvInputError(file, line, column, e.message ?? '', error) : error;
}

interface Parsed {
  cells: string[];
  line: number;
  blank: boolean;
  /** The record as it stands in the file, and where it ends in the decoded bytes. */
  raw: string;
  end: number;
}

/** The delimiter options: a name, or the character itself. */
export const DELIMITERS: Record<string, string> = { ',': ',', ';': ';', tab: '\t', '\t': '\t', '|': '|' };

/** The delimiter of a header line: the most frequent of `,` `;` tab outside quotes; `,` when none. */
export function detectDelimiter(header: string): string {
  const unquoted = header.replace(/"[^"]*"/g, '');
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t']) {
    const n = unquoted.split(d).length - 1;
    if (n > most) [best, most] = [d, n];
  }
  return best;
}

// C0 controls but tab, CR and LF; DEL; C1 controls (what a wrong 8-bit encoding gives).
// eslint-disable-next-line no-control-regex -- finding them is the point
const CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/;
const NAMES: Record<number, string> = { 0: 'NUL', 0x1b: 'ESC', 0x7f: 'DEL' };

/** Line and column (code points, 1-based) of character `at` of a record that starts on `line`. */
function position(raw: string, at: number, line: number): { line: number; column: number } {
  const before = raw.slice(0, at);
  const breaks = before.match(/\r\n|\r|\n/g)?.length ?? 0;
  const tail = before.slice(Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r')) + 1);
  return { line: line + breaks, column: [...tail].length + 1 };
}

/** `jobTitle`, or `field 4` before the header is known or past its end. */
function fieldName(cells: string[], at: number, names: string[] | undefined, header: boolean): string {
  const name = names?.[at]?.trim();
  return header ? 'the header' : name ? excerpt(name, 24, '') : `field ${at + 1}`;
}

/** A record holding a control character → the error naming where it is. */
function controlError(file: string, record: Parsed, names: string[] | undefined): CsvInputError | undefined {
  const cell = record.cells.findIndex((c) => CONTROL.test(c));
  if (cell < 0) return undefined;
  const at = record.raw.search(CONTROL);
  const code = record.raw.charCodeAt(at);
  const { line, column } = position(record.raw, at, record.line);
  const nuls = record.raw.split('\0').length - 1;
  const hint =
    code === 0 && nuls * 3 >= record.raw.length
      ? ': the file looks like UTF-16 without a byte order mark, pass --encoding utf-16le'
      : code >= 0x80
        ? ': a C1 control character, the sign of a wrong --encoding (Excel on Windows writes windows-1252)'
        : ': cells may hold tab and line breaks, no other control characters';
  const name = `U+${code.toString(16).toUpperCase().padStart(4, '0')}${NAMES[code] ? ` (${NAMES[code]})` : ''}`;
  return new CsvInputError(
    file,
    line,
    String(column),
    `control character ${name} in ${fieldName(record.cells, cell, names, names === undefined)}${hint}`,
  );
}

/** The error for bytes that are not text, naming the field when the record holding them came through. */
function invalidError(file: string, invalid: InvalidBytes, record?: Parsed, names?: string[]): CsvInputError {
  let where = '';
  if (record) {
    const cell = record.cells.findLastIndex((c) => c.includes('\uFFFD'));
    if (cell >= 0) where = ` in ${fieldName(record.cells, cell, names, names === undefined)}`;
  }
  return new CsvInputError(
    file,
    invalid.line,
    String(invalid.column),
    `${invalid.detail.replace(/(\))(:|$)/, `$1${where}$2`)}`,
  );
}

/** How a file's bytes are read: its encoding (else detected) and delimiter (else detected). */
export interface TextOptions {
  encoding?: string;
  delimiter?: string;
}

/** The first line of `chunks` read, and the chunks read to find it. */
async function firstLine(iterator: AsyncIterator<Buffer>): Promise<{ line: string; read: Buffer[] }> {
  const read: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    read.push(next.value);
    size += next.value.length;
    if (next.value.includes(10) || next.value.includes(13) || size > 64 * 1024) break;
  }
  return { line: Buffer.concat(read).toString('utf8').split(/\r|\n/)[0]!, read };
}

/** Every non-blank record with the physical line it starts on; the first is the header. */
async function* records(source: Readable, file: string, maxRecordSize: number, text: TextOptions = {}) {
  const index = new LineIndex();
  const decoder = new InputText(text.encoding);
  const counter = new Transform({
    transform(chunk: Buffer | string, encoding, done) {
      index.feed(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
      done(null, chunk);
    },
  });
  let failure: unknown;
  pipeline(source, decoder, (e) => {
    if (e) failure ??= e;
  });
  const decoded = decoder[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: { line: string; read: Buffer[] };
  try {
    head = await firstLine(decoded);
  } catch (error) {
    source.destroy();
    throw parseError(error, file, 1, undefined);
  }
  const delimiter = text.delimiter ?? detectDelimiter(head.line);
  async function* bytes() {
    yield* head.read;
    for (;;) {
      const next = await decoded.next();
      if (next.done) return;
      yield next.value;
    }
  }
  // Blank lines come through as records (not skipped by csv-parse) so that every record starts exactly where
  // the previous one ended: csv-parse's own `info.lines` counts CRLF twice, its byte offsets are exact.
  // Lines are taken in on_record, at parse time, so that an error met before the consumer has caught up
  // (buffered records are dropped on error) still names the record it is in.
  let start = 0;
  let names: string[] | undefined;
  const options: Options<Parsed, string[]> = {
    bom: true,
    delimiter,
    raw: true,
    relax_column_count: true,
    max_record_size: maxRecordSize,
    on_record: ((record: { record: string[]; raw: string }, context: InfoRecord) => {
      const { record: cells, raw } = record;
      const line = index.lineAt(start);
      start = context.bytes;
      const blank = cells.every((cell) => cell.trim() === '');
      return { cells, line, blank, raw, end: context.bytes };
    }) as unknown as Options<Parsed, string[]>['on_record'],
  };
  // csv-parse's typings tie on_record's result to the record type only for `columns` parsers.
  const parser = parse(options as unknown as Options);
  pipeline(Readable.from(bytes()), counter, parser, () => {});
  let width: number | undefined;
  // The errors this loop raises about the text itself; any other error met after bad bytes is their doing.
  let textError: CsvInputError | undefined;
  try {
    for await (const record of parser as AsyncIterable<Parsed>) {
      const { cells, line, blank } = record;
      if (decoder.invalid && record.end >= decoder.invalid.offset)
        throw (textError = invalidError(file, decoder.invalid, record, names));
      textError = controlError(file, record, names);
      if (textError) throw textError;
      if (blank) continue;
      names ??= cells;
      width ??= cells.length;
      if (cells.length !== width)
        throw new CsvInputError(
          file,
          line,
          undefined,
          `${cells.length} fields where the header has ${width}`,
        );
      yield { cells, line, delimiter };
    }
    if (failure) throw failure as Error;
    if (decoder.invalid) throw (textError = invalidError(file, decoder.invalid));
  } catch (error) {
    if (error === textError) throw error;
    if (decoder.invalid) throw invalidError(file, decoder.invalid);
    throw parseError(failure ?? error, file, index.lineAt(start), names);
  } finally {
    parser.destroy();
    source.destroy();
  }
}

function navigationFromName(file: string): { navigation: Navigation; entity: string } | undefined {
  const m = /(?:^|_)(members|owners|manager)_([A-Za-z]+)\.csv$/.exec(basename(file));
  return m && isEntityName(m[2]!) ? { navigation: m[1] as Navigation, entity: m[2] } : undefined;
}

type Header =
  | {
      kind: 'object';
      columns: string[];
      at: Record<'command' | 'type' | 'id', number>;
      attributes: [name: string, index: number][];
      passThrough: [name: string, index: number][];
    }
  | {
      kind: 'link';
      columns: string[];
      at: Record<'command' | 'owner' | 'id', number>;
      entity: 'group' | 'directoryRole' | 'user';
      navigation: Navigation;
    };

/**
 * Whether `line` is only column names of command CSVs, whatever separates them
 * (`Command|@odata.type|id`): such a line is safe to quote, where any other may be a secret.
 */
function isColumnNames(line: string): boolean {
  const names = line.split(/[\s|,;:]+/).filter(Boolean);
  const isColumn = (c: string) =>
    ['Command', '@odata.type', 'id'].includes(c) ||
    (c.endsWith('Id') && isEntityName(c.slice(0, -2))) ||
    ENTITY_NAMES.some((entity) => findProperty(entity, c));
  return names.length > 0 && names.every(isColumn);
}

/**
 * The header of a file that lacks column `missing`, for its error: quoted (with the file's own
 * delimiter) when every cell is a column name; else only its width, since a first line of data
 * (`alice@contoso.com;P@ssw0rd!`) may hold a secret, and the cell that looks like a misspelt `missing`.
 */
function describeHeader(columns: string[], delimiter: string, missing: string): string {
  if (isColumnNames(columns.join(' '))) return `header is ${excerpt(columns.join(delimiter), 60)}`;
  const near = columns.findIndex((c) => c.length <= 2 * missing.length && closest(c, [missing]) === missing);
  return `the first line has ${columns.length} columns, not all of them column names (not quoted: it may be data)${
    near < 0 ? '' : `; column ${near + 1} looks like a misspelt ${missing}: ${excerpt(columns[near]!, 20)}`
  }`;
}

function parseHeader(
  cells: string[],
  file: string,
  option: Navigation | undefined,
  passThroughNames: string[] = [],
  delimiter = ',',
): Header {
  const columns = cells.map((c) => c.trim());
  const fail = (detail: string, column?: string) => new CsvInputError(file, 1, column, detail);
  const at = new Map<string, number>();
  for (const [i, name] of columns.entries()) {
    if (name === '') throw fail('empty column name', String(i + 1));
    if (at.has(name)) throw fail(`duplicate column (also column ${at.get(name)! + 1})`, name);
    at.set(name, i);
  }
  const need = (name: string, what: string) => {
    const i = at.get(name);
    if (i === undefined)
      throw fail(
        // A file that is not a CSV (a password, a key) has its secret on this line: even a prefix of
        // it is part of the secret, so the line is quoted only when it is column names.
        columns.length === 1
          ? `missing column ${name} (${what}); the first line is one column${
              isColumnNames(columns[0]!)
                ? `, ${excerpt(columns[0]!, 60)}`
                : ` of ${[...columns[0]!].length} characters (not quoted: it may be a secret)`
            }, not a header of several columns (none of the delimiters looked for: comma, semicolon, tab; else give --delimiter)`
          : `missing column ${name} (${what}); ${describeHeader(columns, delimiter, name)}`,
      );
    return i;
  };
  const linkOwner = columns.find((c) => /Id$/.test(c) && isEntityName(c.slice(0, -2)));
  if (!at.has('@odata.type') && linkOwner) {
    const entity = linkOwner.slice(0, -2) as EntityName;
    const extra = columns.find((c) => !['Command', linkOwner, 'id'].includes(c));
    if (extra) throw fail(`a link file has only Command,${linkOwner},id`, extra);
    if (entity !== 'group' && entity !== 'directoryRole' && entity !== 'user')
      throw fail(
        `links of ${entity} are not writable (only user manager, group members/owners, directoryRole members)`,
        linkOwner,
      );
    const fromName = navigationFromName(file);
    if (fromName && fromName.entity !== entity)
      throw fail(`the file name says ${fromName.entity} but the header has ${linkOwner}`, linkOwner);
    if (fromName && option && fromName.navigation !== option)
      throw fail(`the file name says ${fromName.navigation} but --navigation says ${option}`);
    const navigations = entityInfo(entity).linkNavigations as Navigation[];
    // A user's only link is its manager: a userId file needs no name to say so.
    const navigation =
      option ?? fromName?.navigation ?? (navigations.length === 1 ? navigations[0] : undefined);
    if (!navigation)
      throw fail(
        `link file without a navigation: name it *_<${navigations.join('|')}>_${entity}.csv or pass --navigation`,
      );
    if (!entityInfo(entity).linkNavigations.includes(navigation))
      throw fail(
        `${entity} ${navigation} are not writable (${entity}: ${entityInfo(entity).linkNavigations.join(', ')})`,
      );
    const command = need('Command', 'insert or delete');
    return {
      kind: 'link',
      columns,
      at: { command, owner: at.get(linkOwner)!, id: need('id', 'the linked object') },
      entity,
      navigation,
    };
  }
  const command = need('Command', 'insert, update or delete');
  const type = need(
    '@odata.type',
    'e.g. #microsoft.graph.user; a link file has Command,<entity>Id,id instead',
  );
  const id = need('id', 'the object id');
  const passThrough = [...at].filter(([c]) => passThroughNames.includes(c));
  const attributes = [...at].filter(
    ([c]) => c !== 'Command' && c !== '@odata.type' && c !== 'id' && !passThroughNames.includes(c),
  );
  // Rows of one file may mix entity types, so a column is refused here only when no entity we write can
  // take it (unknown, read-only, Get-only or navigation on all of user, group and servicePrincipal). A column
  // that fits some types fails only the rows of another type that put a value in it (decodeObjectRow).
  for (const [name] of attributes) {
    const reasons = WRITABLE.map((e) => unwritableReason(e, name));
    if (reasons.every(Boolean)) {
      const known = reasons.find((r) => !/ is not a property of /.test(r!));
      const hint = reasons.map((r) => / \(did you mean (\w+)\?\)/.exec(r!)?.[1]).find(Boolean);
      throw fail(
        known ??
          `unknown column: not a property of user, group or servicePrincipal${hint ? ` (did you mean ${hint}?)` : ''}`,
        name,
      );
    }
  }
  return { kind: 'object', columns, at: { command, type, id }, attributes, passThrough };
}

function refusal(entity: EntityName, command: Command): string | undefined {
  if (entity === 'directoryRole')
    return 'directory roles are written only through link files (*_members_directoryRole.csv)';
  if (entity === 'servicePrincipal' && command !== 'update')
    return `${command} of service principals is out of scope: only update is supported`;
  if (!WRITABLE.includes(entity)) return `${entity} objects are not writable by this connector`;
  return undefined;
}

// Where an id is expected, a user may be named by userPrincipalName and a group by mailNickname.
const OBJECT_FORMS: Partial<Record<EntityName, NameForm[]>> = {
  user: ['id', 'userPrincipalName'],
  group: ['id', 'mailNickname'],
};

/** What a link file's owner and `id` columns take: members may be users or groups, owners and managers users. */
function linkForms(entity: string, navigation: string): [NameForm[], NameForm[]] {
  const owner: NameForm[] =
    entity === 'group' ? ['id', 'mailNickname'] : entity === 'user' ? ['id', 'userPrincipalName'] : ['id'];
  const target: NameForm[] =
    navigation === 'members' ? ['id', 'userPrincipalName', 'mailNickname'] : ['id', 'userPrincipalName'];
  return [owner, target];
}

const notAName = (column: string, forms: NameForm[], value: string) =>
  `${column} is not ${describeForms(forms)}: found ${quoteCell(value)}`;

/** One data record of a file whose header is `header` → a command row. */
function toCommandRow(header: Header, cells: string[], file: string, line: number): CommandRow {
  const cell = (i: number) => (cells[i] ?? '').trim();
  const raw = cell(header.at.command);
  const command = raw.toLowerCase();
  const base = { kind: 'invalid' as const, file, line, command: COMMANDS.includes(command) ? command : raw };
  if (header.kind === 'link') {
    const ownerId = cell(header.at.owner);
    const targetId = cell(header.at.id);
    const ownerColumn = header.columns[header.at.owner]!;
    const invalid = (message: string, column: string): InvalidRow => ({
      ...base,
      odataType: '',
      id: targetId,
      ownerId,
      column,
      message,
    });
    if (command !== 'insert' && command !== 'delete')
      return invalid(`Command ${quoteCell(raw)}: links can only be inserted or deleted`, 'Command');
    const { entity, navigation } = header;
    const [ownerForms, targetForms] = linkForms(entity, navigation);
    if (!nameForm(ownerId, ownerForms))
      return invalid(notAName(ownerColumn, ownerForms, ownerId), ownerColumn);
    if (!nameForm(targetId, targetForms)) return invalid(notAName('id', targetForms, targetId), 'id');
    return { kind: 'link', file, line, command, entity, navigation, ownerId, targetId };
  }
  const odataType = cell(header.at.type);
  const id = cell(header.at.id);
  const invalid = (message: string, column?: string): InvalidRow => ({
    ...base,
    odataType,
    id,
    column,
    message,
  });
  if (!COMMANDS.includes(command))
    return invalid(`Command ${quoteCell(raw)}: expected insert, update or delete`, 'Command');
  const entity = entityFromOdataType(odataType);
  if (!entity)
    return invalid(
      `unknown @odata.type ${quoteCell(odataType)}: expected #microsoft.graph.user, group or servicePrincipal`,
      '@odata.type',
    );
  const refused = refusal(entity, command as Command);
  if (refused) return invalid(refused, '@odata.type');
  if (command === 'insert' && id)
    return invalid('id must be empty on insert: Graph assigns the id of a new object', 'id');
  if (command !== 'insert' && !nameForm(id, OBJECT_FORMS[entity] ?? ['id']))
    return invalid(
      id ? notAName('id', OBJECT_FORMS[entity] ?? ['id'], id) : `${command} needs the object's id`,
      'id',
    );
  const row: ObjectRow = {
    kind: 'object',
    file,
    line,
    command: command as Command,
    entity,
    odataType,
    values: {},
  };
  if (id) row.id = id;
  if (header.passThrough.length)
    row.extra = Object.fromEntries(header.passThrough.map(([name, i]) => [name, cells[i] ?? '']));
  // A delete needs only the id: a stale attribute value must not keep an object from being deleted.
  if (command === 'delete') return row;
  const decoded = decodeObjectRow(
    entity,
    Object.fromEntries(header.attributes.map(([name, i]) => [name, cells[i] ?? ''])),
  );
  if (!decoded.ok) return invalid(decoded.message, decoded.column);
  row.values = decoded.values;
  if (decoded.invitation) {
    // An existing user is changed by its own columns; only a new guest is invited.
    if (command !== 'insert')
      return invalid(
        `${Object.keys(decoded.invitation).join(', ')}: invitation cells are for insert rows (an ${command} row changes an existing user)`,
        Object.keys(decoded.invitation)[0],
      );
    row.invitation = decoded.invitation;
  }
  return row;
}

/** Stdin copied to a temp file: each read takes a descriptor of its own, opened before the file is removed. */
interface Spooled {
  take(): Readable;
  close(): void;
}

/** Opens the input for one read: a file, stdin, or stdin's copy. */
function openSource(options: CommandCsvOptions, spooled?: Spooled): Readable {
  if (spooled) return spooled.take();
  if (options.input !== '-') return createReadStream(options.input);
  if (!options.stdin) throw new UsageError('ERR_INVALID_OPTION', 'input "-" needs a stdin stream');
  return options.stdin;
}

/**
 * Copies stdin to a temp file (mode 0600), so that it is read through before any write like a file. The
 * `reads` descriptors are opened first, then the file is removed (it lives on while they are open): nothing
 * is left behind even by a killed run. Where the system refuses to remove an open file, `close` does.
 */
async function spool(stdin: Readable, reads: number): Promise<Spooled> {
  const path = join(tmpdir(), `.entra-stdin.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const write = openSync(path, 'wx', 0o600);
  const fds: number[] = [];
  const close = () => {
    for (const fd of fds.splice(0)) closeSync(fd);
    rmSync(path, { force: true });
  };
  let writing = false;
  try {
    for (let i = 0; i < reads; i++) fds.push(openSync(path, 'r'));
    try {
      rmSync(path);
    } catch {
      // Removed by close().
    }
    writing = true;
    await streamPipeline(stdin, createWriteStream('', { fd: write }));
  } catch (error) {
    if (!writing) closeSync(write);
    close();
    throw new CsvInputError('-', undefined, undefined, `cannot read: ${(error as Error).message}`, error);
  }
  return {
    take: () => {
      const fd = fds.shift();
      if (fd === undefined) throw new Error('stdin copy read more often than planned');
      return createReadStream('', { fd, start: 0 });
    },
    close,
  };
}

/**
 * Opens a command CSV and validates its header before any row is read, so that a command can check every
 * input file before it sends a single write. Files (not stdin) are also parsed through once first, so that
 * malformed CSV anywhere in them is reported before any write.
 *
 * @example
 * const csv = await openCommandCsv({ input: 'Contoso_members_group.csv' });
 * for await (const row of csv.rows()) ...
 */
export async function openCommandCsv(options: CommandCsvOptions): Promise<CommandCsv> {
  const { input, navigation } = options;
  if (typeof input !== 'string' || input === '')
    throw new UsageError('ERR_INVALID_OPTION', `input must be a path or "-", got ${JSON.stringify(input)}`);
  if (navigation !== undefined && !['members', 'owners', 'manager'].includes(navigation))
    throw new UsageError(
      'ERR_INVALID_OPTION',
      `navigation must be members, owners or manager, got ${JSON.stringify(navigation)}`,
    );
  const maxRecordSize = options.maxRecordSize ?? MIB;
  if (!Number.isSafeInteger(maxRecordSize) || maxRecordSize < 1)
    throw new UsageError(
      'ERR_INVALID_OPTION',
      `maxRecordSize must be a positive integer, got ${maxRecordSize}`,
    );
  const text = textOptions(options);
  const prescan = options.prescan ?? true;
  const spooled = prescan && input === '-' ? await spool(openSource(options), 2) : undefined;
  const it = records(openSource(options, spooled), input, maxRecordSize, text);
  let header: Header;
  let counted: { rows: number; deletes: number } | undefined;
  try {
    const first = await it.next();
    if (first.done) throw new CsvInputError(input, undefined, undefined, 'empty file: no header line');
    header = parseHeader(first.value.cells, input, navigation, options.passThrough, first.value.delimiter);
    if (prescan) {
      // Bytes and syntax, and the rows and deletes counted (for progress and --max-deletes): the rows are read again below.
      counted = { rows: -1, deletes: 0 };
      for await (const { cells } of records(openSource(options, spooled), input, maxRecordSize, text)) {
        if (counted.rows++ < 0) continue;
        if ((cells[header.at.command] ?? '').trim().toLowerCase() === 'delete') counted.deletes++;
      }
    }
  } catch (error) {
    await it.return(undefined);
    spooled?.close();
    throw error;
  }
  const close = async () => {
    await it.return(undefined);
    spooled?.close();
  };
  async function* rows(): AsyncGenerator<CommandRow> {
    try {
      for await (const { cells, line } of { [Symbol.asyncIterator]: () => it })
        yield toCommandRow(header, cells, input, line);
    } finally {
      await close();
    }
  }
  return {
    file: input,
    kind: header.kind,
    columns: header.columns,
    ...(counted ? { rowCount: counted.rows } : {}),
    ...(header.kind === 'link' ? { entity: header.entity, navigation: header.navigation } : {}),
    ...(counted ? { counted } : {}),
    rows,
    close,
  };
}

/** `--encoding` and `--delimiter`, checked: an unknown name is a usage error. */
function textOptions(options: CommandCsvOptions): TextOptions {
  const text: TextOptions = {};
  if (options.encoding !== undefined) {
    if (!canonicalEncoding(options.encoding))
      throw new UsageError(
        'ERR_USAGE',
        `--encoding: unknown encoding ${JSON.stringify(options.encoding)} (e.g. utf-8, utf-16le, windows-1252, iso-8859-15)`,
      );
    text.encoding = options.encoding;
  }
  if (options.delimiter !== undefined) {
    const delimiter = DELIMITERS[options.delimiter];
    if (!delimiter)
      throw new UsageError(
        'ERR_USAGE',
        `--delimiter must be one of ',' ';' tab '|', got ${JSON.stringify(options.delimiter)}`,
      );
    text.delimiter = delimiter;
  }
  return text;
}

/** {@link openCommandCsv} and its rows in one call: the header is still checked before the first row. */
export async function* readCommandCsv(options: CommandCsvOptions): AsyncGenerator<CommandRow> {
  const csv = await openCommandCsv(options);
  yield* csv.rows();
}
