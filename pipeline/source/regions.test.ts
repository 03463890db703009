import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FrameSource } from './ffmpeg-source.js';
import { assembleRegion, regionFilters, regionGeometry, regionRows } from './regions.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

describe('regionGeometry', () => {
  it('crops a 1080p wall zone at source resolution in strips of the model width', () => {
    // The London hoarding zone: x 0.65–1.0, y 0.31–0.6 of 1920x1080.
    const g = regionGeometry(1920, 1080, { x1: 0.65, y1: 0.31, x2: 1, y2: 0.6 }, 960, 416)!;
    expect(g.rect).toEqual({ x: 1248, y: 334, width: 672, height: 314 });
    expect([g.width, g.height, g.scale]).toEqual([672, 314, 1]);
    expect(g.strips).toEqual([
      { x: 0, width: 416 },
      { x: 416, width: 256 },
    ]);
    expect(regionRows(g)).toBe(628);
  });
  it('scales a region larger than maxSide down (even sizes) and keeps the scale', () => {
    const g = regionGeometry(3840, 2160, { x1: 0, y1: 0, x2: 0.5, y2: 0.5 }, 960, 416)!;
    expect(g.rect).toEqual({ x: 0, y: 0, width: 1920, height: 1080 });
    expect([g.width, g.height, g.scale]).toEqual([960, 540, 0.5]);
    expect(g.strips.map((s) => s.width)).toEqual([416, 416, 128]);
  });
  it('clamps to the frame, orders the corners and refuses an empty region', () => {
    expect(regionGeometry(640, 360, { x1: 1.2, y1: 0.5, x2: 0.5, y2: -1 }, 960, 416)!.rect).toEqual({
      x: 320,
      y: 0,
      width: 320,
      height: 180,
    });
    expect(regionGeometry(640, 360, { x1: 0.5, y1: 0.5, x2: 0.5, y2: 0.9 }, 960, 416)).toBeNull();
  });
  it('builds one crop+scale per region and one padded crop per strip', () => {
    const g = regionGeometry(1920, 1080, { x1: 0.65, y1: 0.31, x2: 1, y2: 0.6 }, 960, 416)!;
    expect(regionFilters(g, '[s1]', 'r0_', 416)).toEqual({
      parts: [
        '[s1]crop=672:314:1248:334,scale=672:314:flags=bilinear,setsar=1,split=2[r0_s0][r0_s1]',
        '[r0_s0]crop=416:314:0:0[r0_0]',
        '[r0_s1]crop=256:314:416:0,pad=416:314:0:0[r0_1]',
      ],
      outputs: ['[r0_0]', '[r0_1]'],
    });
  });
  it('reassembles strips into the region image', () => {
    const g = {
      rect: { x: 10, y: 20, width: 6, height: 2 },
      width: 6,
      height: 2,
      scale: 1,
      strips: [
        { x: 0, width: 4 },
        { x: 4, width: 2 },
      ],
    };
    // Two strips of width 4 stacked: rows of strip 0 (pixels 0..3), then rows of strip 1 (4..5 + 2 pad).
    const px = (v: number) => [v, v, v];
    const data = Buffer.from([...[0, 1, 2, 3, 10, 11, 12, 13].flatMap(px), ...[4, 5, 99, 99, 14, 15, 99, 99].flatMap(px)]);
    const r = assembleRegion(data, 0, g, 4, 'rgb24');
    expect([r.x, r.y, r.width, r.height, r.scale]).toEqual([10, 20, 6, 2, 1]);
    expect([...r.image.data].filter((_, i) => i % 3 === 0)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
  });
});

describe('frame source regions (real ffmpeg)', () => {
  it('delivers the region as ffmpeg crops it from the same frame at source resolution', async () => {
    // vtest.avi is 768x576; the model frame is 320x320 (letterboxed, scale 0.42), the region a
    // 448x230 crop that arrives as two 320-wide strips.
    const req = { x1: 0.25, y1: 0.3, x2: 0.8333, y2: 0.7 };
    const src = new FrameSource({
      input: VTEST,
      width: 320,
      height: 320,
      fps: 1,
      pixelFormat: 'rgb24',
      regions: [req],
      regionMaxSide: 960,
    });
    let frame;
    for await (const f of src.frames()) {
      frame = f;
      break;
    }
    await src.stop();
    const r = frame!.regions![0]!;
    expect([r.x, r.y, r.width, r.height, r.scale]).toEqual([192, 172, 448, 232, 1]);
    expect(frame!.data.length).toBe(320 * 320 * 3);
    const crop = (x: number, y: number) => {
      const ref = spawnSync(
        'ffmpeg',
        [
          '-v',
          'error',
          '-i',
          VTEST,
          '-frames:v',
          '1',
          '-vf',
          `fps=1,crop=448:232:${x}:${y}`,
          '-pix_fmt',
          'rgb24',
          '-f',
          'rawvideo',
          'pipe:1',
        ],
        { maxBuffer: 1 << 24 },
      );
      expect(ref.status).toBe(0);
      return ref.stdout;
    };
    const meanAbsDiff = (a: Buffer, b: Buffer) => {
      expect(a.length).toBe(b.length);
      let s = 0;
      for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
      return s / a.length;
    };
    // Same frame (the same fps filter picks it), same pixels up to colour-conversion rounding (the graphs convert YUV→RGB at different points);
    // the crop 8 px to the right, or the strips put back in the wrong place, are far off.
    const same = meanAbsDiff(r.image.data, crop(192, 172));
    const shifted = meanAbsDiff(r.image.data, crop(200, 172));
    console.log(`region vs ffmpeg crop: mean |diff| ${same.toFixed(2)}, vs a crop 8 px to the right ${shifted.toFixed(2)}`);
    expect(same).toBeLessThan(0.5);
    expect(shifted).toBeGreaterThan(4 * same);
  });
});
