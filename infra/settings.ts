// Worker configuration from the environment, with defaults for a single street camera host. Every
// knob is documented in workers/README.md ("Configuration reference").
import { hostname } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EVIDENCE_URL_TTL_SEC, MAX_EVIDENCE_URL_TTL_SEC } from './evidence-links.js';
import { DEFAULT_LIVE_WATCH_SEC } from './stores/live-store.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface S3Settings {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
  retentionDays?: number;
}

export interface WorkerSettings {
  redisUrl: string;
  /** PostgreSQL URL of the system of record; null = PGlite in DATA_DIR/pglite (one process only). */
  databaseUrl: string | null;
  /** Outbox directory for cases written while the database is unreachable. */
  caseOutboxDir?: string;
  /** City conventions file (category codes, time limits, working calendar); null = defaults. */
  conventionsFile: string | null;
  /** Key prefix of all worker records in Redis. */
  prefix: string;
  workerId: string;
  /** Local state: recording rings, filesystem evidence, spool, scratch. */
  dataDir: string;
  leaseTtlMs: number;
  leasePollMs: number;
  maxCamerasPerWorker: number;
  /** Camera starts in progress at once (set-up, connect probe, first frame), and ms between two starts. */
  startConcurrency: number;
  startStaggerMs: number;
  /** How long a start holds its slot waiting for the stream to come up. */
  connectWaitMs: number;
  /** ONNX intra-op threads and concurrent runs per process (the inference bound). */
  inferThreads: number;
  inferConcurrency: number;
  webhookUrl: string | null;
  webhookSecret: string | null;
  webhookTimeoutMs: number;
  deliveryMaxAttempts: number;
  deliveryBackoffMs: number;
  deliveryBackoffMaxMs: number;
  deliveryConcurrency: number;
  evidenceConcurrency: number;
  preRollSec: number;
  postRollSec: number;
  maxClipSec: number;
  segmentSec: number;
  /** Per-camera ring cap. */
  ringMaxBytes: number;
  /** Ring disk budget of the whole worker, split evenly over the cameras it holds. */
  ringBudgetBytes: number;
  ringMaxAgeSec: number;
  /** Default lifetime of evidence URLs minted by GET /v1/cases/:id/evidence. */
  presignExpirySec: number;
  /** Base URL of the API as the platform reaches it (webhooks link evidence there); null = relative links. */
  publicApiUrl?: string | null;
  s3: S3Settings | null;
  spoolMaxBytes: number;
  spoolMaxItems: number;
  verifyDelaySec: number;
  verifyWindowSec: number;
  verifyPresenceRatio: number;
  /** Seconds between OCR passes on cameras with wall zones. */
  textIntervalSec: number;
  /** Seconds between health/heartbeat writes. */
  heartbeatSec: number;
  /** File touched after every successful lease round (container health checks); null = none. */
  aliveFile: string | null;
  /**
   * Live debug view (operator console): seconds between two live records of a camera (0 = off),
   * their TTL in Redis, and the JPEG's maximum width and quality; how long a read of the live view
   * keeps the camera watched (records are published only meanwhile; 0 = always publish). Unset:
   * workers/live.ts defaults.
   */
  liveFrameIntervalSec?: number;
  liveTtlSec?: number;
  liveFrameMaxWidth?: number;
  liveJpegQuality?: number;
  liveWatchSec?: number;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

type Env = Record<string, string | undefined>;

function num(env: Env, name: string, def: number, check: (v: number) => boolean = (v) => v >= 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || !check(v))
    throw new SettingsError(`${name}="${raw}" is not valid (expected a ${def >= 1 ? 'positive ' : ''}number)`);
  return v;
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function databaseUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SettingsError('DATABASE_URL is not a URL (expected postgres://user:password@host:5432/db)');
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new SettingsError(`DATABASE_URL must be a postgres:// URL, not ${u.protocol}`);
  return raw;
}

