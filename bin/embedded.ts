// Everything on one machine, no docker: a local redis-server (AOF) unless REDIS_URL is set, the
// filesystem evidence store unless S3_ENDPOINT is set, one database (PGlite in DATA_DIR unless
// DATABASE_URL is set) shared by the API and the worker, the API with the console, a demo camera (a
// labelled fixture clip replayed as a live HLS stream) and one worker. Prints the console URL, the
// admin key, and each case as it appears with the path of its clip.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { assertPortFree } from '../api/listen.js';
import { startApi, type ApiHandle } from '../api/server.js';
import { embeddedAdminKey } from './admin-key-file.js';
import { openDatabase, type Database } from '../infra/db/db.js';
import { DEMO_CAMERA_ID, demoCamera } from '../demo/demo-camera.js';
import { startHlsLoop, type HlsLoop } from '../demo/hls-loop.js';
import { closeRedis, createRedis } from '../infra/redis.js';
import { startLocalRedis, type LocalRedis } from '../workers/redis-server.js';
import { REPO_ROOT, settingsFromEnv } from '../infra/settings.js';
import { CameraStore } from '../infra/stores/camera-store.js';
import type { CaseRecord } from '../infra/stores/case-store.js';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from '../workers/worker.js';

export interface EmbeddedOptions {
  /** State directory (rings, evidence, redis data, logs). Default DATA_DIR or .cache/citywatch. */
  dataDir?: string;
  /** Use this Redis instead of starting one (default: REDIS_URL). */
  redisUrl?: string;
  /** Register and stream the demo camera (default true). */
  demo?: boolean;
  /** Serve the API and console (default true); where is PORT/HOST (default 127.0.0.1:8080). */
  api?: boolean;
  /** Where lines for the operator go (default stdout). */
  print?: (line: string) => void;
  /** Drain and exit on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
  /** Extra worker settings (tests shorten windows). */
  worker?: StartWorkerOptions;
}

export interface EmbeddedHandle {
  worker: WorkerHandle;
  redisUrl: string;
  redis: LocalRedis | null;
  demoUrl: string | null;
  /** The API and console, e.g. http://127.0.0.1:8080 (null with api: false). */
  apiUrl: string | null;
  adminKey: string | null;
  stop(): Promise<void>;
}

export function describeCase(c: CaseRecord, clip: string | null): string {
  const due = new Date(c.dueAt).toISOString();
  return `CASE ${c.id} ${c.nameZh} ${c.nameEn} | camera ${c.cameraName ?? c.cameraId} zone ${c.zoneName ?? c.zoneId ?? '-'} | ${c.urgency}, due ${due} | ${c.responsibleParty} | state ${c.state} | clip ${clip ?? '(none)'}`;
}

