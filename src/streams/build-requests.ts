import { registerSecret } from '../redact.js';
import { silentLogger, type FulfillItem, type FulfillMsg, type Logger, type Outcome } from '../types.js';
import { describeRequest, toRequest, type ToRequestOptions } from './to-request.js';

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
export function buildRequest(
  item: FulfillItem,
  options: ToRequestOptions & { logger?: Logger },
): FulfillItem {
  const { row } = item;
  const done = (outcome: Outcome): FulfillItem => ({ ...item, outcome });
  if (row.kind === 'invalid') return done({ status: 'failed' });
  const plan = toRequest(row, options);
  if (plan.kind === 'invalid')
    return done({
      status: 'failed',
      errorCode: 'ERR_ROW_INVALID',
      message: plan.column ? `${plan.column}: ${plan.message}` : plan.message,
    });
  if (plan.kind === 'noop') return done({ status: 'ok', message: plan.message });
  const profile = plan.request.body?.passwordProfile as { password?: unknown } | undefined;
  // Known to the redactor before anything can print it.
  if (typeof profile?.password === 'string') registerSecret(profile.password);
  if (plan.request.warning)
    (options.logger ?? silentLogger).verbose(`${row.file}:${row.line}: ${plan.request.warning}`);
  const lookupFirst =
    item.lookupFirst ??
    (row.kind === 'object' && row.command === 'insert' && row.entity === 'group' ? 'exists' : undefined);
  return {
    ...item,
    request: plan.request,
    ...(plan.generatedPassword ? { generatedPassword: plan.generatedPassword } : {}),
    ...(lookupFirst ? { lookupFirst } : {}),
  };
}

/** Stream form of {@link buildRequest}: items that already have an outcome pass untouched. */
export function buildRequests(
  options: ToRequestOptions & { logger?: Logger },
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return (s) => s.map((msg) => (pending(msg) ? buildRequest(msg, options) : msg));
}

/** `--dry-run` in place of the batch writer: each request is reported `planned`, nothing is sent. */
export function planRequests(): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return (s) =>
    s.map((msg) =>
      pending(msg) && msg.request
        ? { ...msg, outcome: { status: 'planned', message: describeRequest(msg.request) } }
        : msg,
    );
}
