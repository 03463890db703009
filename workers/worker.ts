// A worker process: takes camera leases up to its fair share and runs a CameraRunner per camera,
// consumes the evidence and delivery queues, reloads camera configs on change, and drains on SIGTERM
// (stops analysis, releases leases so others take over at once, finishes running jobs).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { EvidenceStore } from '../pipeline/evidence/store.js';
import { FsEvidenceStore } from './adapters/fs-store.js';
import { S3EvidenceStore } from './adapters/s3-store.js';
import { SpoolingEvidenceStore } from './adapters/spool-store.js';
import { CameraRunner, needsRestart, type Log } from './camera-runner.js';
import { DeliveryService } from './delivery/delivery.js';
import { EvidenceService } from './evidence.js';
import { fairShare, LeaseManager } from './lease.js';
import { initSharedMetrics } from '../api/metrics-shared.js';
import { closeRedis, createRedis } from './redis.js';
import { settingsFromEnv, type WorkerSettings } from './settings.js';
import { CameraStore, type CameraRecord } from './stores/camera-store.js';
import { CaseStore } from './stores/case-store.js';
import { loadConventions } from './stores/conventions-file.js';
import { CaseOutbox } from './stores/case-outbox.js';
import { NoticeStore } from './stores/notice-store.js';
import { openDatabase, type Database } from './db/db.js';
import { HealthStore } from './stores/health-store.js';

export interface WorkerHandle {
  settings: WorkerSettings;
  database: Database;
  cases: CaseStore;
  cameras: CameraStore;
  health: HealthStore;
  delivery: DeliveryService;
  evidence: EvidenceService;
  store: EvidenceStore;
  /** Camera ids this worker currently analyses. */
  held(): string[];
  /** Graceful stop: analysis stops, leases are released, running jobs finish. */
  drain(): Promise<void>;
}

export interface StartWorkerOptions extends Partial<WorkerSettings> {
  log?: Log;
  /** Run the camera lease loop (default true). False = queues only (e.g. an API-side helper). */
  analyse?: boolean;
  /** An open database to use (not closed by drain); default: opened from the settings. */
  database?: Database;
}

