// Webhook delivery through the real BullMQ queue and a real HTTP receiver: retries with backoff until
// the platform answers 2xx (one delivery per idempotency key, validly signed), dead letters after the
// last attempt, and redelivery of a dead letter with the same key and body.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { initSharedMetrics, labelField, SHARED_METRICS } from '../../infra/metrics-shared.js';
import { backoffDelay } from '../../pipeline/backoff.js';
import { DeliveryService, deliveryBackoff } from '../../infra/delivery/delivery.js';
import { Webhook } from 'standardwebhooks';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signatureHeader, signedHeaders, verifySignature } from '../../infra/delivery/webhook.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { redisPerFile, waitFor } from './helpers.js';

const SECRET = 'test-secret-1';

interface Received {
  at: number;
  key: string;
  signatureOk: boolean;
  /** Standard Webhooks headers verified by the `standardwebhooks` package (an independent implementation). */
  standardOk: boolean;
  body: string;
  status: number;
}

async function receiver(
  answer: (n: number) => number,
): Promise<{ url: string; got: Received[]; server: Server; setAnswer: (f: (n: number) => number) => void }> {
  const got: Received[] = [];
  let decide = answer;
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const status = decide(got.length + 1);
      let standardOk = false;
      try {
        // A secret without the whsec_ prefix is a raw key: the library takes it as bytes.
        new Webhook(SECRET, { format: 'raw' }).verify(body, req.headers as Record<string, string>);
        standardOk = req.headers['webhook-id'] === req.headers[IDEMPOTENCY_HEADER];
      } catch {
        standardOk = false;
      }
      got.push({
        at: Date.now(),
        key: String(req.headers[IDEMPOTENCY_HEADER]),
        signatureOk: verifySignature(SECRET, req.headers[SIGNATURE_HEADER] as string, body).ok,
        standardOk,
        body,
        status,
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server, setAnswer: (f) => (decide = f) };
}

let redis: Redis;
let redisUrl: string;
redisPerFile('delivery', (r, url) => {
  redis = r;
  redisUrl = url;
});

// The delivery records are rows (PGlite in memory here; delivery-outbox.test.ts runs real PostgreSQL).
let database: Database;
beforeAll(async () => {
  database = await openDatabase({});
});
afterAll(async () => {
  await database?.close();
});

function service(prefix: string, url: string, maxAttempts: number): { svc: DeliveryService; conns: Redis[] } {
  const conns = [createRedis(redisUrl), createRedis(redisUrl)];
  const svc = new DeliveryService(database.db, {
    bullPrefix: `${prefix}-bull`,
    connection: conns[0]!,
    webhook: { url, secret: SECRET, timeoutMs: 2000 },
    backoff: { maxAttempts, baseMs: 200, maxMs: 2000 },
  });
  svc.startWorker(conns[1]!, 2);
  return { svc, conns };
}

describe('signatures', () => {
  it('verifies its own header and rejects tampering, other secrets and stale timestamps', () => {
    const body = '{"a":1}';
    const h = signatureHeader(SECRET, body);
    expect(verifySignature(SECRET, h, body)).toEqual({ ok: true });
    expect(verifySignature(SECRET, h, '{"a":2}').ok).toBe(false);
    expect(verifySignature('other', h, body).ok).toBe(false);
    expect(verifySignature(SECRET, signatureHeader(SECRET, body, Date.now() - 3_600_000), body).reason).toMatch(/tolerance/);
    expect(verifySignature(SECRET, undefined, body).reason).toMatch(/missing/);
  });
  it('signs Standard Webhooks headers that the standardwebhooks package verifies, for whsec_ and raw secrets', () => {
    const body = JSON.stringify({ type: 'case.created', data: { caseId: 'case_1', nameZh: '占道经营' } });
    const whsec = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const h = signedHeaders(whsec, 'case.created:case_1', body);
    expect(h['webhook-id']).toBe('case.created:case_1');
    expect(h['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(whsec).verify(body, h)).toEqual(JSON.parse(body));
    expect(() => new Webhook(whsec).verify(body.replace('case_1', 'case_2'), h)).toThrow();
    expect(() => new Webhook(whsec).verify(body, { ...h, 'webhook-id': 'other' })).toThrow();
    const stale = signedHeaders(whsec, 'k', body, Date.now() - 3_600_000);
    expect(() => new Webhook(whsec).verify(body, stale)).toThrow(/timestamp/i);
    const raw = signedHeaders(SECRET, 'k2', body);
    expect(new Webhook(SECRET, { format: 'raw' }).verify(body, raw)).toEqual(JSON.parse(body));
    expect(() => new Webhook('other-secret', { format: 'raw' }).verify(body, raw)).toThrow();
    // Our own scheme rides along on the same request and timestamp.
    expect(verifySignature(whsec, h[SIGNATURE_HEADER], body)).toEqual({ ok: true });
    expect(h[SIGNATURE_HEADER]).toContain(`t=${h['webhook-timestamp']},`);
  });

  it('backs off exponentially with ±50 % jitter and caps at max', () => {
    const b = deliveryBackoff({ baseMs: 1000, maxMs: 60_000 });
    expect(backoffDelay(1, b, () => 0)).toBe(500);
    expect(backoffDelay(1, b, () => 1)).toBe(1500);
    expect(backoffDelay(4, b, () => 0.5)).toBe(8000);
    expect(backoffDelay(20, b, () => 1)).toBe(60_000);
  });
});

describe('webhook delivery', () => {
  it('retries through three 500s and delivers once per idempotency key with a valid signature', async () => {
    const rx = await receiver((n) => (n <= 3 ? 500 : 200));
    const { svc, conns } = service('d1', rx.url, 6);
    const metrics = initSharedMetrics(redis, 'd1');
    try {
      await svc.enqueue({ type: 'case.created', idempotencyKey: 'case.created:case_1', data: { caseId: 'case_1' } });
      // A duplicate enqueue of the same event (e.g. a replayed confirmation) must not add a delivery.
      await svc.enqueue({ type: 'case.created', idempotencyKey: 'case.created:case_1', data: { caseId: 'case_1' } });
      const rec = await waitFor(
        'delivered',
        async () => ((await svc.get('case.created:case_1'))?.status === 'delivered' ? svc.get('case.created:case_1') : null),
        30_000,
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(rx.got.map((g) => g.status)).toEqual([500, 500, 500, 200]);
      expect(rx.got.every((g) => g.key === 'case.created:case_1' && g.signatureOk && g.standardOk)).toBe(true);
      expect(new Set(rx.got.map((g) => g.body)).size).toBe(1);
      expect(JSON.parse(rx.got[3]!.body)).toMatchObject({ id: 'case.created:case_1', type: 'case.created', data: { caseId: 'case_1' } });
      expect(rec).toMatchObject({ attempts: 4, lastStatus: 200 });
      // Every attempt is counted in citywatch_delivery_attempts_total by how it ended.
      const attempts = await waitFor(
        'delivery metrics',
        async () => {
          const h = await redis.hgetall(metrics.key(SHARED_METRICS.deliveries));
          return Object.values(h).reduce((s, v) => s + Number(v), 0) >= 4 ? h : null;
        },
        10_000,
      );
      expect(attempts).toEqual({
        [labelField({ result: 'retry', type: 'case.created' })]: '3',
        [labelField({ result: 'success', type: 'case.created' })]: '1',
      });
      // Gaps grow: backoff, not a tight loop.
      const gaps = rx.got.slice(1).map((g, i) => g.at - rx.got[i]!.at);
      expect(gaps[0]).toBeGreaterThanOrEqual(90);
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
      console.log(`delivery attempts at +${rx.got.map((g) => g.at - rx.got[0]!.at).join(', +')} ms`);
    } finally {
      await svc.close();
      await Promise.all(conns.map(closeRedis));
      rx.server.close();
    }
  });

  it('dead-letters after the last attempt and redelivers with the same key and body', async () => {
    const rx = await receiver(() => 503);
    const { svc, conns } = service('d2', rx.url, 3);
    const metrics = initSharedMetrics(redis, 'd2');
    try {
      await svc.enqueue({ type: 'case.created', idempotencyKey: 'case.created:case_9', data: { caseId: 'case_9' } });
      const dead = await waitFor(
        'dead letter',
        async () => {
          const d = await svc.listDeadLetters();
          return d.length ? d : null;
        },
        30_000,
      );
      expect(dead.map((d) => d.idempotencyKey)).toEqual(['case.created:case_9']);
      expect(dead[0]).toMatchObject({ status: 'dead', attempts: 3, lastStatus: 503 });
      expect(rx.got).toHaveLength(3);
      const counted = await waitFor(
        'delivery metrics',
        async () => {
          const h = await redis.hgetall(metrics.key(SHARED_METRICS.deliveries));
          return h[labelField({ result: 'dead_letter', type: 'case.created' })] ? h : null;
        },
        10_000,
      );
      expect(counted).toEqual({
        [labelField({ result: 'retry', type: 'case.created' })]: '2',
        [labelField({ result: 'dead_letter', type: 'case.created' })]: '1',
      });
      rx.setAnswer(() => 200);
      await svc.redeliver('case.created:case_9');
      await waitFor('redelivered', async () => (await svc.get('case.created:case_9'))?.status === 'delivered', 30_000);
      expect(rx.got).toHaveLength(4);
      expect(rx.got[3]).toMatchObject({
        key: 'case.created:case_9',
        signatureOk: true,
        standardOk: true,
        status: 200,
        body: rx.got[0]!.body,
      });
      expect(await svc.listDeadLetters()).toEqual([]);
      await expect(svc.redeliver('case.created:case_9')).rejects.toThrow(/only dead letters/);
    } finally {
      await svc.close();
      await Promise.all(conns.map(closeRedis));
      rx.server.close();
    }
  });

  it('does not retry a permanent 4xx rejection', async () => {
    const rx = await receiver(() => 400);
    const { svc, conns } = service('d3', rx.url, 5);
    try {
      await svc.enqueue({ type: 'camera.health', idempotencyKey: 'camera.health:c:1:online', data: {} });
      await waitFor('dead letter', async () => (await svc.get('camera.health:c:1:online'))?.status === 'dead', 20_000);
      await new Promise((r) => setTimeout(r, 800));
      expect(rx.got).toHaveLength(1);
    } finally {
      await svc.close();
      await Promise.all(conns.map(closeRedis));
      rx.server.close();
    }
  });
});
