// Suppressions made from rejected cases: the padded polygon, the footprint test, and the rules
// engine refusing a suppressed subject (rule 'suppressed') through the real tracker and debouncer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Box, Detection, FrameDetections, ViolationEvent } from '../types.js';
import { cameraConfigSchema, type CameraConfigInput } from './config-schema.js';
import { RulesEngine, type Refusal } from './engine.js';
import { suppressionFor, suppressionPolygon } from './suppressions.js';
import { TrackingStage } from '../track/tracking-stage.js';

// detect → track → rules, as CameraAnalyzer composes them: one tracking stage per engine.
const stages = new WeakMap<RulesEngine, TrackingStage>();
function step(engine: RulesEngine, f: FrameDetections): ViolationEvent[] {
  let tracking = stages.get(engine);
  if (!tracking) stages.set(engine, (tracking = new TrackingStage()));
  return engine.process(f, tracking.update(f, engine.trackingScope(f)));
}

const yolox = JSON.parse(readFileSync(new URL('../../models/yolox_nano.json', import.meta.url), 'utf8')) as { labels: string[] };
const LABELS = new Set([...yolox.labels, 'static_object', 'text']);
const W = 640;
const H = 480;
const CAR: Box = { x1: 100, y1: 200, x2: 200, y2: 260 };

const det = (label: string, box: Box): Detection => ({
  label,
  classId: yolox.labels.indexOf(label),
  score: 0.8,
  box,
  frameTime: 0,
  model: 'yolox_nano',
});
const frame = (i: number, dets: Detection[]): FrameDetections => ({
  frameIndex: i,
  streamTime: i / 2,
  wallTime: 1_717_207_200_000 + i * 500,
  sourceWidth: W,
  sourceHeight: H,
  detections: dets.map((d) => ({ ...d, frameTime: i / 2 })),
});

const config = (extra: Partial<CameraConfigInput> = {}) =>
  cameraConfigSchema.parse({
    camera: { id: 'cam1' },
    zones: [
      {
        id: 'np',
        type: 'no_parking',
        polygon: [
          [0, 0],
          [0.5, 0],
          [0.5, 1],
          [0, 1],
        ],
      },
    ],
    classes: { illegal_parking: { minDwellSec: 20, minHits: 6, window: 10, maxGapSec: 15 } },
    ...extra,
  });

describe('suppressionPolygon', () => {
  it('pads the union of the boxes by a fraction of its size per side, normalised and clamped', () => {
    // 226 × 94 px box in a 768 × 576 frame, 10 % padding: 22.6 px and 9.4 px per side.
    expect(suppressionPolygon([{ x1: 466, y1: 78, x2: 692, y2: 172 }], { width: 768, height: 576 })).toEqual([
      [0.5773, 0.1191],
      [0.9305, 0.1191],
      [0.9305, 0.3149],
      [0.5773, 0.3149],
    ]);
    // Two boxes (a group): their union; padding 0 is the exact union; clamped at the frame edge.
    expect(
      suppressionPolygon(
        [
          { x1: 0, y1: 240, x2: 64, y2: 480 },
          { x1: 64, y1: 300, x2: 320, y2: 400 },
        ],
        { width: 640, height: 480 },
        0,
      ),
    ).toEqual([
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [0, 1],
    ]);
    expect(suppressionPolygon([{ x1: 0, y1: 240, x2: 64, y2: 480 }], { width: 640, height: 480 }, 0.5)).toEqual([
      [0, 0.25],
      [0.15, 0.25],
      [0.15, 1],
      [0, 1],
    ]);
  });

  it('has no polygon for no box or degenerate boxes, and refuses a bad frame size', () => {
    expect(suppressionPolygon([], { width: 640, height: 480 })).toBeNull();
    expect(suppressionPolygon([{ x1: 10, y1: 10, x2: 10, y2: 50 }], { width: 640, height: 480 })).toBeNull();
    expect(() => suppressionPolygon([CAR], { width: 0, height: 480 })).toThrow(/frame size/);
  });

  it('matches a subject of the same class whose footprint is inside', () => {
    const list = [
      {
        id: 's1',
        classId: 'illegal_parking',
        polygon: [
          [0.1, 0.3],
          [0.4, 0.3],
          [0.4, 0.6],
          [0.1, 0.6],
        ] as [number, number][],
      },
    ];
    // CAR's footprint: (150, 260) px = (0.234, 0.542).
    expect(suppressionFor(list, 'illegal_parking', CAR, W, H)?.id).toBe('s1');
    expect(suppressionFor(list, 'street_vending', CAR, W, H)).toBeNull();
    // Same box lower down: footprint at y 0.667, outside.
    expect(suppressionFor(list, 'illegal_parking', { ...CAR, y1: 260, y2: 320 }, W, H)).toBeNull();
    expect(suppressionFor(undefined, 'illegal_parking', CAR, W, H)).toBeNull();
  });
});

