// Synthetic detection sequences through the real tracker, zones and debouncer (no mocks), composed
// track → rules as CameraAnalyzer composes them after detection.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Box, Detection, FrameDetections, ViolationEvent } from '../types.js';
import { cameraConfigSchema, type CameraConfig, type CameraConfigInput } from './config-schema.js';
import { RulesEngine, type Refusal, type RulesEngineOptions } from './engine.js';
import { TrackingStage } from '../track/tracking-stage.js';

const yolox = JSON.parse(readFileSync(new URL('../../models/yolox_nano.json', import.meta.url), 'utf8')) as { labels: string[] };
const LABELS = new Set([...yolox.labels, 'static_object', 'text']);

const W = 640;
const H = 480;
const FPS = 2;
// Saturday 2024-06-01 10:00 in Asia/Shanghai.
const WALL0 = Date.parse('2024-06-01T10:00:00+08:00');

const LEFT = [
  [0, 0],
  [0.5, 0],
  [0.5, 1],
  [0, 1],
] as [number, number][];
const RIGHT = [
  [0.5, 0],
  [1, 0],
  [1, 1],
  [0.5, 1],
] as [number, number][];

function cfg(input: Partial<CameraConfigInput> = {}): CameraConfig {
  return cameraConfigSchema.parse({ camera: { id: 'cam1' }, ...input });
}

function det(label: string, box: Box, score = 0.8, attributes?: Record<string, unknown>): Detection {
  const d: Detection = { label, classId: yolox.labels.indexOf(label), score, box, frameTime: 0, model: 'yolox_nano' };
  if (attributes) d.attributes = attributes;
  return d;
}

const frame = (i: number, dets: Detection[], wall0 = WALL0): FrameDetections => ({
  frameIndex: i,
  streamTime: i / FPS,
  wallTime: wall0 + (i * 1000) / FPS,
  sourceWidth: W,
  sourceHeight: H,
  detections: dets.map((d) => ({ ...d, frameTime: i / FPS })),
});

/** The tracking stage and the rules engine of one camera, fed as CameraAnalyzer.process feeds them. */
function rig(config: CameraConfig, opts: RulesEngineOptions) {
  const engine = new RulesEngine(config, opts);
  const tracking = TrackingStage.forCamera(config.analysis);
  return {
    engine,
    tracking,
    process: (f: FrameDetections) => engine.process(f, tracking.update(f, engine.trackingScope(f))),
    flush: (time: number, wallTime?: number) => {
      const events = engine.flush(time, wallTime);
      tracking.reset();
      return events;
    },
    setConfig: (c: CameraConfig) => engine.setConfig(c),
    classStatus: () => engine.classStatus(),
  };
}
type Rig = ReturnType<typeof rig>;

/** Runs frames 0..n-1 with detections from `at(i)`; returns all events (+ the engine). */
function run(engine: Rig, n: number, at: (i: number) => Detection[], from = 0, wall0 = WALL0) {
  const events: ViolationEvent[] = [];
  for (let i = from; i < from + n; i++) events.push(...engine.process(frame(i, at(i), wall0)));
  return events;
}

const summary = (evs: ViolationEvent[]) => evs.map((e) => `${e.classId}:${e.transition}@${e.streamTime}`);
const CAR: Box = { x1: 100, y1: 200, x2: 200, y2: 260 };

const parkingCfg = (over: Record<string, unknown> = {}) =>
  cfg({
    zones: [{ id: 'np', type: 'no_parking', polygon: LEFT }],
    classes: { illegal_parking: { minDwellSec: 20, minHits: 6, window: 10, maxGapSec: 15, ...over } },
  });

