import { registerSecret } from '../redact.js';
import {
  silentLogger,
  type FulfillItem,
  type FulfillMsg,
  type Logger,
  type ObjectRow,
  type Outcome,
  type PlannedRequest,
  type ReferenceResolver,
} from '../types.js';
import { throughAsync } from './through-async.js';
import {
  describeRequest,
  referenceKey,
  toRequest,
  unresolvedOutcome,
  type ToRequestOptions,
} from './to-request.js';

export interface BuildOptions extends ToRequestOptions {
  logger?: Logger;
  /** Told of the creates that fail here, for the rows that name their objects. */
  references?: ReferenceResolver;
}

/** The key of the object an insert row would create, from its own cells. */
function createKey(row: ObjectRow): string | undefined {
  const value = row.entity === 'user' ? row.values.userPrincipalName : row.values.mailNickname;
  if (typeof value !== 'string' || !value) return undefined;
  return referenceKey(row.entity === 'user' ? 'users' : 'groups', value);
}

/** True for an item that a later stage must still work on (no outcome, no result yet). */
export const pending = (msg: FulfillMsg): msg is FulfillItem =>
  msg.kind === 'row' && msg.outcome === undefined && msg.result === undefined;

/**
 * The request builder of the reverse stream, per item: an invalid row fails here
 * (`ERR_ROW_INVALID` for what only the request builder can tell), an update with nothing to change is
 * ok, any other row gets its Graph request. Graph refuses a second user with the same
 * userPrincipalName but creates a second security group with the same mailNickname: group creates are
 * looked up first (`lookupFirst: 'exists'`), so that a replay never duplicates one.
 */
export function buildRequest(item: FulfillItem, options: BuildOptions): FulfillItem {
  const { row } = item;
  const done = (outcome: Outcome): FulfillItem => ({ ...item, outcome });
  if (row.kind === 'invalid') return done({ status: 'failed' });
  const plan = toRequest(row, options);
  if (plan.kind === 'invalid') {
    // Later rows that name the object it would have made say why it is not there.
    const key = row.kind === 'object' && row.command === 'insert' ? createKey(row) : undefined;
    if (key) options.references?.createFailed(key, `line ${row.line} of ${row.file}`);
    return done({
      status: 'failed',
      errorCode: 'ERR_ROW_INVALID',
      message: plan.column ? `${plan.column}: ${plan.message}` : plan.message,
    });
  }
  if (plan.kind === 'noop') return done({ status: 'ok', message: plan.message });
  const profile = plan.request.body?.passwordProfile as { password?: unknown } | undefined;
  // Known to the redactor before anything can print it.
  if (typeof profile?.password === 'string') registerSecret(profile.password);
  if (plan.request.warning)
    (options.logger ?? silentLogger).verbose(`${row.file}:${row.line}: ${plan.request.warning}`);
  // Graph invites an address again (a second mail, a new redeem link) rather than refuse it: looked up too.
  const lookupFirst =
    item.lookupFirst ??
    (row.kind === 'object' &&
    row.command === 'insert' &&
    (row.entity === 'group' || plan.request.url === '/invitations')
      ? 'exists'
      : undefined);
  return {
    ...item,
    request: plan.request,
    ...(plan.generatedPassword ? { generatedPassword: plan.generatedPassword } : {}),
    ...(lookupFirst ? { lookupFirst } : {}),
  };
}

/** Stream form of {@link buildRequest}: items that already have an outcome pass untouched. */
export function buildRequests(
  options: BuildOptions,
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return (s) => s.map((msg) => (pending(msg) ? buildRequest(msg, options) : msg));
}

/**
 * `--dry-run` in place of the batch writer: each request is reported `planned`, nothing is written.
 * The checks of a real run still run: objects named by key are looked up (reads only, through
 * `references`), a reference to an object that an earlier row would create counts as found, and a
 * dangling one fails its row (or skips a delete) as the real run would. Without `references` (no
 * settings) references are planned unchecked, and the message says so.
 */
export function planRequests(
  references?: ReferenceResolver,
  /** Finds the guest an invitation row names (find-created.ts): the run looks it up first, so does the plan. */
  findGuest?: (request: PlannedRequest) => Promise<string | undefined>,
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return throughAsync(async (msg: FulfillMsg): Promise<FulfillMsg> => {
    if (!pending(msg) || !msg.request) return msg;
    const { row } = msg;
    let request = msg.request;
    const notes: string[] = [];
    if (findGuest && request.url === '/invitations' && msg.lookupFirst) {
      let found: string | undefined;
      try {
        found = await findGuest(request);
      } catch (error) {
        notes.push(`not looked up: ${(error as Error).message}`);
      }
      if (found)
        return {
          ...msg,
          outcome: {
            // What the run says of it (outcome-policy.ts foundOutcome), and what it would still do.
            status: 'skipped',
            httpStatus: 200,
            newId: found,
            message: `already exists: found by its mail${request.afterCreate ? '; its other attributes would be set where they differ' : ''}`,
          },
        };
    }
    if (request.references?.length && request.resolve) {
      const ids: string[] = [];
      for (const ref of request.references) {
        const found = references ? await references.resolve(ref) : { unchecked: true as const };
        if ('missing' in found) return { ...msg, outcome: unresolvedOutcome(row.command, found.missing) };
        if ('id' in found) ids.push(found.id);
        else {
          // The key stays in the printed request: there is no id to show yet.
          ids.push(ref.value);
          notes.push(
            'planned' in found
              ? `${ref.value} is created on ${found.planned}`
              : `${ref.value} not looked up (no settings)`,
          );
        }
      }
      request = request.resolve(ids);
    }
    if (row.kind === 'object' && row.command === 'insert')
      references?.planned(msg.request.objectKey, `line ${row.line} of ${row.file}`);
    const message = describeRequest(request) + (notes.length ? ` (${notes.join('; ')})` : '');
    return { ...msg, outcome: { status: 'planned', message } };
  });
}
