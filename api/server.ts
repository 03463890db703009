// `citywatch api`: the HTTP server process. Wires the stores, queues and evidence store from the same
// environment the workers read (infra/settings.ts), bootstraps the admin key and listens.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { DeliveryService } from '../infra/delivery/delivery.js';
import { S3EvidenceStore } from '../infra/adapters/s3-store.js';
import { closeRedis, createRedis } from '../infra/redis.js';
import { createReplayQueue, createReplayWorker } from './replay/processor.js';
import { settingsFromEnv, type WorkerSettings } from '../infra/settings.js';
import { CameraStore } from '../infra/stores/camera-store.js';
import { CaseStore } from '../infra/stores/case-store.js';
import { loadConventions } from '../infra/stores/conventions-file.js';
import { openDatabase, ping, type Database } from '../infra/db/db.js';
import { HealthStore } from '../infra/stores/health-store.js';
import { openEvidenceStore } from '../infra/adapters/open-store.js';
import { Queue } from 'bullmq';
import { createApp, DEFAULT_MAX_UPLOAD_BYTES, uploadDirFor } from './app.js';
import { rateLimitFromEnv } from './rate-limit.js';
import { replayAllowCidrsFromEnv } from '../pipeline/source/address-policy.js';
import { ApiKeyStore, bootstrapAdmin } from './auth.js';
import { EvidenceLinks } from '../infra/evidence-links.js';
import type { ReadinessCheck } from './deps.js';
import { initSharedMetrics, recordReplay } from '../infra/metrics-shared.js';
import { listenErrorMessage } from './listen.js';

/** How long start-up waits for the database before it listens without it. */
const DATABASE_START_WAIT_MS = 5000;

export interface StartApiOptions {
  port?: number;
  host?: string;
  /** Overrides of the environment-derived settings (redisUrl, prefix, dataDir, s3, ...). */
  settings?: Partial<WorkerSettings>;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Also consume the replay queue in this process (default: REPLAY_WORKER env, else true). */
  replayWorker?: boolean;
  maxUploadBytes?: number;
  /** Where the generated bootstrap admin key is printed once (default stderr). */
  printKey?: (line: string) => void;
  /** An open database to use (not closed by close()); default: opened from the settings. The
   * embedded mode shares one PGlite with its worker: PGlite is one owner's database. */
  database?: Database;
}

export interface ApiHandle {
  url: string;
  server: Server;
  /** Set when this start generated the first admin key. */
  generatedAdminKey: string | null;
  close(): Promise<void>;
}

