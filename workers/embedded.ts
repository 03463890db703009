// Everything on one machine, no docker: a local redis-server (AOF) unless REDIS_URL is set, the
// filesystem evidence store unless S3_ENDPOINT is set, a demo camera (a labelled fixture clip replayed
// as a live HLS stream) and one worker. Prints each case as it appears with the path of its clip.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CAMERA_ID, demoCamera } from '../demo/demo-camera.js';
import { startHlsLoop, type HlsLoop } from '../demo/hls-loop.js';
import { closeRedis, createRedis } from '../infra/redis.js';
import { startLocalRedis, type LocalRedis } from './redis-server.js';
import { REPO_ROOT } from '../infra/settings.js';
import { CameraStore } from '../infra/stores/camera-store.js';
import type { CaseRecord } from '../infra/stores/case-store.js';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from './worker.js';

export interface EmbeddedOptions {
  /** State directory (rings, evidence, redis data, logs). Default DATA_DIR or .cache/citywatch. */
  dataDir?: string;
  /** Use this Redis instead of starting one (default: REDIS_URL). */
  redisUrl?: string;
  /** Register and stream the demo camera (default true). */
  demo?: boolean;
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
  stop(): Promise<void>;
}

export function describeCase(c: CaseRecord, clip: string | null): string {
  const due = new Date(c.dueAt).toISOString();
  return `CASE ${c.id} ${c.nameZh} ${c.nameEn} | camera ${c.cameraName ?? c.cameraId} zone ${c.zoneName ?? c.zoneId ?? '-'} | ${c.urgency}, due ${due} | ${c.responsibleParty} | state ${c.state} | clip ${clip ?? '(none)'}`;
}

export async function runEmbedded(opts: EmbeddedOptions = {}): Promise<EmbeddedHandle> {
  const print = opts.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const dataDir = path.resolve(opts.dataDir ?? process.env.DATA_DIR ?? path.join(REPO_ROOT, '.cache', 'citywatch'));
  await mkdir(dataDir, { recursive: true });

  let localRedis: LocalRedis | null = null;
  let redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? '';
  if (!redisUrl) {
    const dir = opts.dataDir || process.env.DATA_DIR ? path.join(dataDir, 'redis') : path.join(REPO_ROOT, '.cache', 'redis');
    localRedis = await startLocalRedis({ dir });
    redisUrl = localRedis.url;
    print(`redis-server started at ${redisUrl} (AOF in ${dir})`);
  }

  // The demo camera is registered before the worker starts, so its first lease sees the current URL.
  const admin = createRedis(redisUrl);
  admin.on('error', () => undefined);
  let hls: HlsLoop | null = null;
  if (opts.demo !== false) {
    const demo = await demoCamera();
    hls = await startHlsLoop({ clip: demo.clip, loop: true });
    await new CameraStore(admin, opts.worker?.prefix ?? process.env.CITYWATCH_PREFIX ?? undefined).upsert({ id: DEMO_CAMERA_ID, name: String(demo.config.camera.name), url: hls.url, config: demo.config, enabled: true });
    print(`demo camera ${DEMO_CAMERA_ID}: ${demo.clip} looped as live HLS at ${hls.url}`);
  }
  const logFile = createWriteStream(path.join(dataDir, 'worker.log'), { flags: 'a' });
  const worker = await startWorker({
    dataDir,
    redisUrl,
    log: (msg, extra) => logFile.write(JSON.stringify({ t: new Date().toISOString(), msg, ...extra }) + '\n'),
    ...opts.worker,
  });
  print(`evidence store: ${worker.store.kind === 's3' ? 'S3 (' + (process.env.S3_ENDPOINT ?? '') + ')' : path.join(dataDir, 'evidence')}; worker log: ${path.join(dataDir, 'worker.log')}`);

  // Print cases when their evidence is in (creation alone has no clip yet).
  const sub = createRedis(redisUrl);
  sub.on('error', () => undefined);
  const printed = new Set<string>();
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
    })().catch(() => undefined);
  });

  const cams = await worker.cameras.list();
  print(`${cams.filter((c) => c.enabled).length} camera(s) enabled; waiting for cases (Ctrl-C to stop)`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await unsubscribe().catch(() => undefined);
    await closeRedis(sub);
    await closeRedis(admin);
    await worker.drain();
    await hls?.stop();
    await localRedis?.stop();
    await new Promise<void>((r) => logFile.end(() => r()));
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
  return { worker, redisUrl, redis: localRedis, demoUrl: hls?.url ?? null, stop };
}
