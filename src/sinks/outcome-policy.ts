import { graphErrorOf, type GraphErrorBody } from '../graph/graph-error.js';
import type { LinkRow, ObjectRow, Outcome, PlannedRequest } from '../types.js';
import type { BatchItemAnswer } from './batch-codec.js';

/**
 * The outcome policy of the reverse stream: what an answer from Graph means for a row (ok, skipped as
 * already done, failed, or to be tried again), and the words of each result. Pure: no I/O.
 */

// 429 and 424 mean "not done"; 5xx means "maybe done": a retry of a create looks it up first.
const RETRY_STATUS = new Set([424, 429, 500, 502, 503, 504]);
const CONFLICT = /another object with the same value for property (userPrincipalName|mailNickname)/i;

/** True for a `$batch` status (of the call or of an item) after which the request goes again. */
export function isRetryStatus(status: number): boolean {
  return RETRY_STATUS.has(status);
}

/**
 * Graph's answer to a write → the row's status. Replays are safe: adding a link that exists, removing
 * one that does not, deleting an object that is gone are `skipped`, not failed (DESIGN.md §4).
 */
export function classifyOutcome(
  row: Pick<ObjectRow, 'kind' | 'command'> | Pick<LinkRow, 'kind' | 'command'>,
  status: number,
  graphErrorCode: string | undefined,
  message: string | undefined,
): 'ok' | 'skipped' | 'failed' {
  if (status >= 200 && status < 300) return 'ok';
  const text = message ?? '';
  const badRequest = status === 400 && (graphErrorCode ?? 'Request_BadRequest') === 'Request_BadRequest';
  if (row.kind === 'link' && row.command === 'insert' && badRequest && /already exist/i.test(text))
    return 'skipped';
  if (row.kind === 'link' && row.command === 'delete') {
    if (status === 404) return 'skipped';
    if (badRequest && /do(es)? not exist/i.test(text)) return 'skipped';
  }
  if (row.kind === 'object' && row.command === 'delete' && status === 404) return 'skipped';
  return 'failed';
}

/** What to do with one item's answer in a `$batch` response. */
export type ItemVerdict =
  /** Send it again, after `afterMs` (Graph's `Retry-After`) or the backoff. */
  | {
      kind: 'retry';
      afterMs?: number;
      status?: number;
      error: GraphErrorBody;
      /** A 429: the writer pauses its pacing. */
      throttled: boolean;
      /** It may have been applied (5xx, no answer): a resent create looks its object up first. */
      uncertain: boolean;
    }
  /** A create that met an object with its unique name: look it up; `fallback` when it is not found. */
  | { kind: 'conflict'; status: number; error: GraphErrorBody; fallback: Outcome }
  | { kind: 'done'; outcome: Outcome };

/**
 * The verdict on one item's answer (undefined when the `$batch` response left the item out). `request`
 * is the request answered, when a row sends several: a read changes nothing, so it is never uncertain,
 * and only the create itself (`POST /users`, `/groups`) gives a new id or meets a conflict.
 */
export function itemVerdict(
  row: ObjectRow | LinkRow,
  answer: BatchItemAnswer | undefined,
  request?: Pick<PlannedRequest, 'method' | 'url'>,
): ItemVerdict {
  const write = request?.method !== 'GET';
  const insert = row.kind === 'object' && row.command === 'insert';
  const create =
    insert && (!request || (request.method === 'POST' && /^\/(users|groups)$/.test(request.url)));
  // An invitation's answer holds the invitation's id, not the user's (its `next` reads that one).
  const invite = insert && request?.method === 'POST' && request.url === '/invitations';
  if (!answer)
    return {
      kind: 'retry',
      afterMs: 1000,
      error: { message: 'no answer for this request in the $batch response' },
      throttled: false,
      uncertain: write,
    };
  const { status } = answer;
  const error = graphErrorOf(answer.body);
  if (RETRY_STATUS.has(status))
    return {
      kind: 'retry',
      ...(answer.retryAfterMs !== undefined ? { afterMs: answer.retryAfterMs } : {}),
      status,
      error,
      throttled: status === 429,
      uncertain: write && status >= 500,
    };
  if (status >= 200 && status < 300) {
    const id = (answer.body as { id?: string } | undefined)?.id;
    return {
      kind: 'done',
      outcome: {
        status: 'ok',
        httpStatus: status,
        ...(create && id ? { newId: id } : {}),
      },
    };
  }
  const verdict = classifyOutcome(row, status, error.code, error.message);
  const outcome: Outcome = {
    status: verdict,
    httpStatus: status,
    errorCode: error.code ?? '',
    message:
      verdict === 'skipped'
        ? `nothing to do: ${error.message ?? status}`
        : (error.message ?? `Graph answered ${status}`),
  };
  if ((create || invite) && status === 400 && CONFLICT.test(error.message ?? ''))
    return { kind: 'conflict', status, error, fallback: outcome };
  return { kind: 'done', outcome };
}

