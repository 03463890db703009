// Real-footage regression guard for the detector: the default model on a few hand-labelled frames
// of ../shared/footage (fixtures/real/boxes). Thresholds sit a little below what was measured when
// the boxes were labelled (see README "Choosing a detector"), so a broken decoder, colour order,
// resize or box mapping fails here while a harmless numeric change does not.
import { beforeAll, describe, expect, it } from 'vitest';
import { analysisSchema } from '../pipeline/rules/config-schema.js';
import { addScores, scoreFrame, type FrameScore } from '../pipeline/detect/recall.js';
import { sharedSession, type ModelSession } from '../pipeline/detect/session.js';
import { detectOnPng, framePng, loadLabelledClips } from './support/real-boxes.js';

const DEFAULT_MODEL = analysisSchema.parse({}).model;
const FRAMES: Array<[string, number]> = [
  ['pedestrian_street_bins_benches.mp4', 3],
  ['overhead_road_motorbikes_moving.mp4', 10],
  ['town_junction_cctv_kerb_parked_car.mp4', 3],
];

let session: ModelSession;
const recall = (s: FrameScore) => (s.found.small + s.found.medium + s.found.large) / (s.total.small + s.total.medium + s.total.large);

async function run(tiles?: { cols: number; rows: number }): Promise<FrameScore> {
  const clips = await loadLabelledClips();
  const scores: FrameScore[] = [];
  for (const [clip, time] of FRAMES) {
    const frame = clips.find((c) => c.clip === clip)?.frames.find((f) => f.time === time);
    if (!frame) throw new Error(`no labelled frame ${clip}@${time} in fixtures/real/boxes`);
    const { detections } = await detectOnPng(session, await framePng(clip, time), { score: 0.3, tiles });
    scores.push(scoreFrame(frame, detections));
  }
  return addScores(scores);
}

beforeAll(async () => {
  session = await sharedSession(DEFAULT_MODEL, { threads: 2 });
});

describe(`default detector (${DEFAULT_MODEL}) on hand-labelled real frames`, () => {
  it('finds most labelled people and vehicles at IoU 0.5 with few false positives', async () => {
    const s = await run();
    expect(s.total.small + s.total.medium + s.total.large).toBe(39);
    // Measured at labelling: 32/39 = 0.82 found, 1.0 false positive per frame.
    expect(recall(s), JSON.stringify(s.missed)).toBeGreaterThanOrEqual(0.75);
    expect(s.falsePositives / FRAMES.length).toBeLessThanOrEqual(1.5);
  });

  it('tiled inference finds at least as many of them', async () => {
    const plain = await run();
    const tiled = await run({ cols: 2, rows: 2 });
    expect(recall(tiled)).toBeGreaterThanOrEqual(recall(plain));
  });
});
