// bench:live — what the operator console's live frame costs a worker per camera: the JPEG encode
// (crop of the letterbox padding, BGR→RGB, sharp JPEG q70) of analysed frames of a real clip, as
// CPU time of the whole process (sharp encodes on libuv threads; process.cpuUsage counts them).
// Frames are decoded first and kept in memory, so only the encode is measured.
// Usage: npm run bench:live -- [--model NAME] [clip]   (BENCH_FRAMES, default 60)
import { sharedSession } from '../../pipeline/detect/session.js';
import { sourceForModel } from '../../pipeline/detect/stream.js';
import { analysedPicture, DEFAULT_LIVE_OPTIONS, encodeLiveJpeg } from '../../workers/live.js';
import { PARKING_LANE, requireFile, VTEST } from '../support/media.js';

const argv = process.argv.slice(2);
const modelFlag = argv.indexOf('--model');
const model = modelFlag >= 0 ? argv.splice(modelFlag, 2)[1]! : (process.env.BENCH_MODEL ?? 'yolox_nano');
const clips = argv.length ? argv : [requireFile(VTEST, 'apt-get install opencv-doc'), PARKING_LANE];
const n = Number(process.env.BENCH_FRAMES ?? 60);
const session = await sharedSession(model, { threads: 1 });

for (const clip of clips) {
  const pics: ReturnType<typeof analysedPicture>[] = [];
  let src = '';
  for await (const f of sourceForModel(session.manifest, { input: clip, fps: 2 }).frames()) {
    pics.push(analysedPicture(f));
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
