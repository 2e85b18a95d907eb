import type { EntityName } from './graph/schema.js';

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

/** One record of a delta round, tagged with the entity whose delta query produced it. */
export interface RecordMsg {
  kind: 'record';
  entity: EntityName;
  record: GraphObject;
}

/** The end of a delta round: the `@odata.deltaLink` to store as the entity's cookie (a Singer STATE). */
export interface StateMsg {
  kind: 'state';
  entity: EntityName;
  deltaLink: string;
}

export type DeltaMsg = RecordMsg | StateMsg;

/** A row bound for one table: `directoryobjects`, or `<nav>_<entity>` for link tables. */
export interface TableRow {
  table: string;
  /** Cells by column name, already encoded as CSV text (DESIGN.md §3 cell encoding). */
  cells: Record<string, string>;
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
}

/** A logger injected into modules: they never write to the process streams themselves. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, verbose() {} };