/** Evidence store from settings: S3 behind an on-disk spool when configured, else the local filesystem. */
export async function openEvidenceStore(s: WorkerSettings, log: Log): Promise<EvidenceStore> {
  if (!s.s3) return new FsEvidenceStore(join(s.dataDir, 'evidence'));
  const primary = new S3EvidenceStore({ ...s.s3 });
  // The spool accepts evidence while S3 is down; a failed bucket check at start-up is not fatal.
  await primary.init().catch((err: Error) => log('S3 not reachable at start-up; evidence will spool', { error: err.message }));
  return SpoolingEvidenceStore.open(primary, { dir: join(s.dataDir, 'spool'), maxBytes: s.spoolMaxBytes, maxItems: 100_000 });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

export function consoleLog(workerId: string): Log {
  return (msg, extra) => process.stdout.write(JSON.stringify({ t: new Date().toISOString(), worker: workerId, msg, ...extra }) + '\n');
}

export async function startWorker(opts: StartWorkerOptions = {}): Promise<WorkerHandle> {
  const { log: logOpt, analyse = true, database: givenDb, ...overrides } = opts;
  const settings: WorkerSettings = { ...settingsFromEnv(), ...overrides };
  const log = logOpt ?? consoleLog(settings.workerId);
  await mkdir(join(settings.dataDir, 'tmp'), { recursive: true });
  const conventions = await loadConventions(settings.conventionsFile);
  const database = givenDb ?? (await openDatabase({ url: settings.databaseUrl, dataDir: join(settings.dataDir, 'pglite') }));

  const conns: Redis[] = [];
  const conn = () => {
    const r = createRedis(settings.redisUrl);
    r.on('error', () => undefined); // reconnects are automatic; errors are logged by state changes
    conns.push(r);
    return r;
  };
  const redis = conn();
  // Counters for the API's /metrics (frames, inference latency, drops, events, cases).
  initSharedMetrics(redis, settings.prefix);
  const sub = conn();
  const bullPrefix = `${settings.prefix}-bull`;
  // One outbox per worker id: a stable WORKER_ID lets a restarted worker flush what it journaled.
  const outbox = await CaseOutbox.open(settings.caseOutboxDir ?? join(settings.dataDir, 'outbox', settings.workerId.replace(/[^A-Za-z0-9_.-]/g, '_')));
  const cases = new CaseStore(database.db, { redis, prefix: settings.prefix, conventions, outbox, log });
  const cameras = new CameraStore(redis, settings.prefix);
  const health = new HealthStore(redis, settings.prefix);
  const store = await openEvidenceStore(settings, log);
  const delivery = new DeliveryService(redis, {
    prefix: settings.prefix,
    bullPrefix,
    connection: conn(),
    webhook: settings.webhookUrl ? { url: settings.webhookUrl, secret: settings.webhookSecret!, timeoutMs: settings.webhookTimeoutMs } : null,
    backoff: { maxAttempts: settings.deliveryMaxAttempts, baseMs: settings.deliveryBackoffMs, maxMs: settings.deliveryBackoffMaxMs },
  });
  const evidence = new EvidenceService({
    connection: conn(),
    bullPrefix,
    store,
    cases,
    delivery,
    scratchDir: join(settings.dataDir, 'tmp'),
    presignExpirySec: settings.presignExpirySec,
    publicApiUrl: settings.publicApiUrl,
    segmentSec: settings.segmentSec,
    log,
  });
  delivery.startWorker(conn(), settings.deliveryConcurrency);
  evidence.startWorker(conn(), settings.evidenceConcurrency);

  const lease = new LeaseManager(redis, settings.workerId, settings.leaseTtlMs, settings.prefix);
  const runners = new Map<string, { runner: CameraRunner; renewedAt: number }>();
  const notices = new NoticeStore(database.db);
  const deps = { settings, redis, cases, notices, health, delivery, evidence, log };
  let stopping = false;
  let loopTimer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> = Promise.resolve();
  const dirty = new Set<string>();

  const stopCamera = async (id: string, why: string, release: boolean) => {
    const r = runners.get(id);
    if (!r) return;
    runners.delete(id);
    log('camera stopping', { camera: id, why });
    await r.runner.stop().catch((err: Error) => log('camera stop failed', { camera: id, error: err.message }));
    if (release) await withTimeout(lease.release(id), 2000, 'lease release').catch(() => undefined);
  };

  const startCamera = async (cam: CameraRecord) => {
    const runner = new CameraRunner(cam, deps);
    runners.set(cam.id, { runner, renewedAt: Date.now() });
    try {
      await runner.start();
    } catch (err) {
      log('camera failed to start', { camera: cam.id, error: (err as Error).message });
      await runner.reportHealth('offline', `worker could not start analysis: ${(err as Error).message}`, Date.now()).catch(() => undefined);
      await stopCamera(cam.id, 'start failed', true);
    }
  };

  const tick = async () => {
    const now = Date.now();
    // 1. Keep (or lose) what we hold. A renewal that cannot reach Redis keeps the camera only while
    //    our own lease would still be valid; after that someone else may have it.
    for (const [id, r] of [...runners]) {
      let ok: boolean | null = null;
      try {
        ok = await withTimeout(lease.renew(id), Math.min(2000, settings.leaseTtlMs / 3), 'lease renew');
      } catch {
        ok = null;
      }
      if (ok === true) r.renewedAt = now;
      else if (ok === false) await stopCamera(id, 'lease lost', false);
      else if (now - r.renewedAt > settings.leaseTtlMs - settings.leasePollMs) await stopCamera(id, 'lease expired while Redis was unreachable', false);
    }
    await withTimeout(lease.beat({ cameras: [...runners.keys()], pid: process.pid }), 2000, 'worker beat');
    // 2. Reconcile with the camera registry.
    const all = await withTimeout(cameras.list(), 5000, 'camera list');
    const byId = new Map(all.map((c) => [c.id, c]));
    for (const [id, r] of [...runners]) {
      const cam = byId.get(id);
      if (!cam || !cam.enabled) {
        await stopCamera(id, cam ? 'disabled' : 'removed', true);
        if (cam) await health.setState(id, 'disabled', { reason: 'disabled by operator', workerId: null }).catch(() => undefined);
        continue;
      }
      if (r.runner.finished) {
        await stopCamera(id, 'stream ended', true);
        continue;
      }
      if (cam.version !== r.runner.version || dirty.has(id)) {
        dirty.delete(id);
        if (needsRestart(r.runner.camera, cam)) {
          await stopCamera(id, 'config change needs restart', false);
          await startCamera(cam);
        } else if (cam.version !== r.runner.version) {
          r.runner.applyConfig(cam);
        }
      }
    }
    // 3. Take free cameras up to our share; give one back if we hold more than our share.
    const enabled = all.filter((c) => c.enabled);
    const share = fairShare(enabled.length, await lease.liveWorkers(), settings.maxCamerasPerWorker);
    for (const cam of enabled) {
      if (stopping || runners.size >= share) break;
      if (runners.has(cam.id)) continue;
      if (await lease.acquire(cam.id)) {
        log('lease acquired', { camera: cam.id });
        await startCamera(cam);
      }
    }
    if (runners.size > share) {
      const last = [...runners.keys()].pop()!;
      await stopCamera(last, `rebalancing: holding ${runners.size} > share ${share}`, true);
    }
    if (settings.aliveFile) await writeFile(settings.aliveFile, String(Date.now())).catch(() => undefined);
  };

  const schedule = () => {
    if (stopping) return;
    loopTimer = setTimeout(() => {
      ticking = tick()
        .catch((err: Error) => log('lease loop error', { error: err.message }))
        .finally(schedule);
    }, settings.leasePollMs);
  };

  const unsubscribe = await cameras.subscribe(sub, (id) => {
    if (runners.has(id)) dirty.add(id);
  });
  if (analyse) {
    ticking = tick().catch((err: Error) => log('lease loop error', { error: err.message }));
    void ticking.finally(schedule);
  }
  log('worker started', { redis: settings.redisUrl.replace(/\/\/[^@]*@/, '//***@'), database: `${database.kind} ${database.where}`, dataDir: settings.dataDir, analyse, store: store.kind });

  return {
    settings,
    database,
    cases,
    cameras,
    health,
    delivery,
    evidence,
    store,
    held: () => [...runners.keys()],
    drain: async () => {
      if (stopping) return;
      stopping = true;
      if (loopTimer) clearTimeout(loopTimer);
      await ticking.catch(() => undefined);
      await Promise.all([...runners.keys()].map((id) => stopCamera(id, 'shutdown', true)));
      await lease.leave().catch(() => undefined);
      await unsubscribe().catch(() => undefined);
      await evidence.close();
      await delivery.close();
      await cases.close();
      if ('close' in store && typeof (store as { close?: unknown }).close === 'function') await (store as unknown as { close(): Promise<void> }).close();
      await Promise.all(conns.map(closeRedis));
      if (!givenDb) await database.close().catch(() => undefined);
      log('worker drained');
    },
  };
}
