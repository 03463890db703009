// Rule behaviour on detections measured on real footage (../shared/footage, yolox_nano at 2 fps),
// reduced to the frames and labels each rule needs (pipeline/rules/testdata/*.json, made from a
// replay's recorded detections). Each test pins the exact outcome on the real sequence, with the
// camera config of the real suite (fixtures/real), so a rule change that would bring back the
// failure the clip exposed fails here without the video or the model.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Detection, FrameDetections, ViolationEvent } from '../types.js';
import { cameraConfigSchema, type CameraConfig } from './config-schema.js';
import { borderCut, RulesEngine, type Refusal } from './engine.js';
import { DEFAULT_INSIDE_MARGIN, membershipDetail, zoneContains } from './zones.js';
import { TrackingStage } from '../track/tracking-stage.js';

const yolox = JSON.parse(readFileSync(new URL('../../models/yolox_nano.json', import.meta.url), 'utf8')) as { labels: string[] };
const LABELS = new Set([...yolox.labels, 'static_object', 'text']);
const WALL0 = Date.parse('2024-06-01T10:00:00+08:00');

interface Measured {
  width: number;
  height: number;
  frames: [number, [string, number, number, number, number, number][]][];
}

const measured = (name: string): Measured =>
  JSON.parse(readFileSync(new URL(`./testdata/${name}.json`, import.meta.url), 'utf8')) as Measured;
const realConfig = (id: string, dir = ''): CameraConfig =>
  cameraConfigSchema.parse(JSON.parse(readFileSync(new URL(`../../fixtures/real/${dir}${id}.camera.json`, import.meta.url), 'utf8')));

function frames(m: Measured, every = 0): FrameDetections[] {
  const out: FrameDetections[] = [];
  let last = -Infinity;
  m.frames.forEach(([t, dets], i) => {
    if (every > 0 && t - last < every - 1e-6) return;
    last = t;
    out.push({
      frameIndex: i,
      streamTime: t,
      wallTime: WALL0 + t * 1000,
      sourceWidth: m.width,
      sourceHeight: m.height,
      detections: dets.map(([label, score, x1, y1, x2, y2]): Detection => ({
        label,
        classId: yolox.labels.indexOf(label),
        score,
        box: { x1, y1, x2, y2 },
        frameTime: t,
        model: 'yolox_nano',
      })),
    });
  });
  return out;
}

/** track → rules over the measured detections, composed as CameraAnalyzer.process composes them. */
function replay(config: CameraConfig, fs: FrameDetections[], onRefusal?: (r: Refusal) => void): ViolationEvent[] {
  const engine = new RulesEngine(config, { availableLabels: LABELS, ...(onRefusal ? { onRefusal } : {}) });
  const tracking = TrackingStage.forCamera(config.analysis);
  const events: ViolationEvent[] = [];
  for (const f of fs) events.push(...engine.process(f, tracking.update(f, engine.trackingScope(f))));
  events.push(...engine.flush(fs[fs.length - 1]!.streamTime));
  return events;
}

const confirmed = (evs: ViolationEvent[], classId: string) => evs.filter((e) => e.classId === classId && e.transition === 'confirmed');

