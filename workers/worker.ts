// A worker process: takes camera leases up to its fair share and runs a CameraRunner per camera,
// consumes the evidence and delivery queues, reloads camera configs on change, and drains on SIGTERM
// (stops analysis, releases leases so others take over at once, finishes running jobs).
import { mkdir, writeFile } from 'node:fs/promises';
import type { Resolver } from '../pipeline/source/address-policy.js';
import { redactUrl, scrubSecrets } from '../pipeline/source/input-url.js';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { EvidenceStore } from '../pipeline/evidence/store.js';
import { openEvidenceStore } from '../infra/adapters/open-store.js';
import { CameraRunner, needsRestart, type Log } from './camera-runner.js';
import { DeliveryService } from '../infra/delivery/delivery.js';
import { casePayload, deliveryKey, EvidenceService } from './evidence.js';
import { fairShare, LeaseManager } from './lease.js';
import { flushSharedMetrics, initSharedMetrics, recordLeaseLoss, setWorkerCameras } from '../infra/metrics-shared.js';
import { closeRedis, createRedis } from '../infra/redis.js';
import { settingsFromEnv, type WorkerSettings } from '../infra/settings.js';
import { CameraStore, type CameraRecord } from '../infra/stores/camera-store.js';
import { CaseStore } from '../infra/stores/case-store.js';
import { loadConventions } from '../infra/stores/conventions-file.js';
import { CaseOutbox } from '../infra/stores/case-outbox.js';
import { NoticeStore } from '../infra/stores/notice-store.js';
import { openDatabase, type Database } from '../infra/db/db.js';
import { HealthStore } from '../infra/stores/health-store.js';
import { VerificationRounds } from './verification.js';

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
  /** Name resolution for the camera address policy (tests inject one). */
  resolve?: Resolver;
  /** An open database to use (not closed by drain); default: opened from the settings. */
  database?: Database;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  // The rejection waits one I/O turn: after the event loop was held up, a reply that arrived in time
  // is read before the expired timer may call it late.
  return Promise.race([
    p,
    new Promise<never>((_, rej) => (t = setTimeout(() => setImmediate(() => rej(new Error(`${what} timed out after ${ms} ms`))), ms))),
  ]).finally(() => clearTimeout(t));
}

/** A stable pseudo-random rank of a camera for a worker (FNV-1a of both ids). */
function spread(cameraId: string, workerId: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${workerId}/${cameraId}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Wraps a log so every string field (and the message) is scrubbed of URL secrets. */
export function scrubbingLog(log: Log): Log {
  return (msg, extra) => {
    if (!extra) return log(scrubSecrets(msg));
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(extra)) {
      if (typeof v === 'string') clean[k] = scrubSecrets(v);
      else if (v && typeof v === 'object' && !(v instanceof Error)) {
        try {
          clean[k] = JSON.parse(scrubSecrets(JSON.stringify(v)));
        } catch {
          clean[k] = v;
        }
      } else clean[k] = v instanceof Error ? scrubSecrets(v.message) : v;
    }
    log(scrubSecrets(msg), clean);
  };
}

export function consoleLog(workerId: string): Log {
  return (msg, extra) => process.stdout.write(JSON.stringify({ t: new Date().toISOString(), worker: workerId, msg, ...extra }) + '\n');
}

