// bench:live — what the operator console's live frame costs a worker per camera: the JPEG encode
// (crop of the letterbox padding, BGR→RGB, sharp JPEG q70) of analysed frames of a real clip, as
// CPU time of the whole process (sharp encodes on libuv threads; process.cpuUsage counts them).
// Frames are decoded first and kept in memory, so only the encode is measured.
// Then the watch gate: LivePublisher.offer for 16 cameras at 0.5 fps against a real Redis, nobody
// watching vs all watched, as CPU time of this process plus the redis-server child.
// Usage: npm run bench:live -- [--model NAME] [clip]   (BENCH_FRAMES, default 60)
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sharedSession } from '../../pipeline/detect/session.js';
import { sourceForModel } from '../../pipeline/detect/stream.js';
import { cameraConfigSchema } from '../../pipeline/rules/config-schema.js';
import { RulesEngine } from '../../pipeline/rules/engine.js';
import type { Frame } from '../../pipeline/types.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import type { CameraRecord } from '../../infra/stores/camera-store.js';
import { LiveStore } from '../../infra/stores/live-store.js';
import { analysedPicture, DEFAULT_LIVE_OPTIONS, encodeLiveJpeg, LivePublisher } from '../../workers/live.js';
import { startLocalRedis } from '../../workers/redis-server.js';
import { PARKING_LANE, requireFile, VTEST } from '../support/media.js';

const argv = process.argv.slice(2);
const modelFlag = argv.indexOf('--model');
const model = modelFlag >= 0 ? argv.splice(modelFlag, 2)[1]! : (process.env.BENCH_MODEL ?? 'yolox_nano');
const clips = argv.length ? argv : [requireFile(VTEST, 'apt-get install opencv-doc'), PARKING_LANE];
const n = Number(process.env.BENCH_FRAMES ?? 60);
const session = await sharedSession(model, { threads: 1 });

const gateFrames: Frame[] = [];
for (const clip of clips) {
  const pics: ReturnType<typeof analysedPicture>[] = [];
  let src = '';
  for await (const f of sourceForModel(session.manifest, { input: clip, fps: 2 }).frames()) {
    pics.push(analysedPicture(f));
    if (gateFrames.length < 16) gateFrames.push({ ...f, data: Buffer.from(f.data) });
    src = `${f.letterbox.srcWidth}x${f.letterbox.srcHeight}`;
    if (pics.length >= n) break;
  }
  for (const p of pics.slice(0, 3)) await encodeLiveJpeg(p, DEFAULT_LIVE_OPTIONS.maxWidth, DEFAULT_LIVE_OPTIONS.quality); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  let size = '';
  for (const p of pics) {
    const r = await encodeLiveJpeg(p, DEFAULT_LIVE_OPTIONS.maxWidth, DEFAULT_LIVE_OPTIONS.quality);
    bytes += r.jpeg.length;
    size = `${r.width}x${r.height}`;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / pics.length;
  const wallMs = (performance.now() - t0) / pics.length;
  console.log(
    `${clip.split('/').pop()} (${src} → ${size}, ${model}): ${pics.length} encodes, CPU ${cpuMs.toFixed(2)} ms, wall ${wallMs.toFixed(2)} ms, ${Math.round(bytes / pics.length / 1024)} KiB per frame; ` +
      `per watched camera (unwatched ones encode nothing, LIVE_WATCH_SEC) at LIVE_FRAME_INTERVAL_SEC=${DEFAULT_LIVE_OPTIONS.intervalSec}: ${((cpuMs / (DEFAULT_LIVE_OPTIONS.intervalSec * 1000)) * 100).toFixed(2)} % of one core`,
  );
}

// The gate. CPU of the redis-server child from /proc (clock ticks, 10 ms: coarse, summed over the run).
const CAMERAS = 16;
const dir = await mkdtemp(path.join(tmpdir(), 'citywatch-bench-live-'));
const server = await startLocalRedis({ dir });
const redis = createRedis(server.url);
const store = new LiveStore(redis, 'bench');
const redisCpuMs = async () => {
  const f = (await readFile(`/proc/${server.pid()}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const config = cameraConfigSchema.parse({ camera: { id: 'bench' } });
const engine = new RulesEngine(config, { availableLabels: new Set(session.manifest.labels) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (const watched of [false, true]) {
  const cams = Array.from({ length: CAMERAS }, (_, i) => ({ id: `bench-${watched ? 'w' : 'u'}-${i}`, version: 1, config }) as CameraRecord);
  if (watched) for (const c of cams) await store.watch(c.id, 600_000);
  const pubs = cams.map(() => new LivePublisher(store, { intervalSec: 1 }, () => undefined));
  const cpu0 = process.cpuUsage();
  const r0 = await redisCpuMs();
  for (let k = 0; k < n; k++) {
    const now = k * 2000; // 0.5 fps: every frame is due (LIVE_FRAME_INTERVAL_SEC 1)
    for (let i = 0; i < CAMERAS; i++) {
      const frame = gateFrames[(k + i) % gateFrames.length]!;
      const det = {
        frameIndex: k,
        streamTime: k * 2,
        wallTime: Date.now(),
        sourceWidth: frame.letterbox.srcWidth,
        sourceHeight: frame.letterbox.srcHeight,
        detections: [],
      };
      pubs[i]!.offer(cams[i]!, frame, det, engine, now);
    }
    while (!pubs.every((p) => p.idle)) await sleep(1);
  }
  const cpu = process.cpuUsage(cpu0);
  const redisMs = (await redisCpuMs()) - r0;
  const offers = n * CAMERAS;
  const published = pubs.reduce((a, p) => a + p.stats.published, 0);
  const checks = pubs.reduce((a, p) => a + p.stats.watchChecks, 0);
  console.log(
    `gate, ${CAMERAS} cameras × ${n} frames at 0.5 fps, ${watched ? 'all watched' : 'nobody watching'}: ${published} records, ${checks} mark checks; ` +
      `CPU per analysed frame ${((cpu.user + cpu.system) / 1000 / offers).toFixed(3)} ms (worker process) + ${(redisMs / offers).toFixed(3)} ms (redis-server, 10 ms ticks)`,
  );
}
await closeRedis(redis);
await server.stop();
await rm(dir, { recursive: true, force: true });
