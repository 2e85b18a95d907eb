import { UsageError } from '../errors.js';
import { mappingKey, type ScheduledState } from './cookie-file.js';

/** Whether a run moves the connection's state, and why not. */
export interface StatePlan {
  /** True: the run's cookies (and snapshot) replace the connection's at commit. */
  advance: boolean;
  /** Why they do not (one line for the log), when `advance` is false. */
  reason?: string;
  /** The reason is a warning: a run that looks scheduled, but is not the connection's scheduled run. */
  warn?: boolean;
}

/**
 * Decides whether an export run is the connection's scheduled run, whose end state replaces the
 * connection's cookies (DESIGN.md §4, State). Ad-hoc runs read cookies but move nothing unless asked
 * with `--advance-cookies`: a run to stdout, a run into another folder than the scheduled run's, and
 * a run whose entities or `$select`s differ from those of the cookies (another stream of state). A
 * run of another mapping may not write into the scheduled run's folder either (its consumer would take
 * those files for the scheduled round): a usage error, before anything runs. The first run of a
 * connection (no cookies yet) is its scheduled run.
 */
export function planState(input: {
  rounds: readonly { entity: string; select: string }[];
  scheduled: ScheduledState | undefined;
  /** The run's output folder (absolute), or `-`. */
  output: string;
  advanceCookies: boolean;
  demo: boolean;
}): StatePlan {
  const { scheduled, output } = input;
  if (input.demo) return { advance: false };
  if (input.advanceCookies) return { advance: true };
  if (output === '-')
    return {
      advance: false,
      reason:
        'a run to stdout reads cookies but moves none (add --advance-cookies to make it the scheduled run)',
    };
  const mine = mappingKey(input.rounds);
  if (!scheduled) return { advance: true };
  if (scheduled.mapping === mine) {
    // The same mapping into another folder: a copy for someone else, not the scheduled run, whose
    // consumer reads the other folder (sidecars older than this rule do not say: the scheduled run).
    if (scheduled.output === undefined || scheduled.output === '-' || scheduled.output === output)
      return { advance: true };
    return {
      advance: false,
      warn: true,
      reason:
        `the connection's scheduled run writes into ${scheduled.output}, this one into ${output}: its changes still ` +
        `reach the next run into ${scheduled.output} (add --advance-cookies to make ${output} the scheduled run's folder)`,
    };
  }
  const theirs = scheduled.mapping.replaceAll(';', ' ');
  // Sidecars older than this rule do not say where their files went: assume here, the safe side.
  if (scheduled.output === undefined || scheduled.output === output)
    throw new UsageError(
      'ERR_USAGE',
      `this run's entities or --select (${mine.replaceAll(';', ' ')}) differ from the connection's scheduled run (${theirs}): ` +
        `it would replace that run's files in ${output} and leave its cookies behind; write it elsewhere (--output DIR or -), ` +
        "or pass --advance-cookies to make this the connection's mapping from now on",
    );
  return {
    advance: false,
    reason: `this run's entities or --select differ from the connection's scheduled run (${theirs}) (add --advance-cookies to make this the connection's mapping)`,
  };
}