export async function startWorker(opts: StartWorkerOptions = {}): Promise<WorkerHandle> {
  const { log: logOpt, analyse = true, resolve, database: givenDb, ...overrides } = opts;
  const settings: WorkerSettings = { ...settingsFromEnv(), ...overrides };
  // Every log line passes the generic scrub (URLs with userinfo or secret query values), whatever
  // the caller forgot; runners also scrub their camera's own secrets.
  const log = scrubbingLog(logOpt ?? consoleLog(settings.workerId));
  await mkdir(join(settings.dataDir, 'tmp'), { recursive: true });
  const conventions = await loadConventions(settings.conventionsFile);
  // PostgreSQL being down does not stop a worker from starting: it connects and migrates in the
  // background while cases go to the outbox below.
  const database =
    givenDb ?? (await openDatabase({ url: settings.databaseUrl, dataDir: join(settings.dataDir, 'pglite'), background: true, log }));
  if (database.notReady() !== null)
    void database.ready.then(
      () => log('database reachable and migrated', { database: `${database.kind} ${redactUrl(database.where)}` }),
      () => undefined,
    );

  const conns: Redis[] = [];
  const conn = () => {
    const r = createRedis(settings.redisUrl);
    r.on('error', () => undefined); // reconnects are automatic; errors are logged by state changes
    conns.push(r);
    return r;
  };
  const redis = conn();
  // Counters for the API's /metrics (frames, inference latency, drops, events, cases), gathered for
  // a second and sent in one pipeline (per frame they cost more than the rules).
  initSharedMetrics(redis, settings.prefix, { batchMs: 1000 });
  const sub = conn();
  const bullPrefix = `${settings.prefix}-bull`;
  // One outbox per worker id: a stable WORKER_ID lets a restarted worker flush what it journaled.
  const outbox = await CaseOutbox.open(
    settings.caseOutboxDir ?? join(settings.dataDir, 'outbox', settings.workerId.replace(/[^A-Za-z0-9_.-]/g, '_')),
  );
  const delivery = new DeliveryService(database.db, {
    bullPrefix,
    connection: conn(),
    webhook: settings.webhookUrl
      ? { url: settings.webhookUrl, secret: settings.webhookSecret!, timeoutMs: settings.webhookTimeoutMs }
      : null,
    backoff: { maxAttempts: settings.deliveryMaxAttempts, baseMs: settings.deliveryBackoffMs, maxMs: settings.deliveryBackoffMaxMs },
    // A held case.created is released by its evidence job, which may wait for spool space as long as
    // the ring keeps the footage; the relay sends it without evidence only after that (a lost job).
    holdMs: Math.max(600_000, (settings.ringMaxAgeSec + 120) * 1000),
    log,
  });
  const cases = new CaseStore(database.db, {
    redis,
    prefix: settings.prefix,
    conventions,
    outbox,
    log,
    // The case's webhook is recorded with it (held until the evidence job sends it with the evidence).
    onCreateTx: (trx, rec) =>
      delivery.holdInTx(
        trx,
        {
          type: 'case.created',
          idempotencyKey: deliveryKey('case', rec.id, ''),
          data: { case: casePayload(rec, settings.publicApiUrl), evidence: [] },
        },
        rec.createdAt,
      ),
  });
  const cameras = new CameraStore(redis, settings.prefix);
  const health = new HealthStore(redis, settings.prefix);
  const store = await openEvidenceStore(settings, log);
  const evidence = new EvidenceService({
    connection: conn(),
    bullPrefix,
    store,
    cases,
    delivery,
    scratchDir: join(settings.dataDir, 'tmp'),
    publicApiUrl: settings.publicApiUrl,
    ringRetainSec: settings.ringMaxAgeSec,
    log,
  });
  delivery.startWorker(conn(), settings.deliveryConcurrency);
  evidence.startWorker(conn(), settings.evidenceConcurrency);

  const lease = new LeaseManager(redis, settings.workerId, settings.leaseTtlMs, settings.prefix);
  const runners = new Map<string, { runner: CameraRunner; renewedAt: number }>();
  const notices = new NoticeStore(database.db);
  const deps = { settings, redis, cases, notices, health, delivery, evidence, log, resolve };
  let stopping = false;
  let loopTimer: NodeJS.Timeout | null = null;
  let renewTimer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> = Promise.resolve();
  let renewing: Promise<void> = Promise.resolve();
  const dirty = new Set<string>();
  /** Cameras whose start (analyser set-up, connect probe, first frame) is in progress. */
  const starting = new Set<string>();
  let lastStartAt = 0;
  let ringShare = 0;
  // Verification: one case-store query per round for every camera whose runner is running.
  const verification = new VerificationRounds({
    cases,
    targets: () => [...runners].filter(([, r]) => r.runner.verifying).map(([id, r]) => [id, r.runner] as const),
    log,
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();

  // The worker's ring disk budget is split over the cameras it holds (never above RING_MAX_MB each).
  const applyRingBudget = () => {
    const per = Math.max(
      8 * 1024 * 1024,
      Math.min(settings.ringMaxBytes, Math.floor(settings.ringBudgetBytes / Math.max(1, runners.size))),
    );
    if (per === ringShare) return;
    ringShare = per;
    for (const r of runners.values()) r.runner.setRingMaxBytes(per);
  };

  const stopCamera = async (id: string, why: string, release: boolean) => {
    const r = runners.get(id);
    if (!r) return;
    runners.delete(id);
    log('camera stopping', { camera: id, why });
    await r.runner.stop().catch((err: Error) => log('camera stop failed', { camera: id, error: (err as Error).message }));
    if (release) await withTimeout(lease.release(id), 2000, 'lease release').catch(() => undefined);
    applyRingBudget();
  };

  const startCamera = async (cam: CameraRecord) => {
    const runner = new CameraRunner(cam, deps);
    runners.set(cam.id, { runner, renewedAt: Date.now() });
    applyRingBudget();
    runner.setRingMaxBytes(ringShare);
    starting.add(cam.id);
    try {
      await runner.start();
      // The start slot is held until the stream is up (or has failed once), so connection probes
      // and ffmpeg start-ups are spread out instead of all landing at once.
      await runner.connected(settings.connectWaitMs);
    } catch (err) {
      log('camera failed to start', { camera: cam.id, error: runner.scrub((err as Error).message) });
      await runner.reportHealth('offline', `worker could not start analysis: ${(err as Error).message}`, Date.now()).catch(() => undefined);
      if (runners.get(cam.id)?.runner === runner) await stopCamera(cam.id, 'start failed', true);
    } finally {
      starting.delete(cam.id);
    }
  };

  /**
   * Lease renewal on its own timer: one round trip for all held cameras (plus the worker's beat),
   * never behind camera starts or the registry reconciliation. A renewal that cannot reach Redis
   * keeps the camera only while our own lease would still be valid; after that someone else may have it.
   */
  const renewRound = async () => {
    const now = Date.now();
    const ids = [...runners.keys()];
    // Event-loop delay since the last round, in the worker record: per-frame work that blocks the
    // loop (or a starved process) shows here before it shows as frame age or watchdog restarts.
    const loopLagMs = {
      p50: Math.round(loopDelay.percentile(50) / 1e6),
      p99: Math.round(loopDelay.percentile(99) / 1e6),
      max: Math.round(loopDelay.max / 1e6),
    };
    loopDelay.reset();
    let res: Map<string, string> | null = null;
    try {
      res = await withTimeout(
        lease.renewAll(ids, { cameras: ids.length, pid: process.pid, loopLagMs }),
        Math.min(2000, settings.leaseTtlMs / 3),
        'lease renew',
      );
    } catch {
      res = null;
    }
    void setWorkerCameras(settings.workerId, runners.size);
    for (const id of ids) {
      const r = runners.get(id);
      if (!r) continue;
      const outcome = res?.get(id) ?? null;
      if (outcome === 'renewed' || outcome === 'recovered') {
        r.renewedAt = now;
        if (outcome === 'recovered') log('lease recovered after a late renewal', { camera: id });
      } else if (outcome === 'lost') {
        void recordLeaseLoss(settings.workerId, 'taken');
        await stopCamera(id, 'lease lost', false);
      } else if (now - r.renewedAt > settings.leaseTtlMs - settings.leasePollMs) {
        void recordLeaseLoss(settings.workerId, 'redis unreachable');
        await stopCamera(id, 'lease expired while Redis was unreachable', false);
      }
    }
  };

  const tick = async () => {
    // 1. Reconcile with the camera registry.
    const all = await withTimeout(cameras.list(), 5000, 'camera list');
    const byId = new Map(all.map((c) => [c.id, c]));
    for (const [id, r] of [...runners]) {
      if (starting.has(id)) continue;
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
          void startCamera(cam);
        } else if (cam.version !== r.runner.version) {
          r.runner.applyConfig(cam);
        }
      }
    }
    // 2. Take free cameras up to our share, a bounded number of starts at a time, staggered;
    //    give back what we hold beyond our share.
    const enabled = all.filter((c) => c.enabled);
    const share = fairShare(enabled.length, await lease.liveWorkers(), settings.maxCamerasPerWorker);
    // Free cameras in an order that differs per worker, so workers joining together do not all
    // contend for the same ids first.
    const free = enabled
      .filter((c) => !runners.has(c.id))
      .sort((x, y) => spread(x.id, settings.workerId) - spread(y.id, settings.workerId));
    for (const cam of free) {
      if (stopping || runners.size >= share || starting.size >= settings.startConcurrency) break;
      const wait = lastStartAt + settings.startStaggerMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (stopping) break;
      if (await lease.acquire(cam.id)) {
        log('lease acquired', { camera: cam.id });
        lastStartAt = Date.now();
        void startCamera(cam);
      }
    }
    const excess = runners.size - share;
    if (excess > 0) {
      // Give back the most recently taken first, a few per round so the others can keep up.
      const give = [...runners.keys()].filter((id) => !starting.has(id)).slice(-Math.min(excess, settings.startConcurrency));
      await Promise.all(give.map((id) => stopCamera(id, `rebalancing: holding ${runners.size} > share ${share}`, true)));
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

  const scheduleRenew = () => {
    if (stopping) return;
    renewTimer = setTimeout(() => {
      renewing = renewRound()
        .catch((err: Error) => log('lease renewal error', { error: err.message }))
        .finally(scheduleRenew);
    }, settings.leasePollMs);
  };

  const unsubscribe = await cameras.subscribe(sub, (id) => {
    if (runners.has(id)) dirty.add(id);
  });
  if (analyse) {
    // Announce this worker before taking anything, so workers started together share at once.
    renewing = renewRound().catch((err: Error) => log('lease renewal error', { error: err.message }));
    void renewing.finally(scheduleRenew);
    ticking = renewing.then(tick).catch((err: Error) => log('lease loop error', { error: err.message }));
    void ticking.finally(schedule);
    verification.start();
  }
  log('worker started', {
    redis: redactUrl(settings.redisUrl),
    database: `${database.kind} ${redactUrl(database.where)}`,
    dataDir: settings.dataDir,
    analyse,
    store: store.kind,
  });

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
      if (renewTimer) clearTimeout(renewTimer);
      loopDelay.disable();
      await ticking.catch(() => undefined);
      await renewing.catch(() => undefined);
      await verification.stop();
      await Promise.all([...runners.keys()].map((id) => stopCamera(id, 'shutdown', true)));
      await lease.leave().catch(() => undefined);
      await unsubscribe().catch(() => undefined);
      await evidence.close();
      await delivery.close();
      await cases.close();
      await flushSharedMetrics();
      if ('close' in store && typeof (store as { close?: unknown }).close === 'function')
        await (store as unknown as { close(): Promise<void> }).close();
      await Promise.all(conns.map(closeRedis));
      if (!givenDb) await database.close().catch(() => undefined);
      log('worker drained');
    },
  };
}
