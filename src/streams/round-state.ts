import { ToolError } from '../errors.js';
import type { EntityName } from '../graph/schema.js';
import type { ExportMsg, Logger, PageMark, RoundMode, TableRow } from '../types.js';

/** One entity's round in a run: what it asked for, how it went, where it ended. */
export interface EntityRound {
  entity: EntityName;
  /** The `$select` of the round, recorded with its cookie. */
  select: string;
  /** Complete, or incremental from `cookie`; a source that had to fall back says so in a mode message. */
  mode: RoundMode;
  /** The deltaLink of the previous run, for an incremental round. */
  cookie?: string;
  /** The deltaLink this round ended with (its state message). */
  deltaLink?: string;
  objects: number;
  pages: number;
}

/** The cookie stage: what the rounds' state messages said, for the cookies written at commit. */
export interface RoundState {
  /**
   * A `through` stage: takes the state out of the stream (mode changes, deltaLinks, page counts) and
   * passes the rows on, a page at a time.
   */
  readonly through: (s: Highland.Stream<ExportMsg>) => Highland.Stream<TableRow[] | PageMark>;
  /** Each entity's round, as the messages have told it so far (progress reads it during the run). */
  readonly rounds: ReadonlyMap<EntityName, Readonly<EntityRound>>;
  /** Once the stream has ended: every round's deltaLink; ERR_GRAPH_RESPONSE for a round without one. */
  deltaLinks(): Map<EntityName, string>;
}

/**
 * Builds the cookie stage for the rounds of a run. A round that falls back to complete (Graph no
 * longer knows its cookie) is announced once on the logger's warn line.
 * @example
 * const state = createRoundState([{ entity: 'user', select, mode: 'complete', objects: 0, pages: 0 }]);
 * await pipeline(source.through(route).through(split).through(state.through).toNodeStream(...), sink);
 * const links = state.deltaLinks(); // → the cookies to write
 */
export function createRoundState(
  initial: readonly EntityRound[],
  options: {
    logger?: Logger;
    /** Follow each page's rows with a {@link PageMark} (resumable runs). */ marks?: boolean;
  } = {},
): RoundState {
  const rounds = new Map<EntityName, EntityRound>(initial.map((r) => [r.entity, { ...r }]));
  const round = (entity: EntityName): EntityRound => {
    let r = rounds.get(entity);
    if (!r) rounds.set(entity, (r = { entity, select: '', mode: 'complete', objects: 0, pages: 0 }));
    return r;
  };
  return {
    rounds,
    through: (s) =>
      s
        .map((msg): (TableRow[] | PageMark)[] | undefined => {
          if (msg.kind === 'rows') {
            // Rows a stage made up (a --diff round's deletes) are not a page of the round.
            if (msg.derived) return msg.rows.length ? [msg.rows] : undefined;
            const r = round(msg.entity);
            r.pages++;
            r.objects += msg.records;
            if (options.marks) {
              const mark: PageMark = { kind: 'mark', entity: msg.entity, pages: r.pages, objects: r.objects };
              return msg.rows.length ? [msg.rows, mark] : [mark];
            }
            return msg.rows.length ? [msg.rows] : undefined;
          }
          if (msg.kind === 'mode') {
            const r = round(msg.entity);
            if (msg.mode !== r.mode)
              options.logger?.warn(
                `${msg.entity}: ${msg.reason ?? 'cookie rejected'}; running a complete round`,
              );
            r.mode = msg.mode;
          } else if (msg.kind === 'state') {
            const r = round(msg.entity);
            r.deltaLink = msg.deltaLink;
            // The round's every row is before this mark: a checkpoint may call it finished.
            if (options.marks)
              return [
                {
                  kind: 'mark',
                  entity: msg.entity,
                  pages: r.pages,
                  objects: r.objects,
                  deltaLink: msg.deltaLink,
                },
              ];
          } else
            throw new ToolError(
              'ERR_INTERNAL',
              `the cookie stage got a ${msg.kind} message: route and split first`,
            );
          return undefined;
        })
        .filter((out): out is (TableRow[] | PageMark)[] => out !== undefined)
        .sequence(),
    deltaLinks() {
      const links = new Map<EntityName, string>();
      for (const r of rounds.values()) {
        if (!r.deltaLink)
          throw new ToolError('ERR_GRAPH_RESPONSE', `the ${r.entity} round ended without a deltaLink`);
        links.set(r.entity, r.deltaLink);
      }
      return links;
    },
  };
}
