import { createHash } from 'node:crypto';
import type { GraphClient, GraphResponse } from '../graph/client.js';
import { graphErrorOf } from '../graph/graph-error.js';
import { printableUrl } from '../graph/client.js';
import type { EntityName } from '../graph/schema.js';
import { GraphHttpError, ToolError } from '../errors.js';
import type { GraphObject, SourceMsg } from '../types.js';

export type { SourceMsg } from '../types.js';

export interface DeltaSourceOptions {
  client: GraphClient;
  entity: EntityName;
  /** The first request of a complete round, e.g. `<graph>/users/delta?$select=...`. */
  initialUrl: string;
  /** The deltaLink of the last round, to run an incremental round. */
  cookie?: string;
  /** Fetch the next page while the current one is being written (default true). */
  prefetch?: boolean;
  /**
   * Continue a round a killed or failed run checkpointed: the nextLink to follow and the round's mode.
   * If Graph no longer honours the link, the source throws ERR_RESUME_EXPIRED before any page.
   */
  resume?: { url: string; mode: 'complete' | 'incremental' };
}

interface DeltaPage {
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  value?: GraphObject[];
}

/** Graph's ways of saying a state token can't be used any more (delta-query-overview.md). */
function syncStateLost(r: GraphResponse): string | undefined {
  const code = (graphErrorOf(r.body).code ?? '').toLowerCase();
  if (r.status === 410) return 'Graph reset synchronization (410 Gone)';
  if ([400, 404, 410].includes(r.status) && (code === 'syncstatenotfound' || code === 'resyncrequired'))
    return `Graph no longer knows the delta token (${r.status} ${code === 'resyncrequired' ? 'resyncRequired' : 'syncStateNotFound'})`;
  return undefined;
}

/**
 * One entity's delta round, as an async generator (pull-based: backpressure comes free). Follows
 * `@odata.nextLink` through empty pages until `@odata.deltaLink`, replays state links verbatim,
 * and stops with ERR_GRAPH_PAGINATION_LOOP on a link it has already followed. An incremental round
 * whose first request says the token is gone falls back to a complete round, announced in its mode
 * message; the same answer later in a round is fatal (rows of two modes must never mix).
 */
export async function* graphDelta(options: DeltaSourceOptions): AsyncGenerator<SourceMsg> {
  const { client, entity } = options;
  const prefetch = options.prefetch ?? true;
  let mode: 'complete' | 'incremental' =
    options.resume?.mode ?? (options.cookie ? 'incremental' : 'complete');
  let url = options.resume?.url ?? options.cookie ?? options.initialUrl;
  let reason: string | undefined;
  const fetchPage = (u: string) => client.get<DeltaPage>(u, { throwHttpErrors: false });
  let pending: Promise<GraphResponse<DeltaPage>> | undefined = fetchPage(url);
  // Digests, not the links themselves: a round of a large tenant follows thousands of long links.
  const digest = (link: string) => createHash('sha1').update(link).digest('base64');
  const followed = new Set<string>([digest(url)]);
  let pages = 0;

  while (pending !== undefined) {
    const response = await pending;
    pending = undefined;
    if (response.status >= 400) {
      const lost = syncStateLost(response);
      if (lost && options.resume && pages === 0)
        throw new ToolError(
          'ERR_RESUME_EXPIRED',
          `${lost}: the checkpointed ${entity} link is no longer honoured`,
        );
      if (lost && mode === 'incremental' && pages === 0) {
        const location = response.headers.location;
        mode = 'complete';
        reason = lost;
        url =
          typeof location === 'string' && location ? new URL(location, url).toString() : options.initialUrl;
        followed.add(digest(url));
        pending = fetchPage(url);
        continue;
      }
      if (lost)
        throw new ToolError(
          'ERR_GRAPH_SYNC_RESET',
          `${lost} in the middle of the ${entity} round; nothing was written: run the export again (it will start a complete round for ${entity})`,
        );
      const error = graphErrorOf(response.body);
      const requestId = response.headers['request-id'];
      throw new GraphHttpError(
        `Graph answered ${response.status} to the ${entity} delta query${error.message ? `: ${error.message}` : ''}`,
        {
          status: response.status,
          ...(error.code ? { graphCode: error.code } : {}),
          ...(typeof requestId === 'string' ? { requestId } : {}),
          method: 'GET',
          url: printableUrl(url),
        },
      );
    }
    const page = response.body;
    if (!page || !Array.isArray(page.value))
      throw new ToolError(
        'ERR_GRAPH_RESPONSE',
        `the ${entity} delta page from ${printableUrl(url)} has no "value" array`,
      );
    const next = page['@odata.nextLink'];
    const done = page['@odata.deltaLink'];
    if (next === undefined && done === undefined)
      throw new ToolError(
        'ERR_GRAPH_RESPONSE',
        `the ${entity} delta page from ${printableUrl(url)} has neither nextLink nor deltaLink`,
      );
    if (next !== undefined) {
      const d = digest(next);
      if (followed.has(d))
        throw new ToolError(
          'ERR_GRAPH_PAGINATION_LOOP',
          `Graph sent a nextLink already followed in this ${entity} round: ${printableUrl(next)}`,
        );
      followed.add(d);
      url = next;
      if (prefetch) {
        pending = fetchPage(next);
        // Handled when awaited; meanwhile the consumer may take its time.
        pending.catch(() => {});
      }
    }
    if (pages++ === 0) yield { kind: 'mode', entity, mode, ...(reason ? { reason } : {}) };
    yield {
      kind: 'page',
      entity,
      records: page.value,
      ...(next !== undefined ? { next } : {}),
      ...(done !== undefined ? { deltaLink: done } : {}),
    };
    if (done !== undefined) {
      yield { kind: 'state', entity, deltaLink: done };
      return;
    }
    pending ??= fetchPage(url);
  }
}