export async function startApi(opts: StartApiOptions = {}): Promise<ApiHandle> {
  const env = opts.env ?? process.env;
  const settings: WorkerSettings = { ...settingsFromEnv(env), ...opts.settings };
  const logger = opts.logger ?? pino({ name: 'citywatch-api', level: env.LOG_LEVEL || 'info' });
  const conns: ReturnType<typeof createRedis>[] = [];
  const conn = () => {
    const r = createRedis(settings.redisUrl);
    r.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
    conns.push(r);
    return r;
  };
  const redis = conn();
  const bullPrefix = `${settings.prefix}-bull`;
  let database: Database;
  try {
    // PostgreSQL being down does not stop the API from starting: it connects and migrates in the
    // background, and routes that need it answer 503 (DATABASE_UNAVAILABLE) until then.
    database =
      opts.database ??
      (await openDatabase({
        url: settings.databaseUrl,
        dataDir: path.join(settings.dataDir, 'pglite'),
        background: true,
        log: (msg, extra) => logger.warn(extra ?? {}, msg),
      }));
  } catch (err) {
    await closeRedis(redis);
    throw err;
  }
  const closeDatabase = () => (opts.database ? Promise.resolve() : database.close());
  const keys = new ApiKeyStore(database.db);
  let generated: string | null = null;
  const printGenerated = (key: string | null) => {
    generated ??= key;
    if (key)
      (opts.printKey ?? ((l) => process.stderr.write(`${l}\n`)))(
        `citywatch api: no admin key existed, generated one (shown only now; store it): ${key}`,
      );
  };
  // A reachable database gets its admin key before the API listens (as always); one that is down
  // gets it as soon as it is back.
  let waitTimer: NodeJS.Timeout | undefined;
  await Promise.race([database.ready, new Promise((r) => (waitTimer = setTimeout(r, DATABASE_START_WAIT_MS)))]);
  clearTimeout(waitTimer);
  if (database.notReady() === null) {
    try {
      printGenerated((await bootstrapAdmin(keys, env.CITYWATCH_ADMIN_KEY)).generated);
    } catch (err) {
      await closeRedis(redis);
      await closeDatabase();
      throw err;
    }
  } else {
    logger.warn({ database: database.where, reason: database.notReady() }, 'database unreachable at start; routes that need it answer 503');
    void database.ready
      .then(async () => {
        printGenerated((await bootstrapAdmin(keys, env.CITYWATCH_ADMIN_KEY)).generated);
        logger.info({ database: database.where }, 'database reachable');
      })
      .catch((err: Error) => logger.error({ err: err.message }, 'admin key bootstrap failed'));
  }
  initSharedMetrics(redis, settings.prefix);
  const evidence = await openEvidenceStore(settings, (msg, extra) => logger.warn(extra ?? {}, msg));
  const readiness: ReadinessCheck[] = [{ name: 'database', check: () => ping(database.db) }];
  if (settings.s3) {
    const s3 = new S3EvidenceStore({ ...settings.s3, opTimeoutMs: 2000 });
    readiness.push({ name: 's3', check: async () => void (await s3.client.bucketExists(settings.s3!.bucket)) });
  }
  const replays = createReplayQueue(conn(), bullPrefix);
  const deliveries = new DeliveryService(database.db, { bullPrefix, connection: conn(), webhook: null });
  const otherQueues = ['evidence'].map((name) => new Queue(name, { connection: conn(), prefix: bullPrefix }));
  const app = createApp({
    redis,
    prefix: settings.prefix,
    cameras: new CameraStore(redis, settings.prefix),
    cases: new CaseStore(database.db, { redis, prefix: settings.prefix, conventions: await loadConventions(settings.conventionsFile) }),
    health: new HealthStore(redis, settings.prefix),
    deliveries,
    replays,
    queues: [deliveries.queue, ...otherQueues],
    evidence,
    logger,
    keys,
    uploadDir: uploadDirFor(settings.dataDir),
    dataDir: settings.dataDir,
    maxUploadBytes: opts.maxUploadBytes ?? (env.MAX_UPLOAD_MB ? Number(env.MAX_UPLOAD_MB) * 1024 * 1024 : DEFAULT_MAX_UPLOAD_BYTES),
    replayMediaDirs: env.REPLAY_MEDIA_DIRS ? env.REPLAY_MEDIA_DIRS.split(path.delimiter).filter(Boolean) : [],
    presignExpirySec: settings.presignExpirySec,
    liveWatchSec: settings.liveWatchSec,
    evidenceLinks: new EvidenceLinks(env.EVIDENCE_LINK_SECRET || null),
    readiness,
    replayAllowCidrs: replayAllowCidrsFromEnv(env),
    rateLimit: rateLimitFromEnv(env.API_RATE_LIMIT),
  });
  const runWorker = opts.replayWorker ?? !/^(0|false|no)$/i.test(env.REPLAY_WORKER ?? '');
  const worker = runWorker
    ? createReplayWorker({ connection: conn(), bullPrefix, evidence, onFinished: (r) => void recordReplay(r) })
    : null;

  const release = async () => {
    await worker?.close();
    await replays.close();
    await deliveries.queue.close();
    await Promise.all(otherQueues.map((q) => q.close()));
    await Promise.all(conns.map(closeRedis));
    await closeDatabase();
  };
  const wantPort = opts.port ?? Number(env.PORT || 8080);
  const wantHost = opts.host ?? env.HOST ?? '127.0.0.1';
  const server = app.listen(wantPort, wantHost);
  try {
    await once(server, 'listening');
  } catch (err) {
    await release().catch(() => undefined);
    throw new Error(listenErrorMessage(err as NodeJS.ErrnoException, wantHost, wantPort), { cause: err });
  }
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  logger.info({ url }, 'citywatch api listening');
  return {
    url,
    server,
    /** Set at start when the database was reachable (else the key is printed when it is back). */
    get generatedAdminKey() {
      return generated;
    },
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await release();
    },
  };
}
