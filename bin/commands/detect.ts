import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ObjectDetector } from '../../pipeline/detect/detector.js';
import { sharedSession } from '../../pipeline/detect/session.js';
import { sourceForModel, sourceTiling } from '../../pipeline/detect/stream.js';
import { analysisSchema } from '../../pipeline/rules/config-schema.js';
import { annotateFrame } from '../../pipeline/evidence/annotate.js';

export interface DetectOptions {
  fps: number;
  model: string;
  score: number;
  keyframes: boolean;
  maxFrames?: number;
  annotate?: string;
  threads?: number;
  tiles?: { cols: number; rows: number };
}

export async function runDetect(input: string, opts: DetectOptions): Promise<void> {
  const session = await sharedSession(opts.model, { threads: opts.threads });
  // Same overlap and merge defaults as a camera's analysis.tiling.
  const tiling = opts.tiles ? analysisSchema.parse({ tiling: { enabled: true, ...opts.tiles } }).tiling : undefined;
  const detector = new ObjectDetector(session, { scoreThreshold: opts.score, tiling });
  const source = sourceForModel(session.manifest, { input, fps: opts.fps, keyframesOnly: opts.keyframes, tiling: sourceTiling(tiling) });
  source.on('state', (s) => process.stderr.write(`source ${s.state}${s.reason ? `: ${s.reason}` : ''}\n`));
  if (opts.annotate) await mkdir(opts.annotate, { recursive: true });
  let n = 0;
  for await (const frame of source.frames()) {
    const result = await detector.detect(frame);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (opts.annotate) {
      const file = path.join(opts.annotate, `frame-${String(frame.index).padStart(6, '0')}.jpg`);
      const boxes = result.detections.map((d) => ({ box: d.box, label: `${d.label} ${d.score.toFixed(2)}` }));
      await writeFile(
        file,
        await annotateFrame(frame, { boxes, caption: `t=${result.streamTime.toFixed(2)}s frame ${result.frameIndex}` }),
      );
    }
    if (opts.maxFrames && ++n >= opts.maxFrames) break;
  }
  const { frames, dropped, reconnects } = source.stats;
  process.stderr.write(`frames=${frames} dropped=${dropped} reconnects=${reconnects}\n`);
}
