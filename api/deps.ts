// What the HTTP layer needs from the rest of the system. Everything is injected so a test runs the
// real app against a real Redis with nothing global.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ModelSession } from '../pipeline/detect/session.js';
import type { EvidenceStore } from '../pipeline/evidence/store.js';
import type { DeliveryService } from '../infra/delivery/delivery.js';
import type { ReplayJobData, ReplayResult } from './replay/processor.js';
import type { CameraStore } from '../infra/stores/camera-store.js';
import type { CaseStore } from '../infra/stores/case-store.js';
import type { HealthStore } from '../infra/stores/health-store.js';
import type { ApiKeyStore } from './auth.js';
import type { EvidenceLinks } from '../infra/evidence-links.js';
import type { QueueLike } from './metrics.js';
import type { AuditStore } from './audit.js';
import type { RateLimitOptions } from './rate-limit.js';
import type { Resolver } from '../pipeline/source/address-policy.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface ApiDeps {
  /** Command connection (the stores' connection is fine). */
  redis: Redis;
  /** Redis key prefix of the deployment (stores, metrics, API keys). */
  prefix?: string;
  cameras: CameraStore;
  cases: CaseStore;
  health: HealthStore;
  /** Webhook delivery (dead letters); routes answer 503 when absent. */
  deliveries?: Pick<DeliveryService, 'get' | 'listDeadLetters' | 'redeliver'> | null;
  replays: Queue<ReplayJobData, ReplayResult>;
  /** Other queues whose depths /metrics reports (delivery, evidence, ...). */
  queues?: QueueLike[];
  evidence: EvidenceStore;
  logger: Logger;
  keys?: ApiKeyStore;
  /**
   * The workers' DATA_DIR when this process shares it (embedded mode, the docker-compose volume):
   * try-before-save replays read the camera's recording ring there. Unset: those answer 409.
   */
  dataDir?: string;
  /** Where uploads land; must be readable by the replay workers (same host or shared volume). */
  uploadDir: string;
  /** Upload size limit in bytes (default 512 MiB). */
  maxUploadBytes?: number;
  /** Server folders whose clips testers may name by path (default: none; only uploads and URLs). */
  replayMediaDirs?: string[];
  /** Default lifetime of evidence URLs (default DEFAULT_EVIDENCE_URL_TTL_SEC = 900 s). */
  presignExpirySec?: number;
  /** Signs filesystem evidence download links (default: a random per-process secret). */
  evidenceLinks?: EvidenceLinks;
  /** Extra readiness checks; Redis and the evidence store are always checked. */
  readiness?: ReadinessCheck[];
  /** Model session for previews (default: the process-wide shared session). */
  session?: (model: string) => Promise<ModelSession>;
  /** Per-check timeout for /readyz (default 2000 ms). */
  readyTimeoutMs?: number;
  version?: string;
  /** Audit log of configuration changes (default: Redis, same prefix). */
  audit?: AuditStore;
  /** Per-key request rate limit (default 600 per 60 s); null turns it off. */
  rateLimit?: RateLimitOptions | null;
  /** CIDRs private/loopback replay URLs may use (REPLAY_ALLOW_CIDRS; default none). */
  replayAllowCidrs?: string[];
  /** Name resolution for the address policy (tests inject one; default: the system resolver). */
  resolve?: Resolver;
  /**
   * LIVE_WATCH_SEC: how long a read of a camera's live view marks it watched (workers publish live
   * records only for watched cameras). Default and 0: see liveWatchMs (infra/stores/live-store.ts).
   */
  liveWatchSec?: number;
  /** Built operator console to serve at `/` (default api/console/dist); null serves none. */
  consoleDir?: string | null;
}