describe('RulesEngine', () => {
  it('a parked car in a no_parking zone gives exactly one confirmed episode at the right time', () => {
    const engine = rig(parkingCfg(), { availableLabels: LABELS });
    const events = run(engine, 81, () => [det('car', CAR)]); // t = 0 … 40 s
    // Track confirmed at t=1 (3 hits), stationary once observed over the whole 5 s window (t=5),
    // which says it has not moved since t=0: the episode is back-dated to 0, dwell 20 s at t=20.
    expect(summary(events)).toEqual(['illegal_parking:confirmed@20', 'illegal_parking:active@20.5']);
    const c = events[0]!;
    expect(c.cameraId).toBe('cam1');
    expect(c.start).toBe(0);
    expect(c.wallTime).toBe(WALL0 + 20_000);
    expect(c.boxes).toEqual([CAR]);
    expect(c.reason).toMatchObject({
      zoneId: 'np',
      zoneType: 'no_parking',
      subject: 't1',
      trackIds: [1],
      dwellSec: 20,
      hits: 10,
      window: 10,
      medianScore: 0.8,
    });
    expect(c.reason.thresholds.minDwellSec).toBe(20);
    expect(events[1]!.episodeId).toBe(c.episodeId);
    const end = engine.flush(40.5);
    expect(end.map((e) => [e.transition, e.episodeId, e.end])).toEqual([['cleared', c.episodeId, 40]]);
  });

  it('replays deterministically: same frames, same ids', () => {
    const a = run(rig(parkingCfg(), { availableLabels: LABELS }), 60, () => [det('car', CAR)]);
    const b = run(rig(parkingCfg(), { availableLabels: LABELS }), 60, () => [det('car', CAR)]);
    expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('a car driving through the zone, or stopping briefly, never fires', () => {
    const engine = rig(parkingCfg(), { availableLabels: LABELS, emitCandidates: true });
    // 15 px per frame left to right, a 12 s stop inside the zone (< 20 s dwell), then on and out of view.
    const x = (i: number) => (i < 10 ? i * 15 : i < 34 ? 150 : 150 + (i - 34) * 15);
    const events = run(engine, 80, (i) => (x(i) > W ? [] : [det('car', { x1: x(i), y1: 200, x2: x(i) + 100, y2: 260 })]));
    expect(events.filter((e) => e.transition === 'confirmed')).toEqual([]);
    // The stop did make a candidate (so the test can fail) that then lapsed.
    expect(events.map((e) => e.transition)).toEqual(['candidate', 'cleared']);
    expect(engine.flush(40)).toEqual([]);
  });

  it('keeps the episode when the tracker loses the car behind an occluder and re-finds it under a new id', () => {
    const engine = rig(parkingCfg(), { availableLabels: LABELS });
    // Visible 0–12 s, hidden 12.5–17.5 s (longer than the tracker's 3 s lost timeout), back from 18 s.
    const events = run(engine, 81, (i) => (i > 24 && i < 36 ? [] : [det('car', CAR)]));
    const confirmed = events.filter((e) => e.transition === 'confirmed');
    expect(confirmed).toHaveLength(1);
    expect(events.filter((e) => e.transition === 'cleared')).toEqual([]);
    expect(confirmed[0]!.start).toBe(0);
    expect(confirmed[0]!.reason.trackIds).toEqual([1, 2]);
    expect(new Set(events.map((e) => e.episodeId)).size).toBe(1);
  });

  it('does not continue a vanished subject with a newcomer in the same spot whose colours clearly differ', () => {
    const red = [1, 0, 0, 0];
    const redish = [0.8, 0.2, 0, 0];
    const blue = [0, 0, 1, 0];
    const withColour = (a: number[]) => ({ ...det('car', CAR), appearance: a });
    // As the occlusion above: visible 0–12 s, gone 12.5–17.5 s, in the same spot from 18 s.
    const same = run(rig(parkingCfg(), { availableLabels: LABELS }), 81, (i) =>
      i > 24 && i < 36 ? [] : [withColour(i <= 24 ? red : redish)],
    );
    // Hellinger(red, redish) = sqrt(1 − sqrt(0.8)) = 0.3249 ≤ 0.5: the same car back.
    const sameConfirmed = same.filter((e) => e.transition === 'confirmed');
    expect(sameConfirmed.map((e) => [e.start, e.reason.trackIds])).toEqual([[0, [1, 2]]]);
    expect(sameConfirmed[0]!.reason.qualification!.notContinued).toBeUndefined();

    const other = run(rig(parkingCfg(), { availableLabels: LABELS }), 81, (i) =>
      i > 24 && i < 36 ? [] : [withColour(i <= 24 ? red : blue)],
    );
    // Another car: its own episode, dwell from when it stood (18 s), and the record says why.
    const otherConfirmed = other.filter((e) => e.transition === 'confirmed');
    expect(otherConfirmed.map((e) => [e.start, e.streamTime, e.reason.subject, e.reason.trackIds])).toEqual([[18, 38, 't2', [2]]]);
    expect(otherConfirmed[0]!.reason.qualification!.notContinued).toEqual({ subject: 't1', appearanceDistance: 1, maxDistance: 0.5 });
    // A looser limit continues it, as before appearance existed.
    const loose = run(rig(parkingCfg(), { availableLabels: LABELS, reassociateMaxAppearance: 1 }), 81, (i) =>
      i > 24 && i < 36 ? [] : [withColour(i <= 24 ? red : blue)],
    );
    expect(loose.filter((e) => e.transition === 'confirmed').map((e) => e.start)).toEqual([0]);
    // The same limit from the camera config (analysis.reassociation), as an operator sets it.
    const fromConfig = cfg({ ...parkingCfg(), analysis: { reassociation: { maxAppearanceDistance: 1 } } } as Partial<CameraConfigInput>);
    const configured = run(rig(fromConfig, { availableLabels: LABELS }), 81, (i) =>
      i > 24 && i < 36 ? [] : [withColour(i <= 24 ? red : blue)],
    );
    expect(configured.filter((e) => e.transition === 'confirmed').map((e) => e.start)).toEqual([0]);
    expect(() => cfg({ analysis: { reassociation: { maxAppearanceDistance: 0 } } } as Partial<CameraConfigInput>)).toThrow(
      /maxAppearanceDistance/,
    );
    expect(() => rig(parkingCfg(), { availableLabels: LABELS, reassociateMaxAppearance: 0 })).toThrow(/reassociateMaxAppearance/);
  });

  it('a crowd of ≥ minCount persons in a crowd_area raises a crowd event; fewer do not', () => {
    const person = (k: number): Box => ({ x1: 340 + k * 30, y1: 200, x2: 365 + k * 30, y2: 300 });
    const config = cfg({
      zones: [{ id: 'plaza', type: 'crowd_area', polygon: RIGHT }],
      classes: { crowd_gathering: { minDwellSec: 10, minHits: 6, window: 10 } },
    });
    const nine = run(rig(config, { availableLabels: LABELS }), 30, () =>
      Array.from({ length: 9 }, (_, k) => det('person', person(k), 0.7)),
    );
    expect(summary(nine)).toEqual(['crowd_gathering:confirmed@10', 'crowd_gathering:active@10.5']);
    expect(nine[0]!.reason.qualification!.count).toEqual({
      count: 9,
      limit: 8,
      limitSource: 'minCount',
      tracksInZone: 9,
      stationary: 9,
      walkingExcluded: 0,
      clusterGap: 1,
    });
    expect(nine[0]!.extras).toBeUndefined();
    expect(nine[0]!.boxes).toHaveLength(9);
    expect(nine[0]!.reason.subject).toBe('zone');
    expect(nine[0]!.reason.trackIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const seven = run(rig(config, { availableLabels: LABELS }), 30, () =>
      Array.from({ length: 7 }, (_, k) => det('person', person(k), 0.7)),
    );
    expect(seven).toEqual([]);
    // A zone capacity overrides minCount: 9 persons in a plaza that holds 10 is fine.
    const roomy = cfg({ ...config, zones: [{ id: 'plaza', type: 'crowd_area', polygon: RIGHT, capacity: 10 }] });
    expect(
      run(rig(roomy, { availableLabels: LABELS }), 30, () => Array.from({ length: 9 }, (_, k) => det('person', person(k), 0.7))),
    ).toEqual([]);
  });

  it('hot reload applies a new threshold to open tracks and episodes', () => {
    const engine = rig(parkingCfg({ minDwellSec: 60 }), { availableLabels: LABELS });
    const before = run(engine, 31, () => [det('car', CAR)]); // t 0–15: candidate open, back-dated to 0
    expect(before).toEqual([]);
    engine.setConfig(parkingCfg({ minDwellSec: 20 }));
    const after = run(engine, 30, () => [det('car', CAR)], 31);
    // Dwell since 0 already exceeds the new 20 s at the first frame after the reload (t=15.5);
    // the hit window must refill to minHits first.
    expect(summary(after)).toEqual(['illegal_parking:confirmed@20', 'illegal_parking:active@20.5']);
    expect(after[0]!.start).toBe(0);
    expect(after[0]!.reason.trackIds).toEqual([1]);
    expect(after[0]!.reason.thresholds.minDwellSec).toBe(20);
    expect(engine.tracking.tracks.map((t) => [t.id, t.state])).toEqual([[1, 'confirmed']]);

    // Removing the zone clears the open episode; the event comes with the next frame.
    engine.setConfig(cfg({ zones: [], classes: {} }));
    const gone = engine.process(frame(61, [det('car', CAR)]));
    expect(gone.map((e) => [e.transition, e.episodeId, e.reason.note])).toEqual([
      ['cleared', after[0]!.episodeId, 'zone np removed by a config change'],
    ]);
    expect(() => engine.setConfig(cfg({ camera: { id: 'other' } }))).toThrow(/camera id cannot change/);
  });

  it('an exempt schedule window suppresses street vending; outside it the same scene fires', () => {
    const config = cfg({
      zones: [
        {
          id: 'market',
          type: 'no_vending',
          polygon: LEFT,
          schedule: { mode: 'exempt', timezone: 'Asia/Shanghai', windows: [{ days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '12:00' }] },
        },
      ],
      classes: { street_vending: { minDwellSec: 10, minHits: 6, window: 10 } },
    });
    const scene = () => [
      det('person', { x1: 100, y1: 150, x2: 140, y2: 260 }, 0.85),
      det('umbrella', { x1: 80, y1: 100, x2: 170, y2: 150 }, 0.7),
    ];
    const inWindow = run(rig(config, { availableLabels: LABELS, emitCandidates: true }), 40, scene);
    expect(inWindow).toEqual([]);
    const afternoon = Date.parse('2024-06-01T14:00:00+08:00');
    const outside = run(rig(config, { availableLabels: LABELS }), 40, scene, 0, afternoon);
    expect(summary(outside)).toEqual(['street_vending:confirmed@10', 'street_vending:active@10.5']);
    expect(outside[0]!.reason.qualification).toMatchObject({ label: 'person', companions: [{ label: 'umbrella', trackId: 2 }] });
  });

  it('the reason record carries every qualification check with its numbers; a cleared episode names the rule that refused it', () => {
    const config = cfg({
      zones: [{ id: 'nv', type: 'no_vending', polygon: LEFT }],
      classes: { street_vending: { minDwellSec: 10, minHits: 6, window: 10, maxGapSec: 3 } },
    });
    const refusals: Refusal[] = [];
    const engine = rig(config, { availableLabels: LABELS, onRefusal: (r) => refusals.push(r) });
    const person = (i: number): Box =>
      i < 40 ? { x1: 100, y1: 150, x2: 140, y2: 260 } : { x1: 100 + (i - 40) * 12, y1: 150, x2: 140 + (i - 40) * 12, y2: 260 };
    // Stands with an umbrella for 20 s, then walks off to the right (not stationary any more).
    const events = run(engine, 60, (i) => [det('person', person(i), 0.85), det('umbrella', { x1: 80, y1: 100, x2: 170, y2: 150 }, 0.7)]);
    const confirmed = events.find((e) => e.transition === 'confirmed')!;
    expect(confirmed.reason.resumed).toBe(false);
    expect(confirmed.reason.qualification).toEqual({
      label: 'person',
      stationarySince: 0,
      borderCut: { allowed: false, cut: null },
      companions: [{ label: 'umbrella', trackId: 2, box: { x1: 80, y1: 150 - 50, x2: 170, y2: 150 } }],
      yieldsTo: [{ classId: 'mobile_vendor', hit: false }],
      // Footprint (120, 260): 200 px from the zone's only inner edge (x = 320), margin 0.1 × 110 px.
      membership: { mode: 'footprint', insideMargin: 0.1, marginPx: 11, depthPx: 200 },
    });
    expect(confirmed.extras).toBeUndefined();
    const cleared = events.find((e) => e.transition === 'cleared')!;
    expect(cleared.episodeId).toBe(confirmed.episodeId);
    expect(cleared.reason.qualification!.refused).toEqual({
      rule: 'not_stationary',
      detail: 'the tracker does not see it standing still',
      time: expect.any(Number),
    });
    // The refusal trace carries the same record, as far as the checks went.
    const walking = refusals.find((r) => r.rule === 'not_stationary')!;
    expect(walking).toMatchObject({
      classId: 'street_vending',
      zoneId: 'nv',
      subject: 't1',
      qualification: { label: 'person', refused: { rule: 'not_stationary' } },
    });
    expect(walking.qualification.companions).toBeUndefined();
  });

  it('trackingScope names what the tracking stage follows, and refuses a bad frame before anything is tracked', () => {
    const engine = new RulesEngine(parkingCfg(), { availableLabels: LABELS });
    const scope = engine.trackingScope(frame(0, []));
    // Subjects and companions of the active classes with their label families; never the static-change or OCR labels.
    expect(['car', 'truck', 'bus', 'person', 'bicycle', 'motorcycle', 'umbrella'].filter((l) => !scope.labels.has(l))).toEqual([]);
    expect(scope.labels.has('static_object') || scope.labels.has('text')).toBe(false);
    expect(scope.minScore).toBe(parkingCfg().analysis.scoreThreshold);
    expect(() => engine.trackingScope({ ...frame(1, []), sourceWidth: 0 })).toThrow(/source size must be positive/);
  });

  it('a person standing with a bicycle is a mobile vendor, not also a street vendor', () => {
    const config = cfg({
      zones: [{ id: 'nv', type: 'no_vending', polygon: LEFT }],
      classes: { street_vending: { minDwellSec: 10 }, mobile_vendor: { minDwellSec: 10 } },
    });
    const events = run(rig(config, { availableLabels: LABELS }), 40, () => [
      det('person', { x1: 100, y1: 150, x2: 140, y2: 260 }, 0.85),
      det('bicycle', { x1: 140, y1: 200, x2: 220, y2: 262 }, 0.75),
    ]);
    // Dwell (back-dated to 0) reaches 10 s at t=10, but the first hit came at t=5 and 12 hits are needed: t=10.5.
    expect(summary(events)).toEqual(['mobile_vendor:confirmed@10.5', 'mobile_vendor:active@11']);
  });

  it('bike_out_of_fence fires only for a bike outside every bike_fence', () => {
    const config = cfg({
      zones: [
        {
          id: 'walk',
          type: 'sidewalk',
          polygon: [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
          ],
        },
        { id: 'fence', type: 'bike_fence', polygon: LEFT },
      ],
      classes: { bike_out_of_fence: { minDwellSec: 10 } },
    });
    const inside: Box = { x1: 100, y1: 200, x2: 180, y2: 260 };
    const outside: Box = { x1: 400, y1: 200, x2: 480, y2: 260 };
    const events = run(rig(config, { availableLabels: LABELS }), 40, () => [det('bicycle', inside), det('bicycle', outside)]);
    expect(summary(events)).toEqual(['bike_out_of_fence:confirmed@10.5', 'bike_out_of_fence:active@11']);
    expect(events[0]!.boxes).toEqual([outside]);
  });

  it('static blobs and text: flat blob on the road is spillage (not obstruction); wall text carries OCR extras', () => {
    const config = cfg({
      zones: [
        { id: 'road', type: 'roadway', polygon: LEFT },
        { id: 'wall', type: 'wall', polygon: RIGHT },
      ],
      classes: {
        road_spillage: { minDwellSec: 10 },
        road_obstruction: { minDwellSec: 10 },
        illegal_advertising: { minDwellSec: 10, minHits: 4, window: 10 },
      },
    });
    const engine = rig(config, { availableLabels: LABELS });
    const flat: Box = { x1: 50, y1: 300, x2: 250, y2: 340 };
    const heap: Box = { x1: 60, y1: 100, x2: 120, y2: 180 };
    const ad: Box = { x1: 400, y1: 100, x2: 560, y2: 140 };
    const events = run(engine, 30, (i) => [
      det('static_object', flat, 0.9, { blobId: 3, ageSec: 20 + i / 2 }),
      // OCR runs on every other frame only.
      ...(i % 2 === 0 ? [det('text', ad, 0.8, { text: '办证 13800138000', phones: ['13800138000'] })] : []),
    ]);
    expect(summary(events)).toEqual([
      'road_spillage:confirmed@10',
      'illegal_advertising:confirmed@10',
      'road_spillage:active@10.5',
      'illegal_advertising:active@11',
    ]);
    expect(events[0]!.reason.subject).toBe('s3');
    expect(events[0]!.reason.qualification).toMatchObject({ staticAgeSec: 30 });
    expect(events[1]!.extras).toMatchObject({ text: '办证 13800138000', phones: ['13800138000'] });

    const tall = run(rig(config, { availableLabels: LABELS }), 30, () => [det('static_object', heap, 0.9, { blobId: 4, ageSec: 30 })]);
    expect(summary(tall)).toEqual(['road_obstruction:confirmed@10', 'road_obstruction:active@10.5']);
  });

  it('reports class status and rejects frames that go back in time', () => {
    const engine = rig(parkingCfg(), { availableLabels: LABELS });
    expect(engine.classStatus().filter((s) => s.active)).toHaveLength(14);
    engine.process(frame(10, []));
    expect(() => engine.process(frame(9, []))).toThrow(/streamTime 4.5 s is before the previous frame \(5 s\)/);
    expect(() => engine.process({ ...frame(11, []), sourceWidth: 0 })).toThrow(/source size must be positive/);
  });
});