describe('RulesEngine with suppressions', () => {
  const run = (engine: RulesEngine, n: number) => {
    const events: ViolationEvent[] = [];
    for (let i = 0; i < n; i++) events.push(...step(engine, frame(i, [det('car', CAR)])));
    return events;
  };

  it('refuses a suppressed subject with rule "suppressed" (no case), while the same car elsewhere, or another class there, is unaffected', () => {
    const sup = {
      id: 'sup_1',
      classId: 'illegal_parking',
      polygon: suppressionPolygon([CAR], { width: W, height: H })!,
      createdFrom: 'case_ab',
      reason: 'a parking bay',
    };
    const refusals: Refusal[] = [];
    const engine = new RulesEngine(config({ suppressions: [sup] }), { availableLabels: LABELS, onRefusal: (r) => refusals.push(r) });
    const events = run(engine, 81);
    expect(events).toEqual([]);
    expect(refusals.length).toBeGreaterThan(70);
    // The operator's suppression is checked before the heuristics: every refusal names it.
    expect(new Set(refusals.map((r) => r.rule))).toEqual(new Set(['suppressed']));
    const { qualification, ...last } = refusals[refusals.length - 1]!;
    expect(last).toEqual({
      time: 40,
      classId: 'illegal_parking',
      zoneId: 'np',
      subject: 't1',
      rule: 'suppressed',
      detail: 'footprint inside suppression sup_1 (from rejected case_ab: a parking bay)',
    });
    // The decision record says the same: refused by the suppression, before any other check ran.
    expect(qualification.refused).toEqual({
      rule: 'suppressed',
      detail: 'footprint inside suppression sup_1 (from rejected case_ab: a parking bay)',
      time: 40,
    });
    expect(qualification.stationarySince).toBeUndefined();
    expect(engine.lastDecisions).toEqual([
      {
        subject: 't1',
        trackId: 1,
        label: 'car',
        classId: 'illegal_parking',
        zoneId: 'np',
        hit: false,
        phase: null,
        rule: 'suppressed',
        detail: 'footprint inside suppression sup_1 (from rejected case_ab: a parking bay)',
      },
    ]);

    // The suppression is per class: one for another class does not stop this one.
    const other = new RulesEngine(config({ suppressions: [{ ...sup, classId: 'street_vending' }] }), { availableLabels: LABELS });
    expect(run(other, 81).map((e) => `${e.transition}@${e.streamTime}`)).toEqual(['confirmed@20', 'active@20.5']);
    expect(other.lastDecisions).toEqual([
      { subject: 't1', trackId: 1, label: 'car', classId: 'illegal_parking', zoneId: 'np', hit: true, phase: 'active' },
    ]);
  });

  it('hot reload: a suppression added to a running engine stops the open candidate from confirming', () => {
    const engine = new RulesEngine(config(), { availableLabels: LABELS });
    const early = [] as ViolationEvent[];
    for (let i = 0; i < 20; i++) early.push(...step(engine, frame(i, [det('car', CAR)])));
    expect(early).toEqual([]);
    expect(engine.lastDecisions[0]).toMatchObject({ hit: true, phase: 'candidate' });
    engine.setConfig(
      config({ suppressions: [{ id: 'sup_2', classId: 'illegal_parking', polygon: suppressionPolygon([CAR], { width: W, height: H })! }] }),
    );
    const later = [] as ViolationEvent[];
    for (let i = 20; i < 81; i++) later.push(...step(engine, frame(i, [det('car', CAR)])));
    expect(later.filter((e) => e.transition === 'confirmed')).toEqual([]);
    expect(engine.lastDecisions[0]).toMatchObject({ hit: false, rule: 'suppressed', detail: 'footprint inside suppression sup_2' });
  });

  it('the config schema checks suppressions: known class, valid polygon, unique ids', () => {
    const bad = cameraConfigSchema.safeParse({
      camera: { id: 'c' },
      suppressions: [
        {
          id: 'a',
          classId: 'no_such_class',
          polygon: [
            [0, 0],
            [1, 0],
            [1, 1],
          ],
        },
        {
          id: 'a',
          classId: 'illegal_parking',
          polygon: [
            [0, 0],
            [1, 1],
            [1, 0],
            [0, 1],
          ],
        },
      ],
    });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^suppressions\.1\.polygon: the polygon is self-intersecting/),
        'suppressions.1.id: duplicate suppression id "a"',
        expect.stringMatching(/^suppressions\.0\.classId: unknown violation class "no_such_class"/),
      ]),
    );
    expect(issues).toHaveLength(3);
  });
});
