import { describe, expect, it } from 'vitest';
import { APPEARANCE_BINS, appearanceDistance, colourHistogram, type PixelImage } from './appearance.js';

/** A width × height image filled with one colour, then a rectangle of another. */
function image(
  width: number,
  height: number,
  fill: [number, number, number],
  rect?: { x1: number; y1: number; x2: number; y2: number; rgb: [number, number, number] },
  pixelFormat: 'rgb24' | 'bgr24' = 'rgb24',
): PixelImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const inRect = rect && x >= rect.x1 && x < rect.x2 && y >= rect.y1 && y < rect.y2;
      const [r, g, b] = inRect ? rect.rgb : fill;
      const o = (y * width + x) * 3;
      const [c0, c2] = pixelFormat === 'rgb24' ? [r, b] : [b, r];
      data[o] = c0;
      data[o + 1] = g;
      data[o + 2] = c2;
    }
  return { data, width, height, pixelFormat };
}

const bin = (r: number, g: number, b: number) => {
  const n = APPEARANCE_BINS;
  const q = (v: number) => Math.floor(v / (256 / n));
  return (q(r) * n + q(g)) * n + q(b);
};

describe('colourHistogram', () => {
  it('puts a one-colour torso into one bin (rgb24 and bgr24 agree)', () => {
    for (const fmt of ['rgb24', 'bgr24'] as const) {
      const h = colourHistogram(image(100, 100, [200, 30, 40], undefined, fmt), { x1: 0, y1: 0, x2: 100, y2: 100 })!;
      expect(h).toHaveLength(512);
      expect(h[bin(200, 30, 40)]).toBe(1);
      expect(h.reduce((s, v) => s + v, 0)).toBe(1);
    }
  });

  it('reads only the torso: x 30–70 %, y 15–55 % of the box', () => {
    // Box 0..100: the torso is x 30..70, y 15..55. A red rectangle exactly there, white elsewhere.
    const img = image(100, 100, [255, 255, 255], { x1: 30, y1: 15, x2: 70, y2: 55, rgb: [255, 0, 0] });
    const h = colourHistogram(img, { x1: 0, y1: 0, x2: 100, y2: 100 })!;
    expect(h[bin(255, 0, 0)]).toBe(1);
    expect(h[bin(255, 255, 255)]).toBe(0);
    // Half of the torso red (x 30..50), half white.
    const half = colourHistogram(image(100, 100, [255, 255, 255], { x1: 0, y1: 0, x2: 50, y2: 100, rgb: [255, 0, 0] }), {
      x1: 0,
      y1: 0,
      x2: 100,
      y2: 100,
    })!;
    expect(half[bin(255, 0, 0)]).toBe(0.5);
    expect(half[bin(255, 255, 255)]).toBe(0.5);
  });

  it('clips the box to the image and gives null when nothing of the torso is inside', () => {
    const img = image(10, 10, [0, 0, 0]);
    expect(colourHistogram(img, { x1: 20, y1: 20, x2: 40, y2: 40 })).toBeNull();
    expect(colourHistogram(img, { x1: 5, y1: 5, x2: 5, y2: 5 })).toBeNull();
    expect(colourHistogram(img, { x1: -10, y1: -10, x2: 20, y2: 20 })![bin(0, 0, 0)]).toBe(1);
  });

  it('samples a large box with a stride (≤ ~1024 pixels) without changing a uniform result', () => {
    const h = colourHistogram(image(1000, 1000, [10, 250, 130]), { x1: 0, y1: 0, x2: 1000, y2: 1000 })!;
    expect(h[bin(10, 250, 130)]).toBe(1);
  });
});

describe('appearanceDistance', () => {
  const a = new Array(8).fill(0).map((_, i) => (i === 0 ? 1 : 0));
  const b = new Array(8).fill(0).map((_, i) => (i === 1 ? 1 : 0));
  const half = new Array(8).fill(0).map((_, i) => (i < 2 ? 0.5 : 0));
  it('is 0 for identical, 1 for disjoint, and Hellinger in between', () => {
    expect(appearanceDistance(a, a)).toBe(0);
    expect(appearanceDistance(a, b)).toBe(1);
    // BC = sqrt(1 × 0.5) = 0.7071 → sqrt(1 − 0.7071) = 0.5412
    expect(appearanceDistance(a, half)).toBe(0.5412);
    expect(appearanceDistance(half, a)).toBe(0.5412);
  });
  it('normalises unnormalised input, treats an empty histogram as disjoint, refuses a size mismatch', () => {
    expect(appearanceDistance([2, 0], [1, 0])).toBe(0);
    expect(appearanceDistance([0, 0], [1, 0])).toBe(1);
    expect(() => appearanceDistance([1], [1, 0])).toThrow(/differ in size/);
  });
});
