import { describe, expect, it } from 'vitest';
import type { Zone } from './config-schema.js';
import { auxiliaryDetectors, detectorLabels, TEXT_ZONE_TYPES } from './labels.js';

const zone = (type: Zone['type']) => ({ type }) as Zone;

describe('detectorLabels', () => {
  it('adds static_object always and text only when OCR runs and a zone needs it', () => {
    expect([...detectorLabels(['person', 'car'], { zones: [] }, { ocr: true })]).toEqual(['person', 'car', 'static_object']);
    expect([...detectorLabels(['person'], { zones: [zone('wall')] }, { ocr: true })]).toEqual(['person', 'static_object', 'text']);
    expect([...detectorLabels(['person'], { zones: [zone('wall')] }, { ocr: false })]).toEqual(['person', 'static_object']);
  });
  it('derives the zone types from the catalog', () => {
    expect([...TEXT_ZONE_TYPES]).toEqual(['wall']);
    expect(auxiliaryDetectors({ zones: [zone('bin_apron')] })).toEqual({ static: true, text: false });
    expect(auxiliaryDetectors({ zones: [zone('crowd_area')] })).toEqual({ static: false, text: false });
  });
});
