// Chaos suite: real worker processes, Redis (AOF), an S3 server and a webhook receiver, with faults
// injected while cameras produce cases:
//   1. kill -9 the worker while an evidence job is running (upload in flight);
//   2. Redis and the S3 server stopped together for CHAOS_OUTAGE_SEC (default 60 s);
//   3. a ring segment corrupted on disk before the case's clip is cut;
//   4. the webhook receiver answering 5xx for CHAOS_WEBHOOK_OUTAGE_SEC (npm run test:chaos: 600 s);
//   5. PostgreSQL stopped for CHAOS_OUTAGE_SEC together with Redis and S3 (leg `db`, with `outage`);
//   6. the evidence spool's quota used up while S3 is down (leg `spool`: workers run with a
//      3-file spool, so one case's evidence overflows it and the job has to wait for space).
// After recovery: every camera's episode is exactly one case, every evidence file is in S3 with its
// sha256, every case.created webhook was accepted exactly once, and no queue holds a stuck job.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { S3EvidenceStore } from '../../infra/adapters/s3-store.js';
import { IDEMPOTENCY_HEADER } from '../../infra/delivery/webhook.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import type { LocalRedis } from '../../workers/redis-server.js';
import { CameraStore } from '../../infra/stores/camera-store.js';
import { CaseStore, type CaseRecord } from '../../infra/stores/case-store.js';
import { HealthStore } from '../../infra/stores/health-store.js';
import { REPO_ROOT, SHARED } from '../support/media.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { waitFor } from '../support/wait.js';
import { parkedCarClip, parkedCarConfig, startHlsLoop, tempDir, testRedis } from '../workers/helpers.js';

const OUTAGE_SEC = Number(process.env.CHAOS_OUTAGE_SEC ?? 60);
const WEBHOOK_OUTAGE_SEC = Number(process.env.CHAOS_WEBHOOK_OUTAGE_SEC ?? 60);
const BUCKET = 'evidence';
// Which faults run: kill, outage, db, corrupt, spool, webhook (comma list, or "all"; `npm run
// test:chaos`, and so CI, runs all). The outage leg once found evidence overwritten under the same
// key while the case kept the first checksum (fixed in workers/evidence.ts); the spool leg found
// evidence given up after four quick attempts while the spool was full (jobs now wait for space).
const LEGS = new Set((process.env.CHAOS_LEGS ?? 'all').split(',').map((x) => x.trim()));
const leg = (name: string) => LEGS.has('all') || LEGS.has(name);

type Hls = Awaited<ReturnType<typeof startHlsLoop>>;
let redisServer: LocalRedis;
// Worker processes share one system of record: a real PostgreSQL (PGlite is one process only).
let pgServer: LocalPostgres;
let database: Database;
let s3: S3TestServer;
let redis: Redis;
let dir: string;
let cleanup: () => Promise<void>;
const streams: Hls[] = [];
const workers: ChildProcess[] = [];
let webhookFailUntil = 0;
const deliveries: { key: string; type: string; status: number }[] = [];
const hook = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const status = Date.now() < webhookFailUntil ? 503 : 200;
    deliveries.push({ key: String(req.headers[IDEMPOTENCY_HEADER]), type: String(req.headers['x-citywatch-event']), status });
    res.writeHead(status).end();
  });
});
const lost: string[] = [];
const spoolLines: string[] = [];
const note = (m: string) => console.log(`[chaos] ${m}`);
/** The last lines each worker logged, printed when the test fails (CI keeps no worker logs). */
const workerLogs = new Map<string, string[]>();

function spawnWorker(id: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      REDIS_URL: redisServer.url,
      DATABASE_URL: pgServer.url,
      WORKER_ID: id,
      DATA_DIR: join(dir, 'data'),
      INFER_THREADS: '1',
      MODEL_DIR: process.env.MODEL_DIR ?? join(SHARED, 'models'),
      CLIP_PREROLL_SEC: '2',
      CLIP_POSTROLL_SEC: '2',
      S3_ENDPOINT: '127.0.0.1',
      S3_PORT: String(s3.port),
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_BUCKET: BUCKET,
      WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      WEBHOOK_SECRET: 'chaos',
      // Retries must outlast the longest webhook outage: capped backoff, many attempts.
      DELIVERY_BACKOFF_MS: '500',
      DELIVERY_BACKOFF_MAX_MS: '20000',
      DELIVERY_MAX_ATTEMPTS: String(Math.ceil(WEBHOOK_OUTAGE_SEC / 20) + 20),
      ...(leg('spool') ? { SPOOL_MAX_ITEMS: '3' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: kill -9 reaches its ffmpeg children too
  });
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (buf + d.toString()).split('\n');
    buf = parts.pop()!;
    const tail = workerLogs.get(id) ?? [];
    workerLogs.set(id, tail);
    for (const l of parts) {
      if (l.includes('evidence waiting for spool space') || l.includes('spool full')) spoolLines.push(l);
      tail.push(l);
    }
    tail.splice(0, Math.max(0, tail.length - 150));
  });
  child.stderr!.resume();
  workers.push(child);
  return child;
}

