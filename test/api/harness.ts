// A real API for tests: a redis-server child on a free port, the real stores, queues and a filesystem
// evidence store in a temp dir, and one key per role.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createApp, type ApiApplication } from '../../api/app.js';
import { ROLES, type Role } from '../../api/auth.js';
import type { ApiDeps } from '../../api/deps.js';
import type { RateLimitOptions } from '../../api/rate-limit.js';
import type { Resolver } from '../../pipeline/source/address-policy.js';
import { FsEvidenceStore } from '../../infra/adapters/fs-store.js';
import { DeliveryService } from '../../infra/delivery/delivery.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { startLocalRedis, type LocalRedis } from '../../workers/redis-server.js';
import { createReplayQueue } from '../../api/replay/processor.js';
import { CameraStore } from '../../infra/stores/camera-store.js';
import { CaseStore } from '../../infra/stores/case-store.js';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { HealthStore } from '../../infra/stores/health-store.js';
import '../support/media.js'; // sets MODEL_DIR

export const PREFIX = 'cwt';
export const BULL_PREFIX = `${PREFIX}-bull`;

export interface Harness {
  app: ApiApplication;
  deps: ApiDeps;
  redisServer: LocalRedis;
  redis: ReturnType<typeof createRedis>;
  keys: Record<Role, string>;
  dir: string;
  database: Database;
  conn(): ReturnType<typeof createRedis>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    maxUploadBytes?: number;
    replayMediaDirs?: string[];
    replayAllowCidrs?: string[];
    resolve?: Resolver;
    rateLimit?: RateLimitOptions | null;
  } = {},
): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'citywatch-api-'));
  const redisServer = await startLocalRedis({ dir: path.join(dir, 'redis') });
  const conns: ReturnType<typeof createRedis>[] = [];
  const conn = () => {
    const r = createRedis(redisServer.url);
    r.on('error', () => undefined);
    conns.push(r);
    return r;
  };
  const redis = conn();
  // PGlite in memory: the API tests are about HTTP shapes; both backends are covered by the store tests.
  const database = await openDatabase({});
  const deliveries = new DeliveryService(database.db, { bullPrefix: BULL_PREFIX, connection: conn(), webhook: null });
  const deps: ApiDeps = {
    redis,
    prefix: PREFIX,
    cameras: new CameraStore(redis, PREFIX),
    cases: new CaseStore(database.db, { redis, prefix: PREFIX }),
    health: new HealthStore(redis, PREFIX),
    deliveries,
    replays: createReplayQueue(conn(), BULL_PREFIX),
    queues: [deliveries.queue],
    evidence: new FsEvidenceStore(path.join(dir, 'evidence')),
    logger: pino({ level: process.env.API_TEST_LOG ?? 'silent' }),
    uploadDir: path.join(dir, 'uploads'),
    maxUploadBytes: opts.maxUploadBytes,
    replayMediaDirs: opts.replayMediaDirs,
    // Test streams are served on loopback; production default is no private/loopback replays.
    replayAllowCidrs: opts.replayAllowCidrs ?? ['127.0.0.0/8', '::1/128'],
    resolve: opts.resolve,
    // Tests fire many requests per key; the limiter is tested on its own with a small budget.
    rateLimit: opts.rateLimit === undefined ? null : opts.rateLimit,
  };
  const app = createApp(deps);
  const keys = {} as Record<Role, string>;
  for (const role of ROLES) keys[role] = (await app.keys.create(`test ${role}`, role)).key;
  return {
    app,
    deps,
    redisServer,
    redis,
    keys,
    dir,
    database,
    conn,
    close: async () => {
      await deps.replays.close();
      await deliveries.queue.close();
      await Promise.all(conns.map(closeRedis));
      await database.close();
      await redisServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every key under the test prefixes with its content: equal snapshots = nothing stored changed. */
export async function snapshotRedis(redis: ReturnType<typeof createRedis>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const keys = [...(await redis.keys(`${PREFIX}:*`)), ...(await redis.keys(`${BULL_PREFIX}:*`))].sort();
  for (const k of keys) {
    // Metrics are counters the API itself does not write; excluded so the snapshot is about data.
    if (k.startsWith(`${PREFIX}:metrics:`)) continue;
    const type = await redis.type(k);
    if (type === 'string') out[k] = await redis.get(k);
    else if (type === 'hash') out[k] = await redis.hgetall(k);
    else if (type === 'set') out[k] = (await redis.smembers(k)).sort();
    else if (type === 'zset') out[k] = await redis.zrange(k, 0, -1, 'WITHSCORES');
    else if (type === 'list') out[k] = await redis.lrange(k, 0, -1);
    else out[k] = type;
  }
  return out;
}

/** Fills `:param` placeholders with values that pass each route's param schema. */
export function samplePath(p: string): string {
  const values: Record<string, string> = { id: 'cam-1', classId: 'street_vending', key: 'no-such-delivery', name: 'x.jpg' };
  let out = p.replace(/:([A-Za-z]+)/g, (_, n: string) => values[n] ?? 'x');
  if (out.startsWith('/v1/cases/')) out = out.replace('/v1/cases/cam-1', '/v1/cases/case_0123abcd');
  if (out.startsWith('/v1/replays/')) out = out.replace('/v1/replays/cam-1', '/v1/replays/rp_0123456789abcdef');
  if (out.startsWith('/v1/keys/')) out = out.replace('/v1/keys/cam-1', '/v1/keys/key_nonexistent');
  return out;
}
