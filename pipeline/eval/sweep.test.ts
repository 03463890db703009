import { describe, expect, it } from 'vitest';
import { cameraConfigSchema } from '../rules/config-schema.js';
import { parseSweepSpec, rangeValues, SweepSpecError, withOverride } from './sweep.js';

describe('parseSweepSpec', () => {
  it('parses a range with step, inclusive of the end when it lands on it', () => {
    expect(parseSweepSpec('illegal_parking.minDwellSec=4..20:4')).toEqual({
      text: 'illegal_parking.minDwellSec=4..20:4',
      classId: 'illegal_parking',
      param: 'minDwellSec',
      values: [4, 8, 12, 16, 20],
    });
    expect(parseSweepSpec('illegal_parking.minDwellSec=4..18:4').values).toEqual([4, 8, 12, 16]);
    expect(parseSweepSpec('crowd_gathering.minCount=3..5').values).toEqual([3, 4, 5]);
  });
  it('float steps land on clean values', () => {
    expect(rangeValues(0.1, 0.5, 0.1)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
  });
  it('parses a value list, sorted', () => {
    expect(parseSweepSpec('street_vending.minScore=0.5,0.3,0.4').values).toEqual([0.3, 0.4, 0.5]);
  });
  it.each([
    ['illegal_parking.minDwellSec', /expected class.param=/],
    ['parking.minDwellSec=1..2', /unknown class "parking"/],
    ['illegal_parking.capacity=1..2', /"capacity" cannot be swept/],
    ['illegal_parking.minDwellSec=8..4:2', /below its start/],
    ['illegal_parking.minDwellSec=0..10:0', /step must be > 0/],
    ['illegal_parking.minDwellSec=0..1000:1', /max 200/],
    ['illegal_parking.minScore=0.5..1.5:0.5', /value 1.5: minScore/],
    ['illegal_parking.minHits=1.5,2', /value 1.5: minHits/],
    ['illegal_parking.minDwellSec=a..4', /range start "a" is not a number/],
    ['illegal_parking.minDwellSec=4,4', /values repeat/],
  ])('rejects %s', (spec, why) => {
    expect(() => parseSweepSpec(spec)).toThrow(SweepSpecError);
    expect(() => parseSweepSpec(spec)).toThrow(why);
  });
});

describe('withOverride', () => {
  const cfg = cameraConfigSchema.parse({ camera: { id: 'c' }, classes: { illegal_parking: { minDwellSec: 8, minHits: 4 } } });
  it('replaces one threshold and keeps the rest of the class override and config', () => {
    const out = withOverride(cfg, 'illegal_parking', 'minDwellSec', 20);
    expect(out.classes.illegal_parking).toEqual({ minDwellSec: 20, minHits: 4 });
    expect(cfg.classes.illegal_parking!.minDwellSec).toBe(8);
    expect(out.analysis).toEqual(cfg.analysis);
  });
  it('adds an override for a class the config did not mention', () => {
    expect(withOverride(cfg, 'crowd_gathering', 'minCount', 5).classes.crowd_gathering).toEqual({ minCount: 5 });
  });
});
