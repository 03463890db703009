// Tiled frames straight from ffmpeg: the full frame stacked with its crops, each at model size.
import { describe, expect, it } from 'vitest';
import { FrameSource } from '../pipeline/source/ffmpeg-source.js';
import type { Frame } from '../pipeline/types.js';
import { derivedClip } from './support/media.js';

/** A 1920x1080 PNG in four flat quadrants: red, green / blue, white. */
function quadrants(): Promise<string> {
  const c = (colour: string) => ['-f', 'lavfi', '-i', `color=${colour}:s=960x540:d=1`];
  return derivedClip(
    'quadrants-1080p.png',
    [...c('red'), ...c('0x00ff00'), ...c('blue'), ...c('white')],
    ['-filter_complex', '[0][1]hstack[t];[2][3]hstack[b];[t][b]vstack', '-frames:v', '1', '-update', '1'],
  );
}

async function firstFrame(src: FrameSource): Promise<Frame> {
  for await (const f of src.frames()) return f;
  throw new Error('no frame');
}

const pixel = (data: Buffer, width: number, x: number, y: number) => [...data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];

describe('FrameSource tiling', () => {
  it('cuts a 2x2 grid from the decoded source, each crop resized to the model input', async () => {
    const input = await quadrants();
    const base = { input, width: 320, height: 320, resize: 'stretch' as const, pixelFormat: 'rgb24' as const, fps: 1 };
    const tiled = await firstFrame(new FrameSource({ ...base, tiling: { cols: 2, rows: 2, overlap: 0 } }));
    const plain = await firstFrame(new FrameSource(base));
    // The full frame is byte for byte what an untiled source gives.
    expect(tiled.data.length).toBe(320 * 320 * 3);
    expect(Buffer.compare(tiled.data, plain.data)).toBe(0);
    expect(plain.tiles).toBeUndefined();
    expect(
      tiled.tiles!.map((t) => [t.x, t.y, t.letterbox.srcWidth, t.letterbox.srcHeight, t.letterbox.scaleX, t.letterbox.scaleY]),
    ).toEqual([
      [0, 0, 960, 540, 320 / 960, 320 / 540],
      [960, 0, 960, 540, 320 / 960, 320 / 540],
      [0, 540, 960, 540, 320 / 960, 320 / 540],
      [960, 540, 960, 540, 320 / 960, 320 / 540],
    ]);
    const expected = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 255],
    ];
    tiled.tiles!.forEach((t, i) => {
      expect(t.data.length).toBe(320 * 320 * 3);
      // Corners and centre of each tile hold its quadrant's colour only (within YUV rounding).
      for (const [x, y] of [
        [2, 2],
        [160, 160],
        [317, 317],
      ] as const) {
        pixel(t.data, 320, x, y).forEach((v, ch) =>
          expect(Math.abs(v - expected[i]![ch]!), `tile ${i} (${x},${y})`).toBeLessThanOrEqual(6),
        );
      }
    });
  });
});