/** A create that met its own unique name and was found by it: made by a lost attempt of ours, or before. */
export function conflictOutcome(
  found: string,
  uncertain: boolean,
  status: number,
  error: GraphErrorBody,
): Outcome {
  return uncertain
    ? {
        status: 'ok',
        httpStatus: status,
        newId: found,
        message: 'created (the answer to an earlier attempt was lost; found by its unique name)',
      }
    : {
        status: 'skipped',
        httpStatus: status,
        errorCode: error.code ?? '',
        message: `already exists (${error.message ?? ''})`,
        newId: found,
      };
}

/**
 * A create looked up before it was sent and found: `exists` (Graph would duplicate it) is skipped,
 * `started` (an interrupted run's) and `lost` (an attempt whose answer was lost) are ok.
 */
export function foundOutcome(
  mode: 'exists' | 'started' | 'lost',
  found: string,
  request: PlannedRequest,
): Outcome {
  const unique =
    request.url === '/users' ? 'userPrincipalName' : request.url === '/invitations' ? 'mail' : 'mailNickname';
  if (mode === 'exists')
    return {
      status: 'skipped',
      httpStatus: 200,
      newId: found,
      message: `already exists: found by its ${unique}`,
    };
  return {
    status: 'ok',
    httpStatus: 200,
    newId: found,
    message:
      mode === 'started'
        ? `created by an earlier run (found by its ${unique})`
        : `created (the answer to an earlier attempt was lost; found by its ${unique})`,
  };
}

/** An item that had all its attempts. */
export function exhaustedOutcome(
  attempts: number,
  status: number | undefined,
  error: GraphErrorBody | undefined,
  uncertain: boolean,
): Outcome {
  return {
    status: 'failed',
    httpStatus: status ?? '',
    errorCode: error?.code ?? 'ERR_RETRIES_EXHAUSTED',
    message:
      `gave up after ${attempts} attempts${error?.message ? `: ${error.message}` : ''}` +
      (uncertain ? '; it may have been applied: rerun with the same --journal' : ''),
    ...(uncertain ? { uncertain: true } : {}),
  };
}

/** An item that will not be sent (again) because the writer stopped: interrupted, or a fatal error. */
export function stoppedOutcome(
  error: { code: string; message: string },
  fatal: boolean,
  uncertain: boolean,
): Outcome {
  const what = fatal ? error.message : 'interrupted';
  return {
    status: 'failed',
    errorCode: error.code,
    message: uncertain
      ? `${what} before Graph confirmed it: it may have been applied; rerun with the same --journal`
      : `not sent: ${what}`,
    ...(uncertain ? { uncertain: true } : {}),
  };
}

/** Every item of a `$batch` call that Graph refused as a whole (a status not worth a retry). */
export function batchRefusedOutcome(status: number, error: GraphErrorBody, uncertain: boolean): Outcome {
  return {
    status: 'failed',
    httpStatus: status,
    errorCode: error.code ?? 'ERR_GRAPH_HTTP',
    message: error.message ?? `$batch answered ${status}`,
    ...(uncertain ? { uncertain: true } : {}),
  };
}

/**
 * The outcome of a row of several requests: the last step's outcome, with what the earlier steps
 * carried (a created object's id, `created`, their messages before its own). A row whose earlier step
 * changed something (`ok`) is `ok` when its last step had nothing to do (`skipped`).
 */
export function mergeOutcome(carry: Partial<Outcome> | undefined, outcome: Outcome): Outcome {
  if (!carry) return outcome;
  const message = [carry.message, outcome.message].filter(Boolean).join('; ');
  return {
    ...carry,
    ...outcome,
    status: outcome.status === 'skipped' && carry.status === 'ok' ? 'ok' : outcome.status,
    ...(message ? { message } : {}),
    ...((outcome.newId ?? carry.newId) ? { newId: outcome.newId ?? carry.newId } : {}),
  };
}
