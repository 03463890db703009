// Delivery of case and camera events to the platform, on its own BullMQ queue so a slow or failing
// platform never holds up detection or evidence. At-least-once: every event has an idempotency key
// (sent as X-Idempotency-Key, unique in the table) and a durable delivery record in PostgreSQL (the
// `deliveries` table: body, status, attempts, last error, dead-letter state); attempts back off
// exponentially with jitter; after the last attempt the record is a dead letter, which an operator
// can redeliver with the same key and body.
//
// A transactional outbox: the record is the truth and BullMQ (Redis) only schedules attempts. A
// `case.created` record is written in the same transaction as its case (holdInTx, status `held`
// until the evidence job releases it with the evidence attached, or the relay releases it as it is
// after `holdMs`), so a case and its notification never disagree. The relay enqueues an attempt for
// every pending record whose job is missing or finished (on start, then every `relayMs`): records
// survive a Redis flush or restart, and a crash between the insert and the enqueue.
//
// Database down: an attempt's result that cannot be recorded fails the job (BullMQ retries it; the
// receiver drops the repeat by its idempotency key), and if the job is used up the record is still
// pending, so the relay starts it again: a delivered or dead state is never lost silently. An event
// that cannot be inserted is kept in memory and inserted when the database is back.
import { backoffDelay, type Backoff } from '../../pipeline/backoff.js';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql, type Transaction } from 'kysely';
import { isConnectionError, type Db } from '../db/db.js';
import { recordDelivery } from '../metrics-shared.js';
import { postWebhook, WebhookError, type WebhookTarget } from './webhook.js';

export const DELIVERY_QUEUE = 'delivery';

/** `held`: written with its case, waiting for the evidence (or `holdMs`) before it is sent. */
export type DeliveryStatus = 'held' | 'pending' | 'delivered' | 'dead' | 'skipped';

export type EventType =
  'case.created' | 'case.evidence_added' | 'case.verified' | 'case.reopened' | 'violation.warning' | 'notice.resolved' | 'camera.health';

export interface OutboundEvent {
  type: EventType;
  idempotencyKey: string;
  data: unknown;
}

export interface DeliveryRecord {
  idempotencyKey: string;
  type: EventType;
  status: DeliveryStatus;
  /** Exact body sent on every attempt (the signature covers it). */
  body: string;
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: number;
  deliveredAt: number | null;
  redeliveries: number;
}

