import { describe, expect, it } from 'vitest';
import { scaleBoxes } from './box-space.js';

describe('scaleBoxes', () => {
  it('maps boxes from a 640x360 substream onto the 1920x1080 main stream', () => {
    expect(scaleBoxes([{ x1: 100, y1: 50, x2: 200, y2: 150 }], { width: 640, height: 360 }, { width: 1920, height: 1080 })).toEqual([
      { x1: 300, y1: 150, x2: 600, y2: 450 },
    ]);
  });
  it('scales each axis by its own ratio (a 4:3 substream of a 16:9 camera)', () => {
    expect(scaleBoxes([{ x1: 64, y1: 48, x2: 320, y2: 240 }], { width: 640, height: 480 }, { width: 1280, height: 720 })).toEqual([
      { x1: 128, y1: 72, x2: 640, y2: 360 },
    ]);
  });
  it('leaves boxes alone when the sizes match or the analysed size is unknown', () => {
    const b = [{ x1: 1, y1: 2, x2: 3, y2: 4 }];
    expect(scaleBoxes(b, { width: 10, height: 10 }, { width: 10, height: 10 })).toEqual(b);
    expect(scaleBoxes(b, null, { width: 10, height: 10 })).toEqual(b);
  });
});
