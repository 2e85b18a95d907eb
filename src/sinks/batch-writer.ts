import { setTimeout as sleep } from 'node:timers/promises';
import { ToolError } from '../errors.js';
import { retryAfterMs, type GraphClient } from '../graph/client.js';
import { graphErrorOf, type GraphErrorBody } from '../graph/graph-error.js';
import { retryDelay } from '../graph/retry-delay.js';
import {
  silentLogger,
  type LinkRow,
  type Logger,
  type NextStep,
  type ObjectRow,
  type Outcome,
  type PlannedRequest,
  type ReferenceResolver,
} from '../types.js';
import { unresolvedOutcome } from '../streams/to-request.js';
import { decodeBatch, encodeBatch } from './batch-codec.js';
import { findCreated } from './find-created.js';
import { ObjectLocks, type LockKeys } from './object-locks.js';
import {
  batchRefusedOutcome,
  conflictOutcome,
  exhaustedOutcome,
  foundOutcome,
  isRetryStatus,
  itemVerdict,
  mergeOutcome,
  stoppedOutcome,
} from './outcome-policy.js';
import { WritePacer, type WriteBudget } from './write-pacer.js';

/**
 * The reverse stream's writer: JSON `$batch` calls of at most 20 requests, several in flight, rows
 * touching the same object kept in input order (never two of them in flight at once), 429/5xx
 * retried per item and per batch after `Retry-After`, writes paced under Graph's write budget, and
 * creates that meet their own object (a replay, a crash, a lost answer) resolved by looking it up.
 */
export interface WriteItem {
  /** Input order, for the caller's reordering. */
  seq: number;
  row: ObjectRow | LinkRow;
  request: PlannedRequest;
  /**
   * Look the object of a create up before sending it: `started` for a create an interrupted run may
   * already have made (found → ok), `exists` for a create Graph would duplicate rather than refuse,
   * such as a security group with a mailNickname in use (found → skipped).
   */
  lookupFirst?: 'started' | 'exists';
}

export interface BatchWriterOptions<I extends WriteItem = WriteItem> {
  client: GraphClient;
  /** `$batch` calls in flight (default 4). */
  concurrency?: number;
  /** Requests per `$batch` (default and maximum 20). */
  batchSize?: number;
  /** Client-side pacing; null for none. */
  writeBudget: WriteBudget | null;
  /** Attempts per item before it fails (default 10). */
  maxAttempts?: number;
  /** How long a part-filled first batch waits for more items (default 10 ms). */
  lingerMs?: number;
  logger?: Logger;
  /** Called once per item with its final outcome; items of one answer are finished side by side. */
  onResult: (item: I, outcome: Outcome) => void | Promise<void>;
  /** Called before items are first sent, once per batch (the journal's `started`, the password sink's `pending`). */
  beforeSend?: (items: I[]) => Promise<void>;
  /**
   * Resolves the objects rows name by key (`PlannedRequest.references`) when their turn comes, and
   * learns the ids of the run's creates. Without it, a request with references fails its row.
   */
  references?: ReferenceResolver;
}

export interface WriterStats {
  batches: number;
  itemRetries: number;
  batchRetries: number;
  throttled: number;
  lookups: number;
  /** Rows whose references were resolved before they were sent. */
  resolved: number;
}

interface Pending<I extends WriteItem = WriteItem> {
  item: I;
  /** The request's lock keys (the scheduler's view). */
  keys: LockKeys;
  attempts: number;
  notBefore: number;
  queuedAt: number;
  /** beforeSend has run: the request has gone out at least once. */
  sent: boolean;
  /** An attempt may have been applied although no answer said so (lost answer, 5xx). */
  uncertain: boolean;
  /** What a `started` lookup found out about the earlier run. */
  earlierRun?: 'found' | 'absent';
  /** What the earlier steps of a row of several requests found (see `PlannedRequest.next`). */
  carry?: Partial<Outcome>;
}