export async function runEmbedded(opts: EmbeddedOptions = {}): Promise<EmbeddedHandle> {
  const began = Date.now();
  const print = opts.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const env = process.env;
  const dataDir = path.resolve(opts.dataDir ?? env.DATA_DIR ?? path.join(REPO_ROOT, '.cache', 'citywatch'));
  await mkdir(dataDir, { recursive: true });
  // Whatever has started is stopped again, in reverse order, when a later step fails (a busy port,
  // a missing fixture source): a failed start leaves no redis-server or database lock behind.
  const undo: (() => Promise<unknown>)[] = [];
  const unwind = async () => {
    for (const f of undo.splice(0).reverse()) await f().catch(() => undefined);
  };
  try {
    return await start();
  } catch (err) {
    await unwind();
    throw err;
  }

  async function start(): Promise<EmbeddedHandle> {
    // A second `npm start` (or anything else on the port) is told so before it starts a second
    // redis-server on the same AOF directory; the API's own listen below still reports a late race.
    if (opts.api !== false) await assertPortFree(Number(env.PORT || 8080), env.HOST || '127.0.0.1');
    let localRedis: LocalRedis | null = null;
    let redisUrl = opts.redisUrl ?? env.REDIS_URL ?? '';
    if (!redisUrl) {
      const dir = opts.dataDir || env.DATA_DIR ? path.join(dataDir, 'redis') : path.join(REPO_ROOT, '.cache', 'redis');
      const started = await startLocalRedis({ dir });
      localRedis = started;
      undo.push(() => started.stop());
      redisUrl = started.url;
      print(`redis-server started at ${redisUrl} (AOF in ${dir})`);
    }
    // The demo clip is built (first start only) while the database opens: ffmpeg's encode and
    // PGlite's first-start template are the two slow steps of a fresh clone, and there are two cores.
    const demoP = opts.demo !== false ? demoCamera() : null;
    demoP?.catch(() => undefined);
    const prefix = opts.worker?.prefix ?? env.CITYWATCH_PREFIX ?? undefined;
    const base = { ...settingsFromEnv(env), dataDir, redisUrl, ...(prefix ? { prefix } : {}) };

    // One database for the API and the worker: PGlite allows one owner per directory.
    const database: Database = await openDatabase({ url: base.databaseUrl, dataDir: path.join(dataDir, 'pglite'), background: true });
    undo.push(() => database.close());

    // The API listens before the slow parts (fixture, worker) so a busy port fails within seconds.
    let api: ApiHandle | null = null;
    let adminKey: string | null = null;
    if (opts.api !== false) {
      const key = await embeddedAdminKey(dataDir, env);
      adminKey = key.key;
      const logger = pino(
        { name: 'citywatch-api', level: env.LOG_LEVEL || 'info' },
        pino.destination({ dest: path.join(dataDir, 'api.log'), append: true, sync: true }),
      );
      const started = await startApi({ env: { ...env, CITYWATCH_ADMIN_KEY: key.key }, settings: base, database, logger });
      api = started;
      undo.push(() => started.close());
      print(`console: ${api.url}/  (API log: ${path.join(dataDir, 'api.log')})`);
      print(
        key.source === 'env'
          ? 'admin key: the one in CITYWATCH_ADMIN_KEY'
          : `admin key: ${key.key}  (${key.source === 'generated' ? 'generated now and kept' : 'kept'} in ${key.file}, mode 0600; CITYWATCH_ADMIN_KEY overrides)`,
      );
    }

    // The demo camera is registered before the worker starts, so its first lease sees the current URL.
    const admin = createRedis(redisUrl);
    admin.on('error', () => undefined);
    undo.push(() => closeRedis(admin));
    let hls: HlsLoop | null = null;
    if (opts.demo !== false) {
      const demo = (await demoP)!;
      const loop = await startHlsLoop({ clip: demo.clip, loop: true });
      hls = loop;
      undo.push(() => loop.stop());
      await new CameraStore(admin, base.prefix).upsert({
        id: DEMO_CAMERA_ID,
        name: String(demo.config.camera.name),
        url: loop.url,
        config: demo.config,
        enabled: true,
      });
      print(
        `demo camera ${DEMO_CAMERA_ID}: ${demo.clip} looped as live HLS at ${loop.url} (${((Date.now() - began) / 1000).toFixed(1)} s after start)`,
      );
    }
    const logFile = createWriteStream(path.join(dataDir, 'worker.log'), { flags: 'a' });
    undo.push(() => new Promise<void>((r) => logFile.end(() => r())));
    const worker = await startWorker({
      dataDir,
      redisUrl,
      database,
      log: (msg, extra) => logFile.write(JSON.stringify({ t: new Date().toISOString(), msg, ...extra }) + '\n'),
      ...opts.worker,
    });
    undo.push(() => worker.drain());
    print(
      `evidence store: ${worker.store.kind === 's3' ? 'S3 (' + (env.S3_ENDPOINT ?? '') + ')' : path.join(dataDir, 'evidence')}; worker log: ${path.join(dataDir, 'worker.log')}`,
    );

    // Print cases when their evidence is in (creation alone has no clip yet).
    const sub = createRedis(redisUrl);
    sub.on('error', () => undefined);
    undo.push(() => closeRedis(sub));
    const printed = new Set<string>();
    let firstCaseShown = false;
    const unsubscribe = await worker.cases.subscribe(sub, (ev) => {
      if (ev.type !== 'evidence' && ev.type !== 'transition') return;
      void (async () => {
        const c = await worker.cases.get(ev.caseId);
        if (!c) return;
        const clipRef = [...c.evidence].reverse().find((e) => e.file.kind === 'clip');
        let clip: string | null = null;
        if (clipRef) {
          const url = await worker.store.presign(clipRef.key, worker.settings.presignExpirySec);
          clip = url?.startsWith('file:') ? fileURLToPath(url) : url;
        }
        const tag = `${c.id}:${c.state}:${c.evidence.length}`;
        if (printed.has(tag)) return;
        printed.add(tag);
        print(describeCase(c, clip));
        if (clip && !firstCaseShown) {
          firstCaseShown = true;
          print(`first case with its clip ${((Date.now() - began) / 1000).toFixed(1)} s after start`);
        }
      })().catch(() => undefined);
    });
    undo.push(() => unsubscribe());

    const cams = await worker.cameras.list();
    print(
      `${cams.filter((c) => c.enabled).length} camera(s) enabled; waiting for cases (Ctrl-C to stop)${api ? `; open ${api.url}/ to see them` : ''}`,
    );

    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await unwind();
    };
    if (opts.handleSignals !== false) {
      const onSignal = (sig: string) => {
        print(`${sig}: stopping`);
        const force = setTimeout(() => process.exit(1), 30_000);
        force.unref();
        stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => onSignal('SIGINT'));
      process.once('SIGTERM', () => onSignal('SIGTERM'));
    }
    return { worker, redisUrl, redis: localRedis, demoUrl: hls?.url ?? null, apiUrl: api?.url ?? null, adminKey, stop };
  }
}