function kill9(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

beforeAll(async () => {
  const t = await tempDir('chaos');
  dir = t.dir;
  cleanup = t.cleanup;
  redisServer = await testRedis(dir);
  s3 = await startS3Server();
  pgServer = await startPostgres();
  database = await openDatabase({ url: pgServer.url });
  redis = createRedis(redisServer.url);
  redis.on('error', () => undefined);
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const w of workers) kill9(w);
  for (const s of streams) await s.stop();
  hook.close();
  await closeRedis(redis);
  await redisServer?.stop();
  await s3?.dispose();
  await database?.close();
  await pgServer?.destroy();
  await cleanup?.();
  note(`lost: ${lost.length ? lost.join('; ') : 'nothing'}`);
});

describe('chaos', () => {
  it('loses nothing and duplicates nothing through worker kills, Redis/S3 outages, ring corruption and webhook 5xx', async () => {
    onTestFailed(() => {
      for (const [id, lines] of workerLogs) console.log(`[chaos] last ${lines.length} log lines of worker ${id}:\n${lines.join('\n')}`);
    });
    const clip = await parkedCarClip(60);
    const cameras = new CameraStore(redis);
    const cases = new CaseStore(database.db);
    const health = new HealthStore(redis);
    const addCamera = async (id: string) => {
      const hls = await startHlsLoop({ clip, loop: true });
      streams.push(hls);
      await cameras.create({ id, url: hls.url, config: parkedCarConfig(id) });
    };
    const caseOn = (cam: string, ms = 120_000) =>
      waitFor(async () => (await cases.list({ cameraId: cam })).items[0], { timeoutMs: ms, intervalMs: 250, what: `a case on ${cam}` });

    const cams: string[] = [];
    // 1. kill -9 during an evidence upload: one worker, so the job in flight is certainly its own.
    let w = spawnWorker('w1');
    if (leg('kill')) {
      cams.push('camKill');
      await addCamera('camKill');
      const evidenceActive = `cw-bull:evidence:active`;
      await waitFor(async () => (await redis.llen(evidenceActive)) > 0, {
        timeoutMs: 180_000,
        intervalMs: 20,
        what: 'an evidence job in flight',
      });
      kill9(w);
      note('1: worker w1 killed with an evidence job active');
      w = spawnWorker('w2');
    }

    // 2. Redis and S3 down together while a camera confirms its case.
    if (leg('outage')) {
      cams.push('camOutage');
      await addCamera('camOutage');
      await waitFor(async () => (await health.get('camOutage'))?.state === 'online', {
        timeoutMs: 120_000,
        intervalMs: 200,
        what: 'camOutage online',
      });
      const downAt = Date.now();
      const withDb = leg('db');
      await Promise.all([redisServer.stop(), s3.stop(), withDb ? pgServer.stop() : undefined]);
      note(`2: Redis, S3${withDb ? ' and PostgreSQL' : ''} stopped for ${OUTAGE_SEC} s`);
      await new Promise((r) => setTimeout(r, OUTAGE_SEC * 1000)); // the fault itself lasts this long
      await Promise.all([redisServer.restart(), s3.restart(), withDb ? pgServer.start() : undefined]);
      note(`2: Redis, S3${withDb ? ' and PostgreSQL' : ''} back after ${Date.now() - downAt} ms`);
    }

    // 3. Ring segments corrupted inside the case's clip window: the case is created, then the two
    // newest segments (the pre-roll the clip will use) are overwritten in the middle before the
    // evidence job cuts the clip after its post-roll.
    if (leg('corrupt')) {
      cams.push('camCorrupt');
      await addCamera('camCorrupt');
      const ring = join(dir, 'data', 'rings', 'camCorrupt');
      await waitFor(async () => (await cases.list({ cameraId: 'camCorrupt' })).items[0], {
        timeoutMs: 180_000,
        intervalMs: 100,
        what: 'a case on camCorrupt',
      });
      const segs = (await readdir(ring))
        .filter((f) => f.endsWith('.ts'))
        .sort()
        .slice(-2);
      for (const seg of segs) {
        const size = (await stat(join(ring, seg))).size;
        const fh = await open(join(ring, seg), 'r+');
        const junk = Buffer.alloc(Math.min(8192, Math.floor(size / 2)), 0xa5);
        await fh.write(junk, 0, junk.length, Math.floor(size / 4));
        await fh.close();
        note(`3: corrupted ${seg} (${size} bytes, ${junk.length} bytes overwritten) in the camCorrupt ring`);
      }
    }

    // 6. The spool quota used up: S3 stopped, a new camera confirms a case whose evidence (clip,
    // snapshots, manifest) does not fit the 3-file spool; the job must wait for space, not fail.
    if (leg('spool')) {
      cams.push('camSpool');
      await s3.stop();
      note('6: S3 stopped; workers spool at most 3 files');
      await addCamera('camSpool');
      await caseOn('camSpool', 180_000);
      await waitFor(() => spoolLines.length > 0, { timeoutMs: 180_000, intervalMs: 250, what: 'an evidence job waiting for spool space' });
      note(`6: ${spoolLines[0]!.slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 20_000)); // stays full through a few waits
      await s3.restart();
      note('6: S3 back');
    }

    // 4. The webhook receiver answers 5xx for a stretch while new cases arrive.
    if (leg('webhook')) {
      webhookFailUntil = Date.now() + WEBHOOK_OUTAGE_SEC * 1000;
      note(`4: webhook receiver failing with 503 for ${WEBHOOK_OUTAGE_SEC} s`);
      cams.push('camHook');
      await addCamera('camHook');
    }

    // Recovery and the invariants.
    note(`legs: ${cams.join(', ')}`);
    const all: CaseRecord[] = [];
    for (const cam of cams) all.push(await caseOn(cam, 240_000));
    await waitFor(() => Date.now() > webhookFailUntil, {
      timeoutMs: WEBHOOK_OUTAGE_SEC * 1000 + 10_000,
      intervalMs: 1000,
      what: 'the end of the webhook outage',
    });
    const store = new S3EvidenceStore({
      endPoint: '127.0.0.1',
      port: s3.port,
      useSSL: false,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      bucket: BUCKET,
    });
    for (const cam of cams) {
      const items = (await cases.list({ cameraId: cam }, { limit: 100 })).items;
      if (items.length !== 1) lost.push(`${cam}: ${items.length} cases instead of 1`);
      const c = await waitFor(
        async () => {
          const x = await cases.get(items[0]!.id);
          return x && x.evidenceStatus !== 'pending' ? x : null;
        },
        { timeoutMs: 300_000, intervalMs: 1000, what: `evidence settled on ${cam}` },
      );
      if (c.evidenceStatus !== 'ready') lost.push(`${cam}: evidence ${c.evidenceStatus}`);
      for (const ref of c.evidence) {
        // Evidence accepted into a worker's spool during an outage reaches S3 when the spool drains
        // (backoff up to 30 s, 30 s per S3 operation): recovery includes that drain.
        const body = await waitFor(() => store.get(ref.key).catch(() => null), {
          timeoutMs: 180_000,
          intervalMs: 1000,
          what: `${ref.key} in S3`,
        }).catch(() => null);
        if (!body) lost.push(`${cam}: ${ref.key} missing in S3`);
        else if (createHash('sha256').update(body).digest('hex') !== ref.file.sha256) lost.push(`${cam}: ${ref.key} checksum differs`);
      }
      if (!c.evidence.some((e) => e.file.kind === 'clip')) lost.push(`${cam}: no clip`);
      note(
        `${cam}: evidence ${c.evidenceStatus}, ${c.evidence.length} files (${c.evidence.map((e) => e.file.kind).join(', ')}), all in S3 with matching sha256 unless listed as lost`,
      );
    }
    // Every case.created accepted exactly once (retries of 503s are expected; a second 200 is not).
    await waitFor(() => all.every((c) => deliveries.some((d) => d.key === `case.created:${c.id}` && d.status === 200)), {
      timeoutMs: 300_000,
      intervalMs: 1000,
      what: 'every case.created delivered',
    });
    for (const c of all) {
      const ok = deliveries.filter((d) => d.key === `case.created:${c.id}` && d.status === 200).length;
      if (ok !== 1) lost.push(`case.created:${c.id} accepted ${ok} times`);
    }
    // No stuck jobs.
    for (const name of ['evidence', 'delivery']) {
      const conn = redis.duplicate();
      conn.on('error', () => undefined);
      const q = new Queue(name, { connection: conn, prefix: 'cw-bull' });
      const counts = await waitFor(
        async () => {
          const n = await q.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children');
          return Object.values(n).every((v) => v === 0) ? n : null;
        },
        { timeoutMs: 180_000, intervalMs: 1000, what: `queue ${name} drained` },
      ).catch((err: Error) => (lost.push(`${name}: ${err.message}`), null));
      const failed = await q.getJobCounts('failed');
      if (failed.failed) lost.push(`${name}: ${failed.failed} failed jobs`);
      note(`queue ${name}: ${JSON.stringify(counts)} failed ${failed.failed}`);
      await q.close();
      await closeRedis(conn);
    }
    note(
      `cases: ${all.map((c) => `${c.cameraId}=${c.id}`).join(', ')}; webhook attempts ${deliveries.length}, 5xx ${deliveries.filter((d) => d.status >= 500).length}`,
    );
    expect(lost).toEqual([]);
  });
});