export function settingsFromEnv(env: Env = process.env): WorkerSettings {
  const webhookUrl = env.WEBHOOK_URL || null;
  const webhookSecret = env.WEBHOOK_SECRET || null;
  if (webhookUrl && !webhookSecret) throw new SettingsError('WEBHOOK_URL is set but WEBHOOK_SECRET is not: deliveries must be signed');
  if (webhookUrl) {
    try {
      new URL(webhookUrl);
    } catch {
      throw new SettingsError(`WEBHOOK_URL="${webhookUrl}" is not a URL`);
    }
  }
  let s3: S3Settings | null = null;
  if (env.S3_ENDPOINT) {
    for (const k of ['S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET'])
      if (!env[k]) throw new SettingsError(`S3_ENDPOINT is set but ${k} is not`);
    s3 = {
      endPoint: env.S3_ENDPOINT,
      port: env.S3_PORT ? num(env, 'S3_PORT', 9000, (v) => v > 0 && v < 65536) : undefined,
      useSSL: /^(1|true|yes)$/i.test(env.S3_USE_SSL ?? ''),
      accessKey: env.S3_ACCESS_KEY!,
      secretKey: env.S3_SECRET_KEY!,
      bucket: env.S3_BUCKET!,
      region: env.S3_REGION || undefined,
      retentionDays: env.EVIDENCE_RETENTION_DAYS ? num(env, 'EVIDENCE_RETENTION_DAYS', 90, (v) => v >= 1) : undefined,
    };
  }
  const ratio = num(env, 'VERIFY_PRESENCE_RATIO', 0.5, (v) => v > 0 && v <= 1);
  return {
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    databaseUrl: databaseUrl(env.DATABASE_URL),
    conventionsFile: env.CITY_CONVENTIONS || null,
    prefix: env.CITYWATCH_PREFIX || 'cw',
    workerId: env.WORKER_ID || defaultWorkerId(),
    dataDir: path.resolve(env.DATA_DIR || path.join(REPO_ROOT, '.cache', 'citywatch')),
    leaseTtlMs: num(env, 'LEASE_TTL_MS', 15_000, (v) => v >= 1000),
    leasePollMs: num(env, 'LEASE_POLL_MS', 2000, (v) => v >= 100),
    // bench:scale on the 2-core reference box: 32 cameras at 0.5 fps hold every throughput target
    // with margin (36 is the edge: p95 frame age 1.94 s of 2). Bigger hosts raise it.
    maxCamerasPerWorker: num(env, 'MAX_CAMERAS_PER_WORKER', 32, (v) => v >= 1),
    startConcurrency: num(env, 'START_CONCURRENCY', 8, (v) => v >= 1),
    startStaggerMs: num(env, 'START_STAGGER_MS', 200),
    connectWaitMs: num(env, 'CONNECT_WAIT_MS', 20_000),
    inferThreads: num(env, 'INFER_THREADS', 2, (v) => v >= 1),
    inferConcurrency: num(env, 'INFER_CONCURRENCY', 1, (v) => v >= 1),
    webhookUrl,
    webhookSecret,
    webhookTimeoutMs: num(env, 'WEBHOOK_TIMEOUT_MS', 10_000, (v) => v >= 100),
    deliveryMaxAttempts: num(env, 'DELIVERY_MAX_ATTEMPTS', 8, (v) => v >= 1),
    deliveryBackoffMs: num(env, 'DELIVERY_BACKOFF_MS', 2000, (v) => v >= 1),
    deliveryBackoffMaxMs: num(env, 'DELIVERY_BACKOFF_MAX_MS', 300_000, (v) => v >= 1),
    deliveryConcurrency: num(env, 'DELIVERY_CONCURRENCY', 4, (v) => v >= 1),
    evidenceConcurrency: num(env, 'EVIDENCE_CONCURRENCY', 1, (v) => v >= 1),
    preRollSec: num(env, 'CLIP_PREROLL_SEC', 10),
    postRollSec: num(env, 'CLIP_POSTROLL_SEC', 10),
    maxClipSec: num(env, 'CLIP_MAX_SEC', 120, (v) => v >= 5),
    segmentSec: num(env, 'SEGMENT_SEC', 2, (v) => v >= 0.5 && v <= 60),
    ringMaxBytes: num(env, 'RING_MAX_MB', 512, (v) => v >= 8) * 1024 * 1024,
    ringBudgetBytes: num(env, 'RING_BUDGET_MB', 16_384, (v) => v >= 8) * 1024 * 1024,
    ringMaxAgeSec: num(env, 'RING_MAX_AGE_SEC', 900, (v) => v >= 60),
    presignExpirySec: num(env, 'PRESIGN_EXPIRY_SEC', DEFAULT_EVIDENCE_URL_TTL_SEC, (v) => v >= 1 && v <= MAX_EVIDENCE_URL_TTL_SEC),
    publicApiUrl: env.PUBLIC_API_URL ? env.PUBLIC_API_URL.replace(/\/+$/, '') : null,
    s3,
    spoolMaxBytes: num(env, 'SPOOL_MAX_MB', 2048, (v) => v >= 16) * 1024 * 1024,
    spoolMaxItems: num(env, 'SPOOL_MAX_ITEMS', 100_000, (v) => Number.isInteger(v) && v >= 1),
    verifyDelaySec: num(env, 'VERIFY_DELAY_SEC', 60),
    verifyWindowSec: num(env, 'VERIFY_WINDOW_SEC', 120, (v) => v >= 1),
    verifyPresenceRatio: ratio,
    textIntervalSec: num(env, 'TEXT_INTERVAL_SEC', 5, (v) => v >= 0.5),
    heartbeatSec: num(env, 'HEARTBEAT_SEC', 2, (v) => v >= 0.2),
    aliveFile: env.ALIVE_FILE || null,
    liveFrameIntervalSec: num(env, 'LIVE_FRAME_INTERVAL_SEC', 1),
    liveTtlSec: num(env, 'LIVE_TTL_SEC', 30, (v) => v >= 1),
    liveFrameMaxWidth: num(env, 'LIVE_FRAME_MAX_WIDTH', 960, (v) => v >= 64),
    liveJpegQuality: num(env, 'LIVE_JPEG_QUALITY', 70, (v) => v >= 1 && v <= 100),
    liveWatchSec: num(env, 'LIVE_WATCH_SEC', DEFAULT_LIVE_WATCH_SEC, (v) => v >= 0 && v <= 86_400),
  };
}
