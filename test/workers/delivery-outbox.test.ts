// The webhook delivery outbox in the database (PostgreSQL and PGlite): delivery records survive a
// Redis flush and are queued again by the relay; a case and its case.created record commit
// together or not at all; and a worker started while PostgreSQL is down analyses a real stream,
// journals its case, and once PostgreSQL is up the case is stored once and its case.created
// webhook accepted once by a real receiver on loopback.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { DeliveryService } from '../../infra/delivery/delivery.js';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verifySignature } from '../../infra/delivery/webhook.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { CaseStore, type CreateCaseInput } from '../../infra/stores/case-store.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { parkedCarClip, parkedCarConfig, redisPerFile, startHlsLoop, tempDir, waitFor } from './helpers.js';

const SECRET = 'outbox-secret';

interface Got {
  key: string;
  type: string;
  ok: boolean;
  status: number;
}

/** `before`: awaited before each answer (a test takes the database down there). */
async function receiver(before?: () => Promise<void>): Promise<{ url: string; got: Got[]; server: Server }> {
  const got: Got[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', async () => {
      await before?.();
      const key = String(req.headers[IDEMPOTENCY_HEADER]);
      // A platform that drops repeats by idempotency key: a second copy is acknowledged, not accepted.
      const status = got.some((g) => g.key === key && g.status === 200) ? 208 : 200;
      got.push({
        key,
        type: String(req.headers['x-citywatch-event']),
        ok: verifySignature(SECRET, req.headers[SIGNATURE_HEADER] as string, body).ok,
        status,
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

let redis: Redis;
let redisUrl: string;
redisPerFile('delivery-outbox', (r, url) => {
  redis = r;
  redisUrl = url;
});

let pgServer: LocalPostgres;
let pgUp = true;
const pgStop = async () => {
  await pgServer.stop();
  pgUp = false;
};
/** Starts the server again if a test stopped it (start() on a running server would start a second). */
const pgStart = async () => {
  if (pgUp) return;
  await pgServer.start();
  pgUp = true;
};
beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pgServer?.destroy();
});

const reason = {
  classId: 'street_vending',
  zoneId: 'plaza',
  zoneType: 'no_vending',
  subject: 't',
  trackIds: [1],
  dwellSec: 60,
  hits: 9,
  window: 10,
  medianScore: 0.7,
  thresholds: {},
  firstSeen: 0,
  confirmedAt: 60,
} as unknown as CreateCaseInput['reason'];

function caseInput(key: string, x: number): CreateCaseInput {
  return {
    idempotencyKey: key,
    cameraId: 'cam-o',
    classId: 'street_vending',
    zoneId: 'plaza',
    zoneType: 'no_vending',
    firstSeenAt: Date.now() - 60_000,
    lastSeenAt: Date.now(),
    // Far apart, so no episode merges into another's case.
    boxes: [{ x1: x, y1: 0, x2: x + 5, y2: 5 }],
    reason,
    mergeWindowMs: 600_000,
  };
}

for (const kind of ['postgres', 'pglite'] as const) {
  describe(`delivery outbox on ${kind}`, () => {
    let database: Database;
    beforeAll(async () => {
      database = await openDatabase(kind === 'postgres' ? { url: await pgServer.createDatabase(`outbox_${kind}`) } : {});
    }, 120_000);
    afterAll(async () => {
      await database?.close();
    });

    it('keeps delivery records through a Redis flush and the relay queues them again', async () => {
      const rx = await receiver();
      const prefix = `ob-${kind}`;
      const conns = [createRedis(redisUrl), createRedis(redisUrl)];
      const make = () =>
        new DeliveryService(database.db, {
          bullPrefix: `${prefix}-bull`,
          connection: conns[0]!,
          webhook: { url: rx.url, secret: SECRET, timeoutMs: 2000 },
          backoff: { maxAttempts: 3, baseMs: 100, maxMs: 500 },
          relayMs: 300,
        });
      let svc = make();
      try {
        // Recorded and queued, but no process consumes the queue yet; then Redis loses everything.
        for (const k of ['a', 'b', 'c'])
          await svc.enqueue({ type: 'camera.health', idempotencyKey: `camera.health:${prefix}:${k}`, data: { k } });
        expect(await svc.queue.getJobCounts('waiting')).toEqual({ waiting: 3 });
        await redis.flushall();
        expect(await svc.queue.getJobCounts('waiting')).toEqual({ waiting: 0 });
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from deliveries
          where status = 'pending' and idempotency_key like ${`camera.health:${prefix}:%`}`.execute(database.db);
        expect(rows[0]!.n).toBe(3);
        await svc.close();
        // A process starting the delivery worker relays the pending rows at once.
        svc = make();
        svc.startWorker(conns[1]!, 2);
        await waitFor('all delivered', async () => rx.got.filter((g) => g.status === 200).length === 3 || null, 20_000);
        for (const k of ['a', 'b', 'c'])
          expect(await svc.get(`camera.health:${prefix}:${k}`)).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200 });
        // Another relay round finds nothing to do, and nothing was sent twice.
        expect(await svc.relay()).toBe(0);
        await new Promise((r) => setTimeout(r, 700));
        expect(rx.got.map((g) => g.key).sort()).toEqual(['a', 'b', 'c'].map((k) => `camera.health:${prefix}:${k}`));
        expect(rx.got.every((g) => g.ok)).toBe(true);
      } finally {
        await svc.close();
        await Promise.all(conns.map(closeRedis));
        rx.server.close();
      }
    });

    it('writes a case and its case.created record in one transaction, held until released', async () => {
      const conn = createRedis(redisUrl);
      const svc = new DeliveryService(database.db, { bullPrefix: `oc-${kind}-bull`, connection: conn, webhook: null, holdMs: 60_000 });
      let fail = false;
      const cases = new CaseStore(database.db, {
        onCreateTx: async (trx, rec) => {
          await svc.holdInTx(trx, { type: 'case.created', idempotencyKey: `case.created:${rec.id}`, data: { case: rec } }, rec.createdAt);
          if (fail) throw new Error('notification could not be recorded');
        },
      });
      try {
        const { case: c } = await cases.create(caseInput(`ep-${kind}-1`, 10));
        expect(await svc.get(`case.created:${c.id}`)).toMatchObject({ status: 'held', type: 'case.created', attempts: 0 });
        // A replay of the same episode adds neither a case nor a record.
        expect((await cases.create(caseInput(`ep-${kind}-1`, 10))).outcome).toBe('existing');
        const n = await sql<{
          n: number;
        }>`select count(*)::int as n from deliveries where idempotency_key = ${`case.created:${c.id}`}`.execute(database.db);
        expect(n.rows[0]!.n).toBe(1);
        // When the record cannot be written the case is not written either.
        fail = true;
        await expect(cases.create(caseInput(`ep-${kind}-2`, 300))).rejects.toThrow(/could not be recorded/);
        expect(await cases.getByEpisode(`ep-${kind}-2`)).toBeNull();
        fail = false;
        // The evidence job's enqueue releases the held record with its own body (the evidence).
        const released = await svc.enqueue({
          type: 'case.created',
          idempotencyKey: `case.created:${c.id}`,
          data: { case: c, evidence: ['x'] },
        });
        expect(released.status).toBe('pending');
        expect(JSON.parse(released.body)).toMatchObject({ data: { evidence: ['x'] } });
        // Without a release, the relay sends a held record after holdMs.
        const late = Date.now() - 120_000;
        await svc.holdInTx(database.db, { type: 'case.created', idempotencyKey: `case.created:late-${kind}`, data: {} }, late);
        await svc.relay();
        expect((await svc.get(`case.created:late-${kind}`))?.status).toBe('pending');
      } finally {
        await cases.close();
        await svc.close();
        await closeRedis(conn);
      }
    });
  });
}

describe('PostgreSQL down while an attempt ends', () => {
  it('records the delivery once it is back (the attempt is repeated; the receiver accepted it once)', async () => {
    const database = await openDatabase({ url: await pgServer.createDatabase('attempt_down') });
    const conns = [createRedis(redisUrl), createRedis(redisUrl)];
    // The receiver takes the first attempt, and PostgreSQL goes down before it answers, so the
    // worker cannot record the result.
    let stopping: Promise<void> | null = null;
    const rx = await receiver(() => (stopping ??= pgStop()));
    const svc = new DeliveryService(database.db, {
      bullPrefix: 'adown-bull',
      connection: conns[0]!,
      webhook: { url: rx.url, secret: SECRET, timeoutMs: 5000 },
      backoff: { maxAttempts: 2, baseMs: 100, maxMs: 200 },
      relayMs: 300,
    });
    try {
      const key = 'camera.health:adown:1';
      await svc.enqueue({ type: 'camera.health', idempotencyKey: key, data: {} });
      svc.startWorker(conns[1]!, 1);
      await waitFor('first attempt', async () => rx.got.length > 0 || null, 20_000, 50);
      await stopping;
      // Both attempts end while the result cannot be written: the job is used up, the row still pending.
      await waitFor('job used up', async () => (await svc.queue.getJobCounts('failed')).failed === 1 || null, 20_000, 100);
      await pgStart();
      const rec = await waitFor('recorded', async () => ((await svc.get(key))?.status === 'delivered' ? svc.get(key) : null), 30_000, 200);
      expect(rec).toMatchObject({ status: 'delivered' });
      expect(rx.got.filter((g) => g.key === key && g.status === 200)).toHaveLength(1);
      expect(rx.got.length).toBeGreaterThanOrEqual(2);
      console.log(`attempt-result outage: ${rx.got.length} POSTs, statuses ${rx.got.map((g) => g.status).join(',')}`);
    } finally {
      await pgStart().catch(() => undefined);
      await svc.close();
      await Promise.all(conns.map(closeRedis));
      await database.close();
      rx.server.close();
    }
  }, 120_000);
});

describe('worker started while PostgreSQL is down', () => {
  let worker: WorkerHandle | null = null;
  const streams: Awaited<ReturnType<typeof startHlsLoop>>[] = [];
  let cleanup: (() => Promise<void>) | null = null;
  afterAll(async () => {
    await worker?.drain();
    for (const s of streams) await s.stop();
    await cleanup?.();
    if (pgServer) await pgStart().catch(() => undefined);
  });

  it('runs its camera, journals the case, and stores it once and delivers case.created once when PostgreSQL is up', async () => {
    const t = await tempDir('pg-down');
    cleanup = t.cleanup;
    const url = await pgServer.createDatabase('worker_down');
    const rx = await receiver();
    const clip = await parkedCarClip(60);
    await pgStop();
    const started = Date.now();
    worker = await startWorker({
      redisUrl,
      prefix: 'pgdown',
      databaseUrl: url,
      dataDir: join(t.dir, 'data'),
      workerId: 'wpg',
      inferThreads: 1,
      preRollSec: 2,
      postRollSec: 2,
      webhookUrl: rx.url,
      webhookSecret: SECRET,
      deliveryBackoffMs: 300,
      log: () => undefined,
    });
    console.log(`worker started in ${Date.now() - started} ms with PostgreSQL down`);
    expect(worker.database.notReady()).not.toBeNull();
    const hls = await startHlsLoop({ clip, loop: true });
    streams.push(hls);
    await worker.cameras.create({ id: 'camP', url: hls.url, config: parkedCarConfig('camP') });
    await waitFor('case journaled', async () => worker!.cases.outboxSize > 0 || null, 90_000, 200);
    await pgStart();
    const upAt = Date.now();
    await waitFor('database ready', async () => worker!.database.notReady() === null || null, 60_000, 200);
    const stored = await waitFor('case stored', async () => (await worker!.cases.list({ cameraId: 'camP' })).items[0], 60_000, 200);
    const key = `case.created:${stored.id}`;
    await waitFor('case.created accepted', async () => rx.got.some((g) => g.key === key && g.status === 200) || null, 60_000, 200);
    console.log(`case stored and delivered ${Date.now() - upAt} ms after PostgreSQL came back`);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await worker.cases.list({ cameraId: 'camP' })).items).toHaveLength(1);
    expect(rx.got.filter((g) => g.key === key && g.status === 200)).toHaveLength(1);
    expect(rx.got.filter((g) => g.key === key).every((g) => g.ok)).toBe(true);
    expect(await worker.delivery.get(key)).toMatchObject({ status: 'delivered', type: 'case.created' });
    rx.server.close();
  }, 300_000);
});

describe('API started while PostgreSQL is down', () => {
  it('listens, answers 503 DATABASE_UNAVAILABLE on routes that need the database, and serves them once it is back', async () => {
    const { startApi } = await import('../../api/server.js');
    const { pino } = await import('pino');
    const t = await tempDir('api-pg-down');
    const url = await pgServer.createDatabase('api_down');
    await pgStop();
    const key = 'api-down-admin-key-0123456789abcdef';
    const api = await startApi({
      port: 0,
      settings: { redisUrl, prefix: 'apidown', dataDir: join(t.dir, 'data'), s3: null, databaseUrl: url },
      env: { CITYWATCH_ADMIN_KEY: key },
      logger: pino({ level: 'silent' }),
      replayWorker: false,
    });
    try {
      const get = (p: string) => fetch(`${api.url}${p}`, { headers: { Authorization: `Bearer ${key}` } });
      const down = await get('/v1/cases');
      expect(down.status).toBe(503);
      const body = (await down.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('DATABASE_UNAVAILABLE');
      expect(body.error.message).toMatch(/database/);
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      await pgStart();
      // Migrated and the CITYWATCH_ADMIN_KEY stored when it is back (backoff ≤ 15 s).
      await waitFor('cases served', async () => (await get('/v1/cases')).status === 200 || null, 60_000, 250);
      expect((await get('/readyz')).status).toBe(200);
    } finally {
      await api.close();
      await pgStart().catch(() => undefined);
      await t.cleanup();
    }
  }, 120_000);
});
