// Issue 3 acceptance on clips built from real footage: the right class, zone and time window
// (±2 s) for positives, zero events for their look-alike negatives, through the real CLI.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGroundTruth } from '../pipeline/load/ground-truth-file.js';
import { generateFixtures } from '../fixtures/generate.js';
import { defaultFixturesDir } from '../fixtures/sources.js';
import type { ViolationEvent } from '../pipeline/types.js';
import { REPO_ROOT, VTEST } from './support/media.js';

const CLI = path.join(REPO_ROOT, 'bin', 'citywatch.mjs');

interface AnalyzeOutput {
  events: ViolationEvent[];
  summary: { classes: Array<{ id: string; active: boolean; reason: string }>; frames: number };
  stderr: string;
}

function analyze(input: string, config: string): Promise<AnalyzeOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'analyze', input, '--config', config, '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`analyze exited ${code}: ${err}`));
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string });
      resolve({
        events: lines.filter((l) => l.type === 'event') as unknown as ViolationEvent[],
        summary: lines.find((l) => l.type === 'summary') as unknown as AnalyzeOutput['summary'],
        stderr: err,
      });
    });
  });
}

/** Confirmed episodes with their end (from the matching 'cleared' event). */
function episodes(events: ViolationEvent[]) {
  const ends = new Map(events.filter((e) => e.transition === 'cleared').map((e) => [e.episodeId, e.end]));
  return events
    .filter((e) => e.transition === 'confirmed')
    .map((e) => ({
      classId: e.classId,
      zoneId: e.reason.zoneId,
      start: e.start,
      end: ends.get(e.episodeId) ?? null,
      confirmedAt: e.streamTime,
    }));
}

const PAIRS: Array<[positive: string, negative: string]> = [
  ['illegal_parking_pos', 'illegal_parking_neg_drive_through'],
  ['street_vending_pos', 'street_vending_neg'],
  ['crowd_gathering_pos', 'crowd_gathering_neg'],
  ['road_obstruction_pos', 'road_obstruction_neg'],
  ['illegal_advertising_pos', 'illegal_advertising_neg'],
  ['mobile_vendor_pos', 'mobile_vendor_neg'],
  ['overflowing_bin_pos', 'overflowing_bin_neg'],
  ['bike_out_of_fence_pos', 'bike_out_of_fence_neg'],
  ['nonmotor_parking_pos', 'nonmotor_parking_neg'],
];
const dir = defaultFixturesDir();
const truthFile = (id: string) => path.join(REPO_ROOT, 'fixtures', 'truth', `${id}.truth.json`);

beforeAll(async () => {
  await generateFixtures({ outDir: dir, only: PAIRS.flat() });
}, 300_000);

describe.each(PAIRS)('%s / %s', (pos, neg) => {
  it('the positive yields its episode: right class, zone and time window (±2 s)', async () => {
    const truth = await loadGroundTruth(truthFile(pos), { clipDir: dir });
    const got = episodes((await analyze(truth.clipPath, path.join(dir, `${pos}.camera.json`))).events);
    expect(got).toHaveLength(truth.episodes.length);
    for (const [i, want] of truth.episodes.entries()) {
      const e = got[i]!;
      expect([e.classId, e.zoneId]).toEqual([want.classId, want.zoneId]);
      expect(Math.abs(e.start - want.start)).toBeLessThanOrEqual(2);
      expect(e.end).not.toBeNull();
      expect(Math.abs(e.end! - want.end)).toBeLessThanOrEqual(2);
      expect(e.confirmedAt).toBeGreaterThan(e.start);
    }
  });

  it('the look-alike negative yields zero events', async () => {
    const truth = await loadGroundTruth(truthFile(neg), { clipDir: dir });
    const out = await analyze(truth.clipPath, path.join(dir, `${neg}.camera.json`));
    expect(out.events).toEqual([]);
    expect(out.summary.frames).toBeGreaterThan(50);
  });
});

describe('analyze on vtest.avi with a crowd zone', () => {
  it('people walking along the walkway are never a crowd gathering (walkers excluded), and lists all 17 classes', async () => {
    const out = await analyze(VTEST, path.join(REPO_ROOT, 'fixtures', 'cameras', 'vtest-crowd.yaml'));
    // vtest.avi holds 6+ people on the walkway at times, all of them walking past: a gathering is
    // a cluster of people standing still (issue 11), so no crowd case may open here.
    expect(out.events.filter((e) => e.transition === 'confirmed')).toEqual([]);
    expect(out.summary.frames).toBeGreaterThan(100);
    expect(out.summary.classes.map((c) => c.id)).toHaveLength(17);
    const inactive = out.summary.classes.filter((c) => !c.active && c.reason.startsWith('needs label'));
    // The three classes without a shipped model, plus illegal_advertising: this camera has no wall
    // zone, so no OCR detector is loaded for it.
    expect(inactive.map((c) => c.id).sort()).toEqual([
      'clothes_drying',
      'construction_hoarding',
      'illegal_advertising',
      'muck_truck_uncovered',
    ]);
    expect(out.stderr).toMatch(/classes \(\d+\/17 active\)/);
  });
});