export interface BackoffSettings {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { maxAttempts: 8, baseMs: 2000, maxMs: 300_000 };

/** The retry delays of webhook deliveries: ±50 %, so a receiver that was down for everyone gets its retries spread out. */
export function deliveryBackoff(b: Pick<BackoffSettings, 'baseMs' | 'maxMs'>): Backoff {
  return { initialMs: b.baseMs, maxMs: b.maxMs, jitter: 0.5 };
}

/** BullMQ job ids may not contain ':'. */
export function jobIdFor(key: string, redelivery: number): string {
  const safe = key.replace(/[^A-Za-z0-9_.-]/g, '_');
  return redelivery ? `${safe}_r${redelivery}` : safe;
}

/** The body sent for an event (built once; every attempt sends these exact bytes). */
export function deliveryBody(ev: OutboundEvent, now: number): string {
  return JSON.stringify({ id: ev.idempotencyKey, type: ev.type, createdAt: new Date(now).toISOString(), data: ev.data });
}

interface JobData {
  idempotencyKey: string;
}

type Row = Record<string, unknown>;
type Exec = Db | Transaction<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function toRecord(r: Row): DeliveryRecord {
  return {
    idempotencyKey: String(r.idempotency_key),
    type: r.type as EventType,
    status: r.status as DeliveryStatus,
    body: String(r.body),
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    lastStatus: r.last_status === null || r.last_status === undefined ? null : Number(r.last_status),
    createdAt: Number(r.created_at),
    deliveredAt: r.delivered_at === null || r.delivered_at === undefined ? null : Number(r.delivered_at),
    redeliveries: Number(r.redeliveries),
  };
}

/** Resolves with p, or with undefined after ms (p keeps running: a Redis command waits out a restart). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(t));
}

export interface DeliveryOptions {
  bullPrefix: string;
  connection: Redis;
  webhook: WebhookTarget | null;
  backoff?: Partial<BackoffSettings>;
  /** How long a `held` case.created waits for its evidence before it is sent without (default 10 min). */
  holdMs?: number;
  /** Relay period (default 10 s). */
  relayMs?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class DeliveryService {
  readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | null = null;
  private relayTimer: NodeJS.Timeout | null = null;
  private relaying: Promise<number> | null = null;
  private closed = false;
  /** Events whose insert found the database down, in arrival order (inserted by the relay). */
  private readonly waiting = new Map<string, { ev: OutboundEvent; at: number }>();
  private readonly log: NonNullable<DeliveryOptions['log']>;

  constructor(
    private readonly db: Db,
    private readonly opts: DeliveryOptions,
  ) {
    this.queue = new Queue<JobData>(DELIVERY_QUEUE, { connection: opts.connection, prefix: opts.bullPrefix });
    // Connection errors during a Redis restart are expected; the connection retries by itself.
    this.queue.on('error', () => undefined);
    this.log = opts.log ?? (() => undefined);
  }

  private get backoff(): BackoffSettings {
    return { ...DEFAULT_BACKOFF, ...this.opts.backoff };
  }

  /** Events kept in memory because the database was down when they came. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /**
   * Records an event as `held` inside the caller's transaction (the case store's, for case.created):
   * it commits or rolls back with the case. A key already recorded is left as it is.
   */
  async holdInTx(trx: Exec, ev: OutboundEvent, now = Date.now()): Promise<void> {
    await sql`insert into deliveries (idempotency_key, type, status, body, created_at, updated_at)
      values (${ev.idempotencyKey}, ${ev.type}, 'held', ${deliveryBody(ev, now)}, ${now}, ${now})
      on conflict (idempotency_key) do nothing`.execute(trx);
  }

  /**
   * Records and queues an event; a key already delivered (or dead-lettered, or pending) keeps its
   * record and is not queued twice. A `held` record is released with this event's body (the
   * evidence job's case.created carries the evidence).
   */
  async enqueue(ev: OutboundEvent): Promise<DeliveryRecord> {
    const now = Date.now();
    let rec: DeliveryRecord;
    try {
      rec = await this.insert(ev, now);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      if (!this.waiting.has(ev.idempotencyKey)) this.waiting.set(ev.idempotencyKey, { ev, at: now });
      this.log('database unreachable; webhook event kept until it is back', { key: ev.idempotencyKey, error: (err as Error).message });
      this.kickRelay();
      return { ...this.fresh(ev, now), status: 'pending' };
    }
    if (rec.status === 'pending') await this.addJobSoon(rec.idempotencyKey, rec.redeliveries);
    return rec;
  }

  private fresh(ev: OutboundEvent, now: number): DeliveryRecord {
    return {
      idempotencyKey: ev.idempotencyKey,
      type: ev.type,
      status: 'pending',
      body: deliveryBody(ev, now),
      attempts: 0,
      lastError: null,
      lastStatus: null,
      createdAt: now,
      deliveredAt: null,
      redeliveries: 0,
    };
  }

  private async insert(ev: OutboundEvent, now: number): Promise<DeliveryRecord> {
    const body = deliveryBody(ev, now);
    const { rows } = await sql<Row>`insert into deliveries as d (idempotency_key, type, status, body, created_at, updated_at)
      values (${ev.idempotencyKey}, ${ev.type}, 'pending', ${body}, ${now}, ${now})
      on conflict (idempotency_key) do update set status = 'pending', body = excluded.body, updated_at = excluded.updated_at
        where d.status = 'held'
      returning *`.execute(this.db);
    if (rows[0]) return toRecord(rows[0]);
    return (await this.get(ev.idempotencyKey))!;
  }

  /** Adds the attempt job, waiting at most 2 s for Redis (the relay adds it later if this did not). */
  private async addJobSoon(key: string, redelivery: number): Promise<void> {
    const add = this.addJob(key, redelivery).catch((err: Error) =>
      this.log('delivery job not queued; the relay will', { key, error: err.message }),
    );
    await within(add, 2000);
  }

  private async addJob(key: string, redelivery: number): Promise<void> {
    const b = this.backoff;
    await this.queue.add(
      'deliver',
      { idempotencyKey: key },
      {
        jobId: jobIdFor(key, redelivery),
        attempts: b.maxAttempts,
        backoff: { type: 'jitter-exp' },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
      },
    );
  }

  async get(key: string): Promise<DeliveryRecord | null> {
    const { rows } = await sql<Row>`select * from deliveries where idempotency_key = ${key}`.execute(this.db);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Dead letters, most recently dead first. */
  async listDeadLetters(limit = 1000): Promise<DeliveryRecord[]> {
    const { rows } =
      await sql<Row>`select * from deliveries where status = 'dead' order by dead_at desc, idempotency_key limit ${limit}`.execute(this.db);
    return rows.map(toRecord);
  }

  /** Re-queues a dead letter with the same idempotency key and body. */
  async redeliver(key: string): Promise<DeliveryRecord> {
    const now = Date.now();
    const { rows } = await sql<Row>`update deliveries set status = 'pending', redeliveries = redeliveries + 1, last_error = null,
        dead_at = null, updated_at = ${now} where idempotency_key = ${key} and status = 'dead' returning *`.execute(this.db);
    if (!rows[0]) {
      const rec = await this.get(key);
      if (!rec) throw new Error(`no delivery with key ${key}`);
      throw new Error(`delivery ${key} is ${rec.status}, only dead letters can be redelivered`);
    }
    const rec = toRecord(rows[0]);
    await this.addJobSoon(key, rec.redeliveries);
    return rec;
  }

  /**
   * One relay round: inserts events kept while the database was down, releases `held` records older
   * than holdMs, and queues every pending record whose attempt job is missing or finished. Returns
   * how many jobs it queued.
   */
  relay(): Promise<number> {
    this.relaying ??= this.relayOnce().finally(() => (this.relaying = null));
    return this.relaying;
  }

  private async relayOnce(): Promise<number> {
    for (const [key, w] of [...this.waiting]) {
      await this.insert(w.ev, w.at); // throws while the database is still down: the rest wait too
      this.waiting.delete(key);
    }
    const now = Date.now();
    await sql`update deliveries set status = 'pending', updated_at = ${now}
      where status = 'held' and created_at < ${now - (this.opts.holdMs ?? 600_000)}`.execute(this.db);
    let queued = 0;
    let after = -1;
    let afterKey = '';
    for (;;) {
      const { rows } = await sql<Row>`select idempotency_key, redeliveries, created_at from deliveries
        where status = 'pending' and (created_at, idempotency_key) > (${after}, ${afterKey})
        order by created_at, idempotency_key limit 500`.execute(this.db);
      for (const r of rows) {
        const key = String(r.idempotency_key);
        const id = jobIdFor(key, Number(r.redeliveries));
        const job = await this.queue.getJob(id);
        if (job) {
          const state = await job.getState();
          if (state !== 'completed' && state !== 'failed') continue;
          // Finished: if the record is still pending now (not just when we listed it), its result
          // could not be recorded. Start again (process() skips a record that is no longer pending).
          if ((await this.get(key))?.status !== 'pending') continue;
          await job.remove().catch(() => undefined);
        }
        await this.addJob(key, Number(r.redeliveries));
        queued++;
      }
      if (rows.length < 500) break;
      after = Number(rows[rows.length - 1]!.created_at);
      afterKey = String(rows[rows.length - 1]!.idempotency_key);
    }
    if (queued) this.log('delivery relay queued pending records', { queued });
    return queued;
  }

  private kickRelay(delayMs = 0): void {
    if (this.closed || !this.worker || this.relayTimer) return;
    this.relayTimer = setTimeout(() => {
      this.relayTimer = null;
      void this.relay()
        .catch((err: Error) => this.log('delivery relay failed', { error: err.message }))
        .finally(() => this.kickRelay(this.opts.relayMs ?? 10_000));
    }, delayMs);
    this.relayTimer.unref?.();
  }

  /** Starts consuming the delivery queue in this process, and the relay (a first round at once). */
  startWorker(connection: Redis, concurrency = 4): Worker<JobData> {
    const b = this.backoff;
    this.worker = new Worker<JobData>(DELIVERY_QUEUE, (job) => this.process(job), {
      connection,
      prefix: this.opts.bullPrefix,
      concurrency,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade, deliveryBackoff(b)) },
    });
    this.worker.on('error', () => undefined);
    this.kickRelay(0);
    return this.worker;
  }

