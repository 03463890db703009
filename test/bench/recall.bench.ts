// bench:recall — detection recall on hand-labelled real frames (fixtures/real/boxes), per model,
// with and without tiled inference: recall by object size (source-pixel height; small < 32 px,
// medium < 96 px, large ≥ 96 px) at IoU 0.5, false positives per frame, and detect() wall and CPU
// ms per frame (CPU time of this process, ORT threads included; ffmpeg's crop/resize not included).
// Usage: npm run bench:recall -- [--models a,b] [--score 0.3] [--tiles 2x2] [--repeat 3] [--missed]
import { availableParallelism } from 'node:os';
import { addScores, scoreFrame, type FrameScore } from '../../pipeline/detect/recall.js';
import { sharedSession } from '../../pipeline/detect/session.js';
import { detectOnPng, framePng, loadLabelledClips } from '../support/real-boxes.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const models = flag('models', 'yolox_nano,picodet_s_416_coco,picodet_s_320_coco').split(',');
const score = Number(flag('score', '0.3'));
const [cols, rows] = flag('tiles', '2x2').split('x').map(Number) as [number, number];
const repeat = Number(flag('repeat', '3'));
const threads = Number(process.env.BENCH_THREADS ?? Math.min(4, availableParallelism()));
const showMissed = process.argv.includes('--missed');

const clips = await loadLabelledClips();
const frames = await Promise.all(
  clips.flatMap((c) => c.frames.map(async (f) => ({ clip: c.clip, frame: f, png: await framePng(c.clip, f.time) }))),
);
const pct = (s: FrameScore, k: 'small' | 'medium' | 'large') =>
  s.total[k] ? `${((100 * s.found[k]) / s.total[k]).toFixed(0)}% (${s.found[k]}/${s.total[k]})` : '-';

console.log(
  `${frames.length} labelled frames from ${clips.length} clips; score ≥ ${score}; IoU 0.5; ORT threads ${threads}; detect() median of ${repeat}`,
);
// Tiling pays off only where the source is well above the model input; report that subset too.
const HI_RES_WIDTH = 800;
const rowsOut: string[][] = [[], []];
const header =
  'model                     tiling | small          medium         large          all            | FP/frame | ms/frame | CPU ms/frame';
for (const model of models) {
  const session = await sharedSession(model, { threads });
  for (const tiles of [undefined, { cols, rows }]) {
    const scores: FrameScore[] = [];
    const ms: number[] = [];
    const cpuMs: number[] = [];
    for (const f of frames) {
      const r = await detectOnPng(session, f.png, { score, tiles }, repeat);
      scores.push(scoreFrame(f.frame, r.detections));
      ms.push(r.ms);
      cpuMs.push(r.cpuMs);
    }
    const name = `${model.padEnd(25)} ${(tiles ? `${cols}x${rows}+full` : 'off').padStart(6)}`;
    [() => true, (i: number) => frames[i]!.frame.width >= HI_RES_WIDTH].forEach((keep, table) => {
      const idx = frames.map((_, i) => i).filter(keep);
      const s = addScores(idx.map((i) => scores[i]!));
      const all = {
        found: { small: 0, medium: 0, large: s.found.small + s.found.medium + s.found.large },
        total: { small: 0, medium: 0, large: s.total.small + s.total.medium + s.total.large },
      } as FrameScore;
      const msAvg = idx.reduce((a, i) => a + ms[i]!, 0) / idx.length;
      const cpuAvg = idx.reduce((a, i) => a + cpuMs[i]!, 0) / idx.length;
      rowsOut[table]!.push(
        `${name} | ${pct(s, 'small').padEnd(14)} ${pct(s, 'medium').padEnd(14)} ${pct(s, 'large').padEnd(14)} ${pct(all, 'large').padEnd(14)} | ${(s.falsePositives / idx.length).toFixed(2).padStart(8)} | ${msAvg.toFixed(1).padStart(8)} | ${cpuAvg.toFixed(1).padStart(12)}`,
      );
    });
    if (showMissed)
      scores.forEach(
        (fs, i) =>
          fs.missed.length &&
          console.log(
            `   ${name.trim()} missed ${frames[i]!.clip}@${frames[i]!.frame.time}: ${fs.missed.map((m) => `${m.label}[${[m.box.x1, m.box.y1, m.box.x2, m.box.y2].map(Math.round).join(',')}]`).join(' ')}`,
          ),
      );
  }
  await session.close();
}
console.log(`\nAll ${frames.length} frames\n${header}\n${rowsOut[0]!.join('\n')}`);
const hi = frames.filter((f) => f.frame.width >= HI_RES_WIDTH).length;
console.log(
  `\nSources at least ${HI_RES_WIDTH} px wide (${hi} frames), where tiling is meant to be used\n${header}\n${rowsOut[1]!.join('\n')}`,
);
