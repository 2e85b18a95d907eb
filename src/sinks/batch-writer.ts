import { setTimeout as sleep } from 'node:timers/promises';
import { retryAfterMs, type GraphClient } from '../graph/client.js';
import type { LinkRow, ObjectRow } from '../sources/command-csv.js';
import { classifyOutcome, type PlannedRequest } from '../streams/to-request.js';
import { silentLogger, type Logger } from '../types.js';
import type { Outcome } from './results.js';
import { WritePacer, type WriteBudget } from './write-pacer.js';

/**
 * The reverse stream's writer: JSON `$batch` calls of at most 20 requests, several in flight, rows
 * touching the same object kept in input order (never two of them in flight at once), 429/503/504
 * retried per item and per batch after `Retry-After`, writes paced under Graph's write budget, and
 * creates that meet their own object (a replay, a crash) resolved by looking it up.
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

export interface BatchWriterOptions {
  client: GraphClient;
  /** `$batch` calls in flight (default 4). */
  concurrency?: number;
  /** Requests per `$batch` (default and maximum 20). */
  batchSize?: number;
  /** Client-side pacing; null for none. */
  writeBudget: WriteBudget | null;
  /** Attempts per item before it fails (default 10). */
  maxAttempts?: number;
  logger?: Logger;
  /** Called once per item with its final outcome. */
  onResult: (item: WriteItem, outcome: Outcome) => void | Promise<void>;
  /** Called before items are first sent, once per batch (the journal's `started`, the password sink's `pending`). */
  beforeSend?: (items: WriteItem[]) => Promise<void>;
}

export interface WriterStats {
  batches: number;
  itemRetries: number;
  batchRetries: number;
  throttled: number;
  lookups: number;
}

interface Pending {
  item: WriteItem;
  attempts: number;
  notBefore: number;
  sent: boolean;
}

const RETRY_STATUS = new Set([429, 503, 504]);
const CONFLICT = /another object with the same value for property (userPrincipalName|mailNickname)/i;

function errorOf(body: unknown): { code?: string; message?: string } {
  const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return { ...(e?.code ? { code: e.code } : {}), ...(e?.message ? { message: e.message } : {}) };
}

export class BatchWriter {
  readonly stats: WriterStats = { batches: 0, itemRetries: 0, batchRetries: 0, throttled: 0, lookups: 0 };
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Set<string>();
  private running = 0;
  private readonly pacer: WritePacer;
  private wake?: () => void;
  private failure: Error | undefined;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly log: Logger;
  private readonly loop: Promise<void>;
  private ended = false;

  constructor(private readonly options: BatchWriterOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.batchSize = Math.min(20, Math.max(1, options.batchSize ?? 20));
    this.pacer = new WritePacer(options.writeBudget);
    this.log = options.logger ?? silentLogger;
    this.loop = this.run();
  }

  /** Queues an item; resolves when there is room for more (backpressure). */
  async push(item: WriteItem): Promise<void> {
    if (this.failure) throw this.failure;
    this.queue.push({ item, attempts: 0, notBefore: 0, sent: false });
    this.kick();
    while (this.queue.length >= this.batchSize * this.concurrency * 4 && !this.failure) await this.idle();
  }