describe('rules on measured real sequences', () => {
  it('pedestrian street: 10–20 people walking over the frame are not a crowd (walkers excluded, no standing cluster)', () => {
    const m = measured('pedestrian_street_persons');
    const fs = frames(m);
    // What the old raw-detection count saw: ≥ 6 confident persons in the zone in every frame.
    const raw = fs.map((f) => f.detections.filter((d) => d.score >= 0.3).length);
    expect(Math.min(...raw)).toBeGreaterThanOrEqual(6);
    const refusals: Refusal[] = [];
    const events = replay(realConfig('pedestrian_street'), fs, (r) => refusals.push(r));
    expect(confirmed(events, 'crowd_gathering')).toEqual([]);
    expect(confirmed(events, 'street_vending')).toEqual([]);
    // The walkers are refused as not stationary, with the rule named.
    expect(refusals.filter((r) => r.classId === 'street_vending').every((r) => r.rule === 'not_stationary' || r.rule === 'min_score')).toBe(
      true,
    );
    expect(refusals.some((r) => r.classId === 'street_vending' && r.rule === 'not_stationary')).toBe(true);
  });

  it('two men talking: one group, one street_vending episode (not one per man), and not a crowd', () => {
    const fs = frames(measured('two_men_persons'));
    const refusals: Refusal[] = [];
    const events = replay(realConfig('two_men'), fs, (r) => refusals.push(r));
    const sv = confirmed(events, 'street_vending');
    expect(sv).toHaveLength(1);
    expect(sv[0]!.streamTime).toBe(12);
    expect(sv[0]!.start).toBe(0);
    expect(sv[0]!.reason.trackIds).toEqual([1, 2]);
    expect(sv[0]!.boxes).toHaveLength(2);
    expect(new Set(events.filter((e) => e.classId === 'street_vending').map((e) => e.episodeId)).size).toBe(1);
    // Two men and a reflection stand still: a cluster of 3 is refused against minCount 6.
    expect(confirmed(events, 'crowd_gathering')).toEqual([]);
    const crowd = refusals.filter((r) => r.rule === 'cluster');
    expect(crowd.length).toBeGreaterThan(20);
    expect(crowd[0]!.detail).toMatch(/^largest standing cluster \d < 6 \(\d standing, \d walking excluded\)$/);
  });

  it('indoor: people standing one after another in one spot are separate episodes (the one who walked off is not continued)', () => {
    const events = replay(realConfig('indoor_stand'), frames(measured('indoor_stand_persons')));
    const sv = confirmed(events, 'street_vending');
    expect(sv.map((e) => [e.reason.subject, e.start, e.streamTime])).toEqual([
      ['t2', 23.5, 35.5], // P2 24–42 s
      ['t3', 51, 63], // P3 52–67 s
      ['t6', 93, 105], // P5 94–117 s
    ]);
    const cleared = events.filter(
      (e) => e.classId === 'street_vending' && e.transition === 'cleared' && sv.some((c) => c.episodeId === e.episodeId),
    );
    expect(cleared.map((e) => e.end)).toEqual([43.5, 68.5, 118]);
    // P4 (8 s) and P6 (9 s) stand shorter than the 12 s dwell.
    expect(sv).toHaveLength(3);
  });

  it('indoor at 0.25 fps (a frame every 4 s): a stand confirms from the share of minHits the rate allows (3 frames)', () => {
    const fs = frames(measured('indoor_stand_persons'), 4);
    expect(fs[1]!.streamTime - fs[0]!.streamTime).toBe(4);
    const events = replay(realConfig('indoor_stand'), fs);
    const sv = confirmed(events, 'street_vending');
    // P2: track confirmed at 34 s (3 frames), stationary since 26 s. At 42 s the 16 s span holds
    // 5 frames at 0.25 fps, so 12/20 of them (3) are needed and seen. With minHits 12 counted in
    // frames it needed 12 frames = 48 s: never within a 19 s stand.
    expect(sv.map((e) => [e.reason.subject, e.start, e.streamTime, e.reason.hits])).toEqual([['t2', 26, 42, 3]]);
    // Known limit: at this rate nobody is seen walking off, so P3 and P5, standing in P2's spot
    // within mergeWindowSec, continue P2's cleared episode (no new case) instead of opening theirs.
    expect(new Set(events.filter((e) => e.classId === 'street_vending').map((e) => e.episodeId)).size).toBe(1);
  });

  it('two men at 0.25 fps with a missed detection: the track survives the 8 s gap (lost tracks kept ≥ 2.5 frame intervals)', () => {
    const m = measured('two_men_persons');
    // Every 4 s, and man 1 (x1 150–280) missed by the detector at 16 s.
    const thinned: Measured = {
      ...m,
      frames: m.frames.filter(([t]) => t % 4 === 0).map(([t, ds]) => [t, t === 16 ? ds.filter((d) => d[2] >= 280 || d[2] < 150) : ds]),
    };
    const fs = frames(thinned);
    expect(fs.map((f) => f.streamTime)).toEqual([0, 4, 8, 12, 16, 20]);
    const events = replay(realConfig('two_men'), fs);
    const sv = confirmed(events, 'street_vending');
    expect(sv).toHaveLength(1);
    expect(sv[0]!.start).toBe(0);
    // Both men keep ids 1 and 2 across the gap (with a 3 s lost timeout man 1 came back as a new id).
    expect(sv[0]!.reason.trackIds).toEqual([1, 2]);
    expect(new Set(events.filter((e) => e.classId === 'street_vending').flatMap((e) => e.reason.trackIds))).toEqual(new Set([1, 2]));
  });

  it('a person cut by the left, right or bottom frame border is not a person-dwell subject; a head cut by the top is', () => {
    expect(borderCut({ x1: 383, y1: 1, x2: 519, y2: 405 }, 768, 432)).toBeNull(); // indoor P6, head at the top
    expect(borderCut({ x1: 597, y1: 17, x2: 768, y2: 368 }, 768, 432)).toBe('right'); // indoor P1 walking out
    expect(borderCut({ x1: 1, y1: 62, x2: 49, y2: 262 }, 596, 336)).toBe('left'); // two_men, reflection at the edge
    // The measured two_men sequence moved to the right border: refused with the rule and numbers.
    const m = measured('two_men_persons');
    const shifted: Measured = {
      ...m,
      frames: m.frames.map(([t, ds]) => [
        t,
        ds.map(([l, s, x1, y1, x2, y2]) => (x1 >= 280 ? [l, s, x1 + (596 - x2), y1, 596, y2] : [l, s, x1, y1, x2, y2])),
      ]),
    };
    const refusals: Refusal[] = [];
    const base = realConfig('two_men');
    const config = cameraConfigSchema.parse({
      ...base,
      zones: base.zones.map((z) =>
        z.id === 'pavement'
          ? {
              ...z,
              polygon: [
                [0.3, 0.5],
                [1, 0.5],
                [1, 1],
                [0.3, 1],
              ],
            }
          : z,
      ),
    });
    const events = replay(config, frames(shifted), (r) => refusals.push(r));
    const sv = confirmed(events, 'street_vending');
    expect(sv).toHaveLength(1);
    expect(sv[0]!.reason.trackIds).toEqual([1]);
    expect(refusals.some((r) => r.rule === 'border_cut' && r.detail === 'box touches the right frame border (allowBorderCut false)')).toBe(
      true,
    );
    const allowed = cameraConfigSchema.parse({
      ...config,
      classes: { ...config.classes, street_vending: { ...config.classes.street_vending, allowBorderCut: true } },
    });
    // Allowed: the man at the border is a subject too (too far from the other to be one group).
    expect(confirmed(replay(allowed, frames(shifted)), 'street_vending').map((e) => e.reason.trackIds)).toEqual([[1], [2]]);
  });

  it('a bag set down by a person standing next to it is not left until that person has gone; its dwell counts from then', () => {
    // Measured: P5 stands at the table 94–118 s, then walks off; P6 comes in at 124 s (indoor clip).
    // Placed: a bag-sized static blob at P5's feet from 95 s on, as the static-change detector
    // reports one (blobId, firstSeen). Without owner/object separation it confirmed at 103 s,
    // back-dated to 95 s, while its owner was still standing by it.
    const m = measured('indoor_stand_persons');
    const fs = frames(m).filter((f) => f.streamTime >= 90 && f.streamTime <= 128); // P3 arrives at the same spot at 50.5 s
    const bag = { x1: 540, y1: 330, x2: 600, y2: 380 };
    for (const f of fs) {
      if (f.streamTime < 95) continue;
      f.detections.push({
        label: 'static_object',
        classId: 0,
        score: 0.8,
        box: bag,
        frameTime: f.streamTime,
        model: 'static-change',
        attributes: { blobId: 1, firstSeen: 95, ageSec: f.streamTime - 95 },
      });
    }
    const base = realConfig('indoor_stand');
    const config = cameraConfigSchema.parse({
      ...base,
      zones: [
        ...base.zones,
        {
          id: 'floor',
          type: 'sidewalk',
          polygon: [
            [0, 0.6],
            [1, 0.6],
            [1, 1],
            [0, 1],
          ],
        },
      ],
      classes: { ...base.classes, exposed_garbage: { minDwellSec: 8 } },
    }); // the suite's static dwell
    const refusals: Refusal[] = [];
    const events = replay(config, fs, (r) => refusals.push(r));
    const eg = confirmed(events, 'exposed_garbage');
    const attended = refusals.filter((r) => r.classId === 'exposed_garbage' && r.rule === 'attended');
    expect(attended.length).toBeGreaterThan(0);
    expect(attended[0]!.detail).toMatch(/^person track \d+ standing \d+ px from it \(≤ 0\.5 × its height \d+ px\)$/);
    const lastAttended = attended[attended.length - 1]!.time;
    expect(lastAttended).toBeGreaterThanOrEqual(117);
    expect(lastAttended).toBeLessThanOrEqual(120);
    expect(eg).toHaveLength(1);
    expect(eg[0]!.start).toBe(lastAttended);
    expect(eg[0]!.streamTime).toBe(lastAttended + 8);
  });

  it('residential road: a car at the kerb whose box bottom touches the lane edge flips into the no-parking lane far less; the queue never confirms', () => {
    const m = measured('residential_queue_vehicles');
    const config = realConfig('residential_queue');
    const lane = config.zones[0]!;
    // The car parked at the left kerb near the junction, as measured in every frame it was found.
    const kerbCar = m.frames
      .flatMap(([, ds]) =>
        ds.filter(([l, sc, x1, , , y2]) => l === 'car' && sc >= 0.35 && x1 >= 195 && x1 <= 215 && y2 >= 125 && y2 <= 145),
      )
      .map(([, , x1, y1, x2, y2]) => ({ x1, y1, x2, y2 }));
    expect(kerbCar.length).toBeGreaterThanOrEqual(5);
    const plain = kerbCar.map((b) => zoneContains(lane, b, m.width, m.height));
    const margined = kerbCar.map((b) => zoneContains(lane, b, m.width, m.height, DEFAULT_INSIDE_MARGIN));
    // Its footprint jitters −8…+4.4 px around the lane edge. Without a margin it is in the lane on
    // 5 of 12 frames (footprint < 1 px inside on 3 of them); with the tracked-object margin
    // (0.1 × box height ≈ 3 px) only on the 2 frames it is > 4 px inside. Reduced, not removed:
    // the jitter of a 28 px car is larger than the default margin (see the README).
    expect([kerbCar.length, plain.filter(Boolean).length, margined.filter(Boolean).length]).toEqual([12, 5, 2]);
    const edge = kerbCar.find((b, i) => plain[i] && !margined[i])!;
    const detail = membershipDetail(lane, edge, m.width, m.height, DEFAULT_INSIDE_MARGIN);
    expect(detail.depthPx as number).toBeLessThan(detail.marginPx as number);
    // The three cars queueing at the light (stationary 0–~20.5 s) stay candidates at the suite's 25 s dwell.
    const events = replay(config, frames(m));
    expect(confirmed(events, 'illegal_parking')).toEqual([]);
  });
});
