// Delivery of case and camera events to the platform, on its own BullMQ queue so a slow or failing
// platform never holds up detection or evidence. At-least-once: every event has an idempotency key
// (sent as X-Idempotency-Key) and a durable delivery record in Redis; attempts back off
// exponentially with jitter; after the last attempt the event goes to a dead-letter list from which
// an operator can redeliver it with the same key and body.
import { backoffDelay, type Backoff } from '../../pipeline/backoff.js';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { recordDelivery } from '../metrics-shared.js';
import { Keys } from '../redis.js';
import { postWebhook, WebhookError, type WebhookTarget } from './webhook.js';

export const DELIVERY_QUEUE = 'delivery';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'skipped';

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
function jobIdFor(key: string, redelivery: number): string {
  const safe = key.replace(/[^A-Za-z0-9_.-]/g, '_');
  return redelivery ? `${safe}_r${redelivery}` : safe;
}

interface JobData {
  idempotencyKey: string;
}

export class DeliveryService {
  readonly keys: Keys;
  readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly opts: {
      prefix?: string;
      bullPrefix: string;
      connection: Redis;
      webhook: WebhookTarget | null;
      backoff?: Partial<BackoffSettings>;
    },
  ) {
    this.keys = new Keys(opts.prefix);
    this.queue = new Queue<JobData>(DELIVERY_QUEUE, { connection: opts.connection, prefix: opts.bullPrefix });
    // Connection errors during a Redis restart are expected; the connection retries by itself.
    this.queue.on('error', () => undefined);
  }

  private get backoff(): BackoffSettings {
    return { ...DEFAULT_BACKOFF, ...this.opts.backoff };
  }
  private recKey(key: string): string {
    return this.keys.k('delivery', key);
  }
  private get deadList(): string {
    return this.keys.k('deliveries', 'dead');
  }
  private get index(): string {
    return this.keys.k('deliveries', 'by-created');
  }

  /** Records and queues an event; a key already delivered (or dead-lettered) is not queued again. */
  async enqueue(ev: OutboundEvent): Promise<DeliveryRecord> {
    const now = Date.now();
    const body = JSON.stringify({ id: ev.idempotencyKey, type: ev.type, createdAt: new Date(now).toISOString(), data: ev.data });
    const created = await this.redis.hsetnx(this.recKey(ev.idempotencyKey), 'body', body);
    if (created) {
      await this.redis
        .multi()
        .hset(this.recKey(ev.idempotencyKey), {
          type: ev.type,
          status: 'pending',
          attempts: '0',
          createdAt: String(now),
          redeliveries: '0',
        })
        .zadd(this.index, now, ev.idempotencyKey)
        .exec();
    }
    const rec = (await this.get(ev.idempotencyKey))!;
    if (rec.status === 'pending') await this.addJob(rec.idempotencyKey, rec.redeliveries);
    return rec;
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
    const h = await this.redis.hgetall(this.recKey(key));
    if (!h.body) return null;
    return {
      idempotencyKey: key,
      type: h.type as EventType,
      status: (h.status ?? 'pending') as DeliveryStatus,
      body: h.body,
      attempts: Number(h.attempts ?? 0),
      lastError: h.lastError || null,
      lastStatus: h.lastStatus ? Number(h.lastStatus) : null,
      createdAt: Number(h.createdAt ?? 0),
      deliveredAt: h.deliveredAt ? Number(h.deliveredAt) : null,
      redeliveries: Number(h.redeliveries ?? 0),
    };
  }

  async listDeadLetters(): Promise<DeliveryRecord[]> {
    const keys = await this.redis.lrange(this.deadList, 0, -1);
    const out: DeliveryRecord[] = [];
    for (const k of keys) {
      const r = await this.get(k);
      if (r) out.push(r);
    }
    return out;
  }

  /** Re-queues a dead letter with the same idempotency key and body. */
  async redeliver(key: string): Promise<DeliveryRecord> {
    const rec = await this.get(key);
    if (!rec) throw new Error(`no delivery with key ${key}`);
    if (rec.status !== 'dead') throw new Error(`delivery ${key} is ${rec.status}, only dead letters can be redelivered`);
    const n = rec.redeliveries + 1;
    await this.redis
      .multi()
      .hset(this.recKey(key), { status: 'pending', redeliveries: String(n), lastError: '' })
      .lrem(this.deadList, 0, key)
      .exec();
    await this.addJob(key, n);
    return (await this.get(key))!;
  }

  /** Starts consuming the delivery queue in this process. */
  startWorker(connection: Redis, concurrency = 4): Worker<JobData> {
    const b = this.backoff;
    this.worker = new Worker<JobData>(DELIVERY_QUEUE, (job) => this.process(job), {
      connection,
      prefix: this.opts.bullPrefix,
      concurrency,
      settings: { backoffStrategy: (attemptsMade: number) => backoffDelay(attemptsMade, deliveryBackoff(b)) },
    });
    this.worker.on('error', () => undefined);
    return this.worker;
  }

  private async process(job: Job<JobData>): Promise<void> {
    const key = job.data.idempotencyKey;
    const rec = await this.get(key);
    if (!rec || rec.status === 'delivered' || rec.status === 'dead') return;
    const target = this.opts.webhook;
    if (!target) {
      // No push target: the platform pulls cases through the API; the record says so.
      await this.redis.hset(this.recKey(key), { status: 'skipped' });
      return;
    }
    try {
      const status = await postWebhook(target, rec.type, key, rec.body);
      await this.redis
        .multi()
        .hincrby(this.recKey(key), 'attempts', 1)
        .hset(this.recKey(key), { status: 'delivered', deliveredAt: String(Date.now()), lastStatus: String(status), lastError: '' })
        .exec();
      void recordDelivery('success', rec.type);
    } catch (err) {
      const e = err as WebhookError;
      const last = e.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      void recordDelivery(e.permanent ? 'failed' : last ? 'dead_letter' : 'retry', rec.type);
      const m = this.redis
        .multi()
        .hincrby(this.recKey(key), 'attempts', 1)
        .hset(this.recKey(key), { lastError: e.message, lastStatus: e.status === null || e.status === undefined ? '' : String(e.status) });
      if (last) m.hset(this.recKey(key), { status: 'dead' }).lrem(this.deadList, 0, key).lpush(this.deadList, key);
      await m.exec();
      if (e.permanent) throw new UnrecoverableError(e.message);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
