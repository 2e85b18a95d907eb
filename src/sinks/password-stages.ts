import { throughAsync } from '../streams/through-async.js';
import type { FulfillItem, FulfillMsg, GeneratedPassword } from '../types.js';
import type { PasswordSink } from './password-file.js';

/**
 * The password sinks' stages in the reverse stream: a generated password is recorded `pending` before
 * its create first goes out (the batch writer's `beforeSend`), then `created` or `discarded` once the
 * outcome is known; left `pending` when the answer was lost (a rerun settles it).
 */
export function preparePasswords(sink: PasswordSink): (items: FulfillItem[]) => Promise<void> {
  return async (items) => {
    const secrets: GeneratedPassword[] = [];
    for (const i of items)
      if (i.generatedPassword && i.row.kind === 'object' && i.row.command === 'insert') {
        i.passwordPending = true;
        secrets.push(i.generatedPassword);
      }
    if (secrets.length) await sink.prepare(secrets);
  };
}

/** After the writer: settles each generated password by its create's outcome. */
export function settlePasswords(
  sink: PasswordSink,
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return throughAsync(async (msg: FulfillMsg) => {
    if (msg.kind !== 'row' || !msg.generatedPassword || !msg.outcome) return msg;
    const { outcome, generatedPassword: secret } = msg;
    // A create an earlier run started was looked up before anything else: ours never went out.
    if (outcome.earlierRun)
      await sink.settleEarlier(
        secret.userPrincipalName,
        outcome.earlierRun === 'found' ? 'created' : 'discarded',
      );
    if (!msg.passwordPending) return msg;
    if (outcome.status === 'ok' && outcome.newId) await sink.confirm(secret);
    else if (!outcome.uncertain) await sink.discard(secret);
    return msg;
  });
}
