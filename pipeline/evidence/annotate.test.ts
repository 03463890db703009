import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  annotateImage,
  captionFontFamily,
  CJK_FONT_FAMILY,
  classNameCharset,
  escapeXml,
  overlaySvg,
  parseFcListFamilies,
} from './annotate.js';

const DOG = '/usr/share/darknet/data/dog.jpg';

async function rgbAt(jpeg: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('annotateImage', () => {
  it('draws a box outline in its colour on a real photo and keeps the size', async () => {
    const img = await readFile(DOG);
    const out = await annotateImage(img, {
      boxes: [{ box: { x1: 120, y1: 110, x2: 570, y2: 420 }, label: '非机动车 bicycle', color: '#00ff00' }],
    });
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 768, 576]);
    const [r, g, b] = await rgbAt(out, 345, 420); // bottom edge of the box
    expect(g).toBeGreaterThan(200);
    expect(r).toBeLessThan(80);
    expect(b).toBeLessThan(80);
  });

  it('accepts raw bgr24 and rgb24 frames and treats them as the same picture', async () => {
    const { data, info } = await sharp(await readFile(DOG))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const bgr = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i += 3) {
      bgr[i] = data[i + 2]!;
      bgr[i + 1] = data[i + 1]!;
      bgr[i + 2] = data[i]!;
    }
    const overlay = { caption: '占道经营 street_vending' };
    const a = await annotateImage({ raw: data, width: info.width, height: info.height, pixelFormat: 'rgb24' }, overlay);
    const b = await annotateImage({ raw: bgr, width: info.width, height: info.height, pixelFormat: 'bgr24' }, overlay);
    expect(a.equals(b)).toBe(true);
    await expect(
      annotateImage({ raw: data.subarray(1), width: info.width, height: info.height, pixelFormat: 'rgb24' }, {}),
    ).rejects.toThrow(/expected 768x576x3/);
  });

  it('escapes text so labels cannot break the SVG, and rejects colours that are not colours', async () => {
    expect(escapeXml(`<a & "b" 'c'>`)).toBe('&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;');
    const svg = overlaySvg(100, 100, {
      boxes: [{ box: { x1: 1, y1: 1, x2: 50, y2: 50 }, label: '</text><script>', color: 'red" onload="x' }],
    });
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('onload');
    const out = await annotateImage(await readFile(DOG), {
      caption: '</svg> & <b>',
      polygons: [
        {
          points: [
            [10, 10],
            [200, 10],
            [200, 200],
          ],
          label: '禁停区 <no_parking>',
        },
      ],
    });
    expect((await sharp(out).metadata()).width).toBe(768);
  });
  // Chinese glyphs against missing-glyph boxes: test/evidence/cjk-captions.test.ts (two distinct
  // ideographs differ even as boxes, since Pango prints the code point in the box).
});

describe('caption font', () => {
  it('reads fontconfig families (ASCII name when localised names come first) and puts an installed CJK family first', () => {
    const out = 'Noto Sans CJK JP\n文泉驿正黑,WenQuanYi Zen Hei,文泉驛正黑\nDroid Sans Fallback\nNoto Sans CJK SC\nNoto Sans CJK JP\n';
    const fams = parseFcListFamilies(out);
    expect(fams).toEqual(['Noto Sans CJK JP', 'WenQuanYi Zen Hei', 'Droid Sans Fallback', 'Noto Sans CJK SC']);
    expect(captionFontFamily(fams)).toBe(CJK_FONT_FAMILY);
    expect(CJK_FONT_FAMILY.startsWith("'Noto Sans CJK SC',")).toBe(true);
    expect(captionFontFamily(['Droid Sans Fallback'])).toBe(`'Droid Sans Fallback',${CJK_FONT_FAMILY}`);
    expect(captionFontFamily(["AR PL 'UMing' <CN>"])).toBe(`'AR PL UMing CN',${CJK_FONT_FAMILY}`);
    expect(captionFontFamily([])).toBe(CJK_FONT_FAMILY);
    expect(classNameCharset()).toContain('违');
    expect(classNameCharset()).not.toContain('/');
  });
});
