import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOG, CLASS_IDS, getClass } from './catalog.js';
import { classStatus, effectiveThresholds } from './class-status.js';
import { cameraConfigSchema, ZONE_TYPES, type CameraConfig } from './config-schema.js';

const yolox = JSON.parse(readFileSync(new URL('../../models/yolox_nano.json', import.meta.url), 'utf8')) as { labels: string[] };
const SHIPPED = new Set([...yolox.labels, 'static_object', 'text']);

const config = (extra: Partial<CameraConfig['classes']> = {}): CameraConfig =>
  cameraConfigSchema.parse({
    camera: { id: 'cam1' },
    zones: [
      {
        id: 'np',
        type: 'no_parking',
        polygon: [
          [0, 0],
          [1, 0],
          [1, 1],
        ],
      },
    ],
    classes: extra,
  });

describe('catalog', () => {
  it('holds the 17 agreed classes with unique ids and valid zone types', () => {
    expect(CLASS_IDS).toHaveLength(17);
    expect(new Set(CLASS_IDS).size).toBe(17);
    for (const c of CATALOG) {
      for (const z of [...c.zoneTypes, ...(c.excludedZoneTypes ?? [])]) expect(ZONE_TYPES).toContain(z);
      // Every subject label must be one the class declares it needs, so classStatus is honest.
      for (const l of c.subjectLabels) expect(c.requires.flat()).toContain(l);
      expect(c.defaults.exitMedianScore).toBeLessThan(c.defaults.minMedianScore);
      expect(c.defaults.minHits).toBeLessThanOrEqual(c.defaults.window);
      expect(c.dueHours).toBe(c.urgency === 'urgent' ? 4 : 24);
    }
    expect(
      CATALOG.filter((c) => c.urgency === 'urgent')
        .map((c) => c.id)
        .sort(),
    ).toEqual(['crowd_gathering', 'fire_lane_blocked']);
  });

  it('activates the 14 classes the shipped models can serve and names the missing label of the rest', () => {
    const st = classStatus(SHIPPED, config());
    const inactive = st.filter((s) => !s.active);
    expect(st.filter((s) => s.active)).toHaveLength(14);
    expect(inactive.map((s) => [s.id, s.reason])).toEqual([
      ['muck_truck_uncovered', 'needs label "muck_truck_uncovered" from a model not configured'],
      ['construction_hoarding', 'needs label "construction_hoarding" from a model not configured'],
      ['clothes_drying', 'needs label "clothes_drying" from a model not configured'],
    ]);
    const parking = st.find((s) => s.id === 'illegal_parking')!;
    expect(parking.reason).toBe('active in zone(s) np');
    expect(parking.zoneIds).toEqual(['np']);
    expect(st.find((s) => s.id === 'street_vending')!.reason).toBe('active, but no zone of type no_vending is configured on this camera');
  });

  it('reports label groups: mobile_vendor needs a person and a two-wheeler', () => {
    const st = classStatus(new Set(['person']), config());
    expect(st.find((s) => s.id === 'mobile_vendor')!.reason).toBe('needs label one of "bicycle"/"motorcycle" from a model not configured');
    expect(st.find((s) => s.id === 'street_vending')!.active).toBe(true);
    // COCO alone: static-change classes still run where COCO furniture can stand in (storefront), not elsewhere.
    const coco = classStatus(new Set(yolox.labels), config());
    expect(coco.find((s) => s.id === 'storefront_overflow')!.active).toBe(true);
    expect(coco.find((s) => s.id === 'overflowing_bin')!.reason).toBe('needs label "static_object" from a model not configured');
  });

  it('reports classes disabled in the camera config', () => {
    const st = classStatus(SHIPPED, config({ crowd_gathering: { enabled: false } }));
    expect(st.find((s) => s.id === 'crowd_gathering')).toMatchObject({ active: false, reason: 'disabled in camera config' });
  });

  it('applies overrides over defaults and keeps the hysteresis margin', () => {
    const def = getClass('illegal_parking');
    expect(effectiveThresholds(def)).toEqual(def.defaults);
    const t = effectiveThresholds(def, { minDwellSec: 20, minMedianScore: 0.6, window: 5, minHits: 9, warnAfterSec: 10 });
    expect(t.minDwellSec).toBe(20);
    expect(t.minMedianScore).toBe(0.6);
    expect(t.exitMedianScore).toBeCloseTo(0.6 - (def.defaults.minMedianScore - def.defaults.exitMedianScore), 10);
    expect(t.window).toBe(5);
    expect(t.minHits).toBe(5); // capped at the window it is counted in
    expect(t.warnAfterSec).toBe(10);
    expect(t.maxGapSec).toBe(def.defaults.maxGapSec);
  });

  it('the camera schema rejects an unknown class id, naming it', () => {
    const r = cameraConfigSchema.safeParse({ camera: { id: 'c' }, classes: { ilegal_parking: { minDwellSec: 10 } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['classes', 'ilegal_parking']);
    expect(r.error!.issues[0]!.message).toMatch(/^unknown violation class "ilegal_parking" \(known: street_vending, /);
  });

  it('getClass names the unknown id', () => {
    expect(() => getClass('nope')).toThrow(/unknown violation class "nope"/);
  });
});
