// bench:detect — where does the detection time go? Prints, in one run on the same clip:
//  (a) ffmpeg decode + letterbox only (frames through FrameSource, no inference)
//  (b) raw inference on prepared tensors (no decode, no decoding of outputs)
//  (c) end to end: FrameSource → preprocess → ORT → decode → NMS
// and the ratio c / min(a, b): how close the pipeline gets to its slowest stage.
import { availableParallelism } from 'node:os';
import { ObjectDetector } from '../../pipeline/detect/detector.js';
import { frameToTensorData } from '../../pipeline/detect/preprocess.js';
import { sharedSession } from '../../pipeline/detect/session.js';
import { sourceForModel } from '../../pipeline/detect/stream.js';
import type { Frame } from '../../pipeline/types.js';
import { requireFile, VTEST } from '../support/media.js';

// Usage: npm run bench:detect -- [--model NAME] [clip]   (or BENCH_MODEL=NAME)
const argv = process.argv.slice(2);
const modelFlag = argv.indexOf('--model');
const model = modelFlag >= 0 ? argv.splice(modelFlag, 2)[1] : (process.env.BENCH_MODEL ?? 'yolox_nano');
if (!model) throw new Error('--model needs a manifest name (see `citywatch models list`)');
const clip = argv[0] ?? requireFile(VTEST, 'apt-get install opencv-doc');
const fps = Number(process.env.BENCH_FPS ?? 10);
const maxFrames = Number(process.env.BENCH_FRAMES ?? 400);
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());

const session = await sharedSession(model, { threads });
const detector = new ObjectDetector(session, { scoreThreshold: 0.3 });
const src = () => sourceForModel(session.manifest, { input: clip, fps });

/** Also keeps the first frames, so (b) runs on the very tensors (a) produced. */
async function timeDecode(): Promise<{ fps: number; frames: Frame[] }> {
  const frames: Frame[] = [];
  let n = 0;
  const t0 = performance.now();
  for await (const f of src().frames()) {
    if (frames.length < 50) frames.push(f);
    if (++n >= maxFrames) break;
  }
  return { fps: (n * 1000) / (performance.now() - t0), frames };
}

async function timeInference(frames: Frame[]): Promise<number> {
  const tensors = frames.map((f) => frameToTensorData(f, session.manifest));
  for (const t of tensors.slice(0, 5)) await session.run(t); // warm-up
  const n = Math.min(maxFrames, 200);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await session.run(tensors[i % tensors.length]!);
  return (n * 1000) / (performance.now() - t0);
}

async function timeEndToEnd(): Promise<{ fps: number; frames: number; detections: number }> {
  let n = 0;
  let dets = 0;
  const t0 = performance.now();
  for await (const f of src().frames()) {
    dets += (await detector.detect(f)).detections.length;
    if (++n >= maxFrames) break;
  }
  return { fps: (n * 1000) / (performance.now() - t0), frames: n, detections: dets };
}

const a = await timeDecode();
const b = await timeInference(a.frames);
const c = await timeEndToEnd();
const ratio = c.fps / Math.min(a.fps, b);
console.log(
  `model ${model} (${session.manifest.input.width}x${session.manifest.input.height} ${session.manifest.input.resize}), clip ${clip} @ ${fps} fps analysis, ${maxFrames} frames, ORT threads ${threads}, cores ${availableParallelism()}`,
);
console.log(`(a) ffmpeg decode+letterbox only : ${a.fps.toFixed(1)} fps`);
console.log(`(b) raw inference (prepared)     : ${b.toFixed(1)} fps  (${(1000 / b).toFixed(2)} ms/frame)`);
console.log(`(c) end-to-end detect            : ${c.fps.toFixed(1)} fps  (${c.frames} frames, ${c.detections} detections)`);
console.log(`ratio c / min(a, b)              : ${ratio.toFixed(3)}`);
await session.close();