  /** Waits until every queued item has its outcome. */
  async end(): Promise<void> {
    this.ended = true;
    this.kick();
    await this.loop;
    if (this.failure) throw this.failure;
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.wake;
      this.wake = () => {
        previous?.();
        resolve();
      };
    });
  }

  private kick(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.failure) return;
      if (this.ended && this.queue.length === 0 && this.running === 0) return;
      const now = performance.now();
      let waitMs: number | undefined;
      if (this.running < this.concurrency) {
        const batch = this.pick(now);
        if (batch.length) {
          const wait = this.pacer.reserve(batch.length);
          if (wait > 0) waitMs = wait;
          else {
            this.take(batch);
            this.running++;
            void this.send(batch)
              .catch((e: unknown) => {
                this.failure ??= e instanceof Error ? e : new Error(String(e));
              })
              .finally(() => {
                this.running--;
                this.kick();
              });
            continue;
          }
        } else {
          const next = Math.min(
            ...this.queue.filter((p) => !this.inFlight.has(p.item.request.objectKey)).map((p) => p.notBefore),
          );
          if (Number.isFinite(next) && next > now) waitMs = next - now;
        }
      }
      await (waitMs !== undefined ? Promise.race([sleep(waitMs), this.idle()]) : this.idle());
    }
  }

  /**
   * The next batch (not yet taken off the queue): queue order, one item per object, none whose
   * object has an earlier item waiting.
   */
  private pick(now: number): Pending[] {
    const batch: Pending[] = [];
    const blocked = new Set<string>();
    for (let i = 0; i < this.queue.length && batch.length < this.batchSize; i++) {
      const p = this.queue[i]!;
      const key = p.item.request.objectKey;
      if (blocked.has(key) || this.inFlight.has(key)) {
        blocked.add(key);
        continue;
      }
      blocked.add(key);
      if (p.notBefore > now) continue;
      batch.push(p);
    }
    return batch;
  }

  private take(batch: Pending[]): void {
    for (const p of batch) {
      this.queue.splice(this.queue.indexOf(p), 1);
      this.inFlight.add(p.item.request.objectKey);
    }
  }

  private requeue(p: Pending, delayMs: number): void {
    p.notBefore = performance.now() + delayMs;
    // Back at its place in input order, so that later rows of the same object stay behind it.
    const at = this.queue.findIndex((q) => q.item.seq > p.item.seq);
    if (at < 0) this.queue.push(p);
    else this.queue.splice(at, 0, p);
  }

  private async finish(p: Pending, outcome: Outcome): Promise<void> {
    await this.options.onResult(p.item, outcome);
  }

  private async send(batch: Pending[]): Promise<void> {
    const ready: Pending[] = [];
    for (const p of batch) {
      if (p.item.lookupFirst && !p.sent) {
        const found = await this.lookup(p.item.request);
        if (found) {
          await this.finish(p, {
            status: 'ok',
            httpStatus: 200,
            newId: found,
            message: 'created by an earlier run (found by its unique name)',
          });
          this.inFlight.delete(p.item.request.objectKey);
          continue;
        }
      }
      ready.push(p);
    }
    const first = ready.filter((p) => !p.sent);
    if (first.length) await this.options.beforeSend?.(first.map((p) => p.item));
    for (const p of first) p.sent = true;
    if (!ready.length) return;
    this.stats.batches++;
    const requests = ready.map((p, i) => ({
      id: String(i + 1),
      method: p.item.request.method,
      url: p.item.request.url,
      ...(p.item.request.body
        ? {
            headers: { 'Content-Type': 'application/json', ...p.item.request.headers },
            body: p.item.request.body,
          }
        : {}),
    }));
    let response;
    try {
      response = await this.options.client.request('POST', '$batch', {
        json: { requests },
        retry: 'never',
        throwHttpErrors: false,
      });
    } catch (error) {
      // The network ate the batch: whether Graph applied it is unknown; replaying is safe in effect.
      this.log.verbose(
        `$batch failed (${(error as Error).message}); sending its ${ready.length} requests again`,
      );
      return this.retryAll(ready, undefined, error);
    }
    if (response.status !== 200 || !Array.isArray((response.body as { responses?: unknown })?.responses)) {
      if (RETRY_STATUS.has(response.status) || response.status === 200)
        return this.retryAll(
          ready,
          retryAfterMs(response.headers['retry-after']),
          undefined,
          response.status,
        );
      const e = errorOf(response.body);
      for (const p of ready) {
        this.inFlight.delete(p.item.request.objectKey);
        await this.finish(p, {
          status: 'failed',
          httpStatus: response.status,
          errorCode: e.code ?? 'ERR_GRAPH_HTTP',
          message: e.message ?? `$batch answered ${response.status}`,
        });
      }
      return;
    }
    const byId = new Map<string, { status: number; headers?: Record<string, string>; body?: unknown }>();
    for (const r of (
      response.body as {
        responses: { id: string; status: number; headers?: Record<string, string>; body?: unknown }[];
      }
    ).responses)
      byId.set(String(r.id), r);
    for (const [i, p] of ready.entries()) {
      const r = byId.get(String(i + 1));
      if (!r) {
        await this.again(p, 1000);
        continue;
      }
      if (RETRY_STATUS.has(r.status) || r.status === 424) {
        const headers = Object.fromEntries(
          Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
        );
        const after = retryAfterMs(headers['retry-after']);
        if (r.status === 429) {
          this.stats.throttled++;
          this.pacer.pause(after ?? 1000);
        }
        await this.again(p, after, r.status, errorOf(r.body));
        continue;
      }
      this.inFlight.delete(p.item.request.objectKey);
      await this.settle(p, r.status, r.body);
    }
  }

  /** Requeues an item for another attempt; false (and a failed outcome) when it has had them all. */
  private async again(
    p: Pending,
    afterMs?: number,
    status?: number,
    error?: { code?: string; message?: string },
  ): Promise<boolean> {
    p.attempts++;
    this.inFlight.delete(p.item.request.objectKey);
    if (p.attempts >= (this.options.maxAttempts ?? 10)) {
      await this.finish(p, {
        status: 'failed',
        httpStatus: status ?? '',
        errorCode: error?.code ?? 'ERR_RETRIES_EXHAUSTED',
        message: `gave up after ${p.attempts} attempts${error?.message ? `: ${error.message}` : ''}`,
      });
      return false;
    }
    this.stats.itemRetries++;
    const backoff = Math.min(30_000, 500 * 2 ** p.attempts) * (0.5 + Math.random() / 2);
    this.requeue(p, afterMs ?? backoff);
    return true;
  }

  private async retryAll(
    ready: Pending[],
    afterMs: number | undefined,
    error?: unknown,
    status?: number,
  ): Promise<void> {
    this.stats.batchRetries++;
    if (status === 429) {
      this.stats.throttled++;
      this.pacer.pause(afterMs ?? 1000);
    }
    for (const p of ready)
      await this.again(p, afterMs, status, error ? { message: (error as Error).message } : undefined);
  }

  private async settle(p: Pending, status: number, body: unknown): Promise<void> {
    const { row, request } = p.item;
    const e = errorOf(body);
    if (status >= 200 && status < 300) {
      const id = (body as { id?: string } | undefined)?.id;
      return this.finish(p, {
        status: 'ok',
        httpStatus: status,
        ...(row.command === 'insert' && row.kind === 'object' && id ? { newId: id } : {}),
      });
    }
    if (
      row.kind === 'object' &&
      row.command === 'insert' &&
      status === 400 &&
      CONFLICT.test(e.message ?? '')
    ) {
      const found = await this.lookup(request);
      if (found)
        return this.finish(p, {
          status: 'skipped',
          httpStatus: status,
          errorCode: e.code ?? '',
          message: `already exists (${e.message ?? ''})`,
          newId: found,
        });
    }
    const verdict = classifyOutcome(row, status, e.code, e.message);
    return this.finish(p, {
      status: verdict,
      httpStatus: status,
      errorCode: e.code ?? '',
      message:
        verdict === 'skipped'
          ? `nothing to do: ${e.message ?? status}`
          : (e.message ?? `Graph answered ${status}`),
    });
  }

  /** The id of the object a create would make, found by userPrincipalName or mailNickname. */
  private async lookup(request: PlannedRequest): Promise<string | undefined> {
    this.stats.lookups++;
    const body = request.body ?? {};
    const client = this.options.client;
    if (request.url === '/users' && typeof body.userPrincipalName === 'string') {
      const r = await client.get<{ id?: string }>(
        `users/${encodeURIComponent(body.userPrincipalName)}?$select=id`,
        { throwHttpErrors: false },
      );
      return r.status === 200 ? r.body.id : undefined;
    }
    if (request.url === '/groups' && typeof body.mailNickname === 'string') {
      const nick = body.mailNickname.replace(/'/g, "''");
      const r = await client.get<{ value?: { id: string }[] }>(
        `groups?$filter=${encodeURIComponent(`mailNickname eq '${nick}'`)}&$select=id`,
        {
          throwHttpErrors: false,
        },
      );
      return r.status === 200 ? r.body.value?.[0]?.id : undefined;
    }
    return undefined;
  }
}
