// Hand-labelled frames of ../shared/footage (fixtures/real/boxes) and the detector run on exactly
// those frames: each is extracted once with `ffmpeg -ss TIME -frames:v 1` (the labelling command)
// and fed through the photo path, so box times never drift with the fps filter's frame choice.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { analysisSchema } from '../../pipeline/rules/config-schema.js';
import { ObjectDetector } from '../../pipeline/detect/detector.js';
import { labelledClipSchema, type LabelledClip } from '../../pipeline/detect/recall.js';
import type { ModelSession } from '../../pipeline/detect/session.js';
import { sourceForModel, sourceTiling } from '../../pipeline/detect/stream.js';
import type { Detection } from '../../pipeline/types.js';
import { REPO_ROOT, requireFile, run, SHARED, TEST_CACHE } from './media.js';

export const FOOTAGE = path.join(SHARED, 'footage');
export const BOXES_DIR = path.join(REPO_ROOT, 'fixtures', 'real', 'boxes');

export async function loadLabelledClips(): Promise<LabelledClip[]> {
  const files = (await readdir(BOXES_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (f) => labelledClipSchema.parse(JSON.parse(await readFile(path.join(BOXES_DIR, f), 'utf8')))));
}

/** The labelled frame as a PNG under TEST_CACHE (extracted once). */
export async function framePng(clip: string, time: number): Promise<string> {
  const dir = path.join(TEST_CACHE, 'real-frames');
  await mkdir(dir, { recursive: true });
  const out = path.join(dir, `${clip.replace(/\.[^.]+$/, '')}_${time}.png`);
  if (existsSync(out)) return out;
  const input = requireFile(path.join(FOOTAGE, clip), 'real footage lives in ../shared/footage');
  await run('ffmpeg', ['-y', '-loglevel', 'error', '-ss', String(time), '-i', input, '-frames:v', '1', `${out}.part.png`]);
  await rename(`${out}.part.png`, out);
  return out;
}

export interface RunSettings {
  score: number;
  /** Tiled inference grid, e.g. { cols: 2, rows: 2 }; overlap and merging use the camera defaults. */
  tiles?: { cols: number; rows: number };
}

/** A detector with a camera's defaults (NMS, families, contained parts) plus the given score and tiling. */
export function makeDetector(session: ModelSession, s: RunSettings): { detector: ObjectDetector; tiling: ReturnType<typeof sourceTiling> } {
  const analysis = analysisSchema.parse({ model: session.manifest.name, tiling: s.tiles ? { enabled: true, ...s.tiles } : undefined });
  const detector = new ObjectDetector(session, {
    scoreThreshold: s.score,
    nmsIou: analysis.nmsIou,
    containedParts: analysis.containedParts,
    labelFamilies: analysis.labelFamilies,
    tiling: analysis.tiling,
  });
  return { detector, tiling: sourceTiling(analysis.tiling) };
}

/**
 * Detections on one labelled frame, the detect() wall time in ms (median of `repeat` runs) and
 * this process's CPU time per detect() (mean; ORT's threads included), which a busy shared
 * machine distorts far less than wall time.
 */
export async function detectOnPng(
  session: ModelSession,
  png: string,
  s: RunSettings,
  repeat = 1,
): Promise<{ detections: Detection[]; ms: number; cpuMs: number }> {
  const { detector, tiling } = makeDetector(session, s);
  for await (const frame of sourceForModel(session.manifest, { input: png, fps: 1, tiling }).frames()) {
    const times: number[] = [];
    let detections: Detection[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      detections = (await detector.detect(frame)).detections;
      times.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    times.sort((a, b) => a - b);
    return { detections, ms: times[Math.floor(times.length / 2)]!, cpuMs: (cpu.user + cpu.system) / 1000 / repeat };
  }
  throw new Error(`no frame decoded from ${png}`);
}