// Errors of the $batch call itself after which the same call may be sent again; anything else
// (credentials, TLS trust, settings) would fail every row alike, and ends the run.
const TRANSIENT_CODES = new Set(['ERR_GRAPH_NETWORK', 'ERR_GRAPH_RESPONSE', 'ERR_GRAPH_LOOKUP']);

const isCreate = (p: Pending) => p.item.row.kind === 'object' && p.item.row.command === 'insert';

export class BatchWriter<I extends WriteItem = WriteItem> {
  readonly stats: WriterStats = {
    batches: 0,
    itemRetries: 0,
    batchRetries: 0,
    throttled: 0,
    lookups: 0,
    resolved: 0,
  };
  private readonly queue: Pending<I>[] = [];
  private readonly locks = new ObjectLocks();
  private running = 0;
  /** The write budget's pacer (progress reads whether it is holding writes back). */
  readonly pacer: WritePacer;
  private waiters: (() => void)[] = [];
  /** Why the writer stopped taking work: a fatal error, or an interruption. */
  private stop: { error: ToolError; fatal: boolean } | undefined;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly log: Logger;
  private readonly loop: Promise<void>;
  private ended = false;
  private warm = false;

  constructor(private readonly options: BatchWriterOptions<I>) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.batchSize = Math.min(20, Math.max(1, options.batchSize ?? 20));
    this.lingerMs = options.lingerMs ?? 10;
    this.pacer = new WritePacer(options.writeBudget);
    this.log = options.logger ?? silentLogger;
    this.loop = this.run();
  }

  /** Queues an item; resolves when there is room for more (backpressure). */
  async push(item: I): Promise<void> {
    const p: Pending<I> = {
      item,
      keys: item.request,
      attempts: 0,
      notBefore: 0,
      queuedAt: performance.now(),
      sent: false,
      uncertain: false,
    };
    if (this.stop) {
      if (this.stop.fatal) throw this.stop.error;
      return this.drop(p);
    }
    this.queue.push(p);
    this.kick();
    while (this.queue.length >= this.batchSize * this.concurrency * 4 && !this.stop) await this.idle();
  }

  /** Waits until every queued item has its outcome; rethrows a fatal error. */
  async end(): Promise<void> {
    this.ended = true;
    this.kick();
    await this.loop;
    if (this.stop?.fatal) throw this.stop.error;
  }

  /**
   * Stops sending (SIGINT): queued items fail at once with `ERR_INTERRUPTED` ("not sent"); batches in
   * flight finish, and those of their items that would be retried fail the same way.
   */
  async interrupt(): Promise<void> {
    if (this.stop) return;
    this.stop = {
      error: new ToolError('ERR_INTERRUPTED', 'interrupted'),
      fatal: false,
    };
    await this.dropQueue();
  }

  private async dropQueue(): Promise<void> {
    const dropped = this.queue.splice(0);
    this.kick();
    await Promise.all(dropped.map((p) => this.drop(p)));
  }

  /** The outcome of an item that will not be sent (again) because the writer stopped. */
  private drop(p: Pending<I>): Promise<void> {
    const { error, fatal } = this.stop!;
    return this.finish(p, stoppedOutcome(error, fatal, p.uncertain));
  }

  private async abort(e: unknown): Promise<void> {
    const error =
      e instanceof ToolError
        ? e
        : new ToolError('ERR_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
    if (this.stop?.fatal) return;
    this.stop = { error, fatal: true };
    await this.dropQueue();
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private kick(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0 && this.running === 0 && (this.ended || this.stop)) return;
      const now = performance.now();
      let waitMs: number | undefined;
      // Until the first $batch is answered (token, connection), one at a time: see WritePacer.resync.
      if (this.running < (this.warm ? this.concurrency : 1) && !this.stop) {
        const { batch, wake } = this.locks.pick(this.queue, now, this.batchSize);
        const first = batch[0];
        const linger =
          first && !this.ended && batch.length < this.batchSize && this.queue.length < this.batchSize
            ? first.queuedAt + this.lingerMs - now
            : 0;
        if (linger > 0) waitMs = linger;
        else if (batch.length) {
          // Reads (a row's read before its write) are not charged to the write budget.
          const wait = this.pacer.reserve(batch.filter((p) => p.item.request.method !== 'GET').length);
          if (wait > 0) waitMs = wait;
          else {
            this.take(batch);
            this.running++;
            void this.send(batch)
              // The error ends the run (end() rethrows it); reporting the queued rows must not add another.
              .catch((e: unknown) => this.abort(e).catch(() => undefined))
              .finally(() => {
                this.running--;
                this.kick();
              });
            continue;
          }
        } else if (Number.isFinite(wake)) waitMs = Math.max(1, wake - now);
      }
      await (waitMs !== undefined ? Promise.race([sleep(waitMs), this.idle()]) : this.idle());
    }
  }

  private take(batch: Pending<I>[]): void {
    for (const p of batch) this.queue.splice(this.queue.indexOf(p), 1);
    this.locks.hold(batch);
  }

  private release(p: Pending<I>): void {
    this.locks.release([p]);
  }

  private requeue(p: Pending<I>, delayMs: number): void {
    p.notBefore = performance.now() + delayMs;
    // Back at its place in input order, so that later rows of the same object stay behind it.
    const at = this.queue.findIndex((q) => q.item.seq > p.item.seq);
    if (at < 0) this.queue.push(p);
    else this.queue.splice(at, 0, p);
    this.kick();
  }

  private async finish(p: Pending<I>, outcome: Outcome): Promise<void> {
    this.learn(p, outcome);
    await this.options.onResult(p.item, {
      ...mergeOutcome(p.carry, outcome),
      ...(p.earlierRun ? { earlierRun: p.earlierRun } : {}),
    });
  }

  /**
   * The next step of a row of several requests: another request (queued at once, at the row's place in
   * input order, its keys still the row's), or the row's outcome.
   */
  private async step(p: Pending<I>, next: NextStep): Promise<void> {
    if ('outcome' in next) return this.settled(p, next.outcome);
    // A create's follow-up (licences...): the rows that name the new object need not wait for it.
    if (next.carry?.newId && isCreate(p))
      this.options.references?.created(p.keys.objectKey, next.carry.newId);
    if (next.carry) p.carry = mergeOutcome(p.carry, { status: 'ok', ...next.carry });
    p.item.request = next.request;
    p.uncertain = false;
    this.release(p);
    if (this.stop) return this.drop(p);
    this.requeue(p, 0);
  }

  /** A create found to exist (by a replay, a lost answer, an earlier run): its follow-up, or the outcome. */
  private found(p: Pending<I>, id: string, outcome: Outcome): Promise<void> {
    const next = p.item.request.afterCreate?.(id);
    if (!next) return this.settled(p, outcome);
    if ('outcome' in next) return this.settled(p, mergeOutcome(outcome, next.outcome));
    return this.step(p, { ...next, carry: { ...outcome, ...next.carry } });
  }

  /** Finishes an item that was taken off the queue: its keys go back. */
  private settled(p: Pending<I>, outcome: Outcome): Promise<void> {
    this.release(p);
    return this.finish(p, outcome);
  }

  /**
   * Looks a create up when it has to be: first sends of `lookupFirst` items, and any resend after an
   * attempt that may have been applied. Returns false when the item is done (found, or requeued).
   */
  private async lookupBeforeSend(p: Pending<I>): Promise<boolean> {
    const mode = !p.sent ? p.item.lookupFirst : p.uncertain && isCreate(p) ? 'lost' : undefined;
    if (!mode) return true;
    let found: string | undefined;
    try {
      found = await this.lookup(p.item.request);
    } catch (error) {
      if (!this.isTransient(error)) throw error;
      await this.again(p, undefined, undefined, { message: (error as Error).message });
      return false;
    }
    if (!found) {
      if (mode === 'started') p.earlierRun = 'absent';
      return true;
    }
    if (mode === 'started') p.earlierRun = 'found';
    await this.found(p, found, foundOutcome(mode, found, p.item.request));
    return false;
  }

  /**
   * What later rows that name this row's object by key must know: the id a create made or found, a
   * create that failed, an object deleted. Runs before the row's keys let those rows go.
   */
  private learn(p: Pending<I>, outcome: Outcome): void {
    const references = this.options.references;
    const { row } = p.item;
    if (!references || row.kind !== 'object') return;
    const key = p.keys.objectKey;
    if (row.command === 'insert') {
      if (outcome.newId) references.created(key, outcome.newId);
      else if (outcome.status === 'failed') references.createFailed(key, `line ${row.line} of ${row.file}`);
    } else if (row.command === 'delete' && outcome.status !== 'failed') references.forget(key);
  }

  /**
   * Puts ids in place of the keys a row names objects by (`PlannedRequest.references`). Returns false
   * when the item is done: it names nothing (failed, or skipped for a delete), or is requeued.
   */
  private async resolveBeforeSend(p: Pending<I>): Promise<boolean> {
    const { references: refs, resolve } = p.item.request;
    if (!refs?.length || !resolve) return true;
    const resolver = this.options.references;
    const ids: string[] = [];
    for (const ref of refs) {
      // `/users/{userPrincipalName}`: Graph looks the user up itself, unless this run made it.
      const learned = resolver?.learned(ref.key);
      if (ref.direct) {
        ids.push(learned ?? ref.value);
        continue;
      }
      let found;
      try {
        found = resolver
          ? await resolver.resolve(ref)
          : { missing: `${ref.column}: cannot look up ${ref.value}` };
      } catch (error) {
        if (!this.isTransient(error)) throw error;
        await this.again(p, undefined, undefined, { message: (error as Error).message });
        return false;
      }
      if ('id' in found) ids.push(found.id);
      else {
        const why = 'missing' in found ? found.missing : `${ref.column}: ${ref.value} cannot be looked up`;
        await this.settled(p, unresolvedOutcome(p.item.row.command, why));
        return false;
      }
    }
    this.stats.resolved++;
    p.item.request = resolve(ids);
    return true;
  }

  private isTransient(error: unknown): boolean {
    return !(error instanceof ToolError) || TRANSIENT_CODES.has(error.code);
  }

  private async send(batch: Pending<I>[]): Promise<void> {
    const go = await Promise.all(
      batch.map(async (p) => (await this.resolveBeforeSend(p)) && this.lookupBeforeSend(p)),
    );
    const ready = batch.filter((_, i) => go[i]);
    if (this.stop) {
      // Interrupted while looking up: what has not gone out stays unsent.
      await Promise.all(ready.map((p) => (this.release(p), this.drop(p))));
      return;
    }
    const first = ready.filter((p) => !p.sent);
    if (first.length) await this.options.beforeSend?.(first.map((p) => p.item));
    for (const p of first) p.sent = true;
    if (!ready.length) return;
    this.stats.batches++;
    let response;
    try {
      response = await this.options.client.request('POST', '$batch', {
        json: encodeBatch(ready.map((p) => p.item.request)),
        retry: 'never',
        throwHttpErrors: false,
      });
      this.warmedUp();
    } catch (error) {
      this.warmedUp();
      if (!this.isTransient(error)) {
        // Nothing went out (no token, an untrusted certificate): these rows fail with the run.
        for (const p of ready) this.release(p);
        await this.abort(error);
        await Promise.all(ready.map((p) => this.drop(p)));
        return;
      }
      // The network ate the batch: whether Graph applied it is unknown; replaying is safe in effect.
      this.log.verbose(
        `$batch failed (${(error as Error).message}); sending its ${ready.length} requests again`,
      );
      return this.retryAll(ready, undefined, undefined, { message: (error as Error).message }, true);
    }
    const answers = response.status === 200 ? decodeBatch(response.body, ready.length) : undefined;
    if (!answers) {
      const e = graphErrorOf(response.body);
      if (isRetryStatus(response.status) || response.status === 200)
        return this.retryAll(
          ready,
          retryAfterMs(response.headers['retry-after']),
          response.status,
          e,
          response.status >= 500 || response.status === 200,
        );
      await Promise.all(
        ready.map((p) => this.settled(p, batchRefusedOutcome(response.status, e, p.uncertain))),
      );
      return;
    }
    await Promise.all(ready.map((p, i) => this.answer(p, answers[i])));
  }

  /** Acts on the outcome policy's verdict on one item's answer. */
  private async answer(p: Pending<I>, answer: Parameters<typeof itemVerdict>[1]): Promise<void> {
    const verdict = itemVerdict(p.item.row, answer, p.item.request);
    if (verdict.kind !== 'retry' && answer && p.item.request.next) {
      const next = p.item.request.next(answer);
      if (next) return this.step(p, next);
    }
    if (verdict.kind === 'retry') {
      if (verdict.throttled) {
        this.stats.throttled++;
        this.pacer.pause(verdict.afterMs ?? 1000);
      }
      if (verdict.uncertain) p.uncertain = true;
      return this.again(p, verdict.afterMs, verdict.status, verdict.error);
    }
    // Right after a create, the directory may not know the new object yet (replication): try again.
    if (verdict.kind === 'done' && verdict.outcome.httpStatus === 404 && p.carry?.created)
      return this.again(p, undefined, 404, graphErrorOf(answer?.body));
    if (verdict.kind === 'done') return this.settled(p, verdict.outcome);
    let found: string | undefined;
    try {
      found = await this.lookup(p.item.request);
    } catch (error) {
      if (!this.isTransient(error)) throw error;
    }
    if (!found) return this.settled(p, verdict.fallback);
    return this.found(p, found, conflictOutcome(found, p.uncertain, verdict.status, verdict.error));
  }

  private warmedUp(): void {
    if (this.warm) return;
    this.warm = true;
    this.pacer.resync();
    this.kick();
  }

  /** Requeues an item for another attempt, or fails it when it has had them all or the writer stopped. */
  private async again(
    p: Pending<I>,
    afterMs?: number,
    status?: number,
    error?: GraphErrorBody,
  ): Promise<void> {
    p.attempts++;
    this.release(p);
    // A write computed from a read is computed again: the state it was computed from may have moved.
    const retryFrom = p.item.request.retryFrom;
    if (retryFrom) p.item.request = retryFrom;
    if (this.stop) return this.drop(p);
    if (p.attempts >= (this.options.maxAttempts ?? 10))
      return this.finish(p, exhaustedOutcome(p.attempts, status, error, p.uncertain));
    this.stats.itemRetries++;
    this.requeue(
      p,
      retryDelay({
        attemptCount: p.attempts + 1,
        retryAfter: afterMs,
        retryPolicy: { backoffMs: 500, maxBackoffMs: 30_000, jitter: true },
      }),
    );
  }

  private async retryAll(
    ready: Pending<I>[],
    afterMs: number | undefined,
    status: number | undefined,
    error: GraphErrorBody,
    uncertain: boolean,
  ): Promise<void> {
    this.stats.batchRetries++;
    if (status === 429) {
      this.stats.throttled++;
      this.pacer.pause(afterMs ?? 1000);
    }
    await Promise.all(
      ready.map((p) => {
        if (uncertain) p.uncertain = true;
        return this.again(p, afterMs, status, error);
      }),
    );
  }

  private lookup(request: PlannedRequest): Promise<string | undefined> {
    this.stats.lookups++;
    return findCreated(this.options.client, request);
  }
}