  private async process(job: Job<JobData>): Promise<void> {
    const key = job.data.idempotencyKey;
    const rec = await this.get(key);
    if (!rec || rec.status !== 'pending') return;
    const target = this.opts.webhook;
    const now = () => Date.now();
    if (!target) {
      // No push target: the platform pulls cases through the API; the record says so.
      await sql`update deliveries set status = 'skipped', updated_at = ${now()} where idempotency_key = ${key} and status = 'pending'`.execute(
        this.db,
      );
      return;
    }
    let status: number;
    try {
      status = await postWebhook(target, rec.type, key, rec.body);
    } catch (err) {
      const e = err as WebhookError;
      const last = e.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      void recordDelivery(e.permanent ? 'failed' : last ? 'dead_letter' : 'retry', rec.type);
      const t = now();
      // If this write fails (database down) the job fails with that error: retried, or re-queued
      // by the relay while the record stays pending.
      await sql`update deliveries set attempts = attempts + 1, last_error = ${e.message}, last_status = ${e.status ?? null}, updated_at = ${t},
          status = case when ${last}::boolean then 'dead' else status end, dead_at = case when ${last}::boolean then ${t}::bigint else dead_at end
        where idempotency_key = ${key} and status = 'pending'`.execute(this.db);
      if (e.permanent) throw new UnrecoverableError(e.message);
      throw err;
    }
    const t = now();
    await sql`update deliveries set attempts = attempts + 1, status = 'delivered', delivered_at = ${t}, last_status = ${status},
        last_error = null, updated_at = ${t} where idempotency_key = ${key} and status = 'pending'`.execute(this.db);
    void recordDelivery('success', rec.type);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.relayTimer) clearTimeout(this.relayTimer);
    await this.relaying?.catch(() => undefined);
    await this.worker?.close();
    await this.queue.close();
  }
}
