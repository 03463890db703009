import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, Frame } from '../../types.js';
import { boxArea, intersectionArea } from '../../geometry/geometry.js';
import { TextDetector, textDetectionsFromFrame, type RawImage } from './text-detector.js';
import { extractPhoneNumbers } from './phones.js';
import { frameToRawImage } from './image.js';

const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const DOG = '/usr/share/darknet/data/dog.jpg';
// A CJK font must exist for the SVG poster (Debian: fonts-droid-fallback, fonts-noto-cjk or fonts-wqy-zenhei).
const FONT = "'Droid Sans Fallback','Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif";
const POSTER: Box = { x1: 320, y1: 12, x2: 620, y2: 96 };

let dir: string;
let scenePng: string;
let scene: RawImage;
let detector: TextDetector;

function hasCjkFont(): boolean {
  return execFileSync('fc-list', [':lang=zh', 'family']).toString().trim().length > 0;
}

beforeAll(async () => {
  if (!hasCjkFont()) throw new Error('no CJK font installed (fc-list :lang=zh is empty): apt-get install fonts-droid-fallback');
  dir = mkdtempSync(path.join(tmpdir(), 'ocr-test-'));
  // A real street frame with a paper advert stuck on the building's brick wall.
  const frame = execFileSync('ffmpeg', [
    '-v',
    'error',
    '-ss',
    '3',
    '-i',
    VTEST,
    '-frames:v',
    '1',
    '-f',
    'image2pipe',
    '-vcodec',
    'png',
    '-',
  ]);
  const w = POSTER.x2 - POSTER.x1;
  const h = POSTER.y2 - POSTER.y1;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="#f4f1e6"/>
<text x="10" y="34" font-family="${FONT}" font-size="28" fill="#1a1a1a">办证 13812345678</text>
<text x="10" y="72" font-family="${FONT}" font-size="28" fill="#1a1a1a">TEL 021-55556666</text></svg>`;
  const poster = await sharp(Buffer.from(svg)).png().toBuffer();
  const composed = sharp(frame).composite([{ input: poster, left: POSTER.x1, top: POSTER.y1 }]);
  scenePng = path.join(dir, 'scene.png');
  await composed.clone().toFile(scenePng);
  const { data, info } = await composed.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  scene = { data, width: info.width, height: info.height, pixelFormat: 'rgb24' };
  detector = await TextDetector.create({ threads: 1 });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cover(inner: Box, outer: Box): number {
  return intersectionArea(inner, outer) / boxArea(inner);
}

describe('TextDetector (PP-OCRv4) on a real scene', () => {
  it('finds the advert and reads both phone numbers exactly', async () => {
    const t0 = performance.now();
    const regions = await detector.detect(scene);
    const detMs = performance.now() - t0;
    const onPoster = regions.filter((r) => cover(r.box, POSTER) > 0.7);
    expect(onPoster.length).toBeGreaterThanOrEqual(2);
    // Nothing else in this street frame looks like confident text.
    expect(regions.filter((r) => cover(r.box, POSTER) < 0.3 && r.score > 0.8)).toEqual([]);
    const texts: string[] = [];
    let recMs = 0;
    for (const r of onPoster.sort((a, b) => a.box.y1 - b.box.y1)) {
      const t1 = performance.now();
      const { text, score } = await detector.recognize(scene, r.box);
      recMs += performance.now() - t1;
      expect(score).toBeGreaterThan(0.8);
      texts.push(text);
    }
    console.log(
      `ppocr det ${detMs.toFixed(0)} ms (768x576), rec ${(recMs / onPoster.length).toFixed(0)} ms/line: ${JSON.stringify(texts)}`,
    );
    expect(texts[0]!.replace(/\s/g, '')).toBe('办证13812345678');
    const phones = texts.flatMap(extractPhoneNumbers);
    expect(phones).toEqual(['13812345678', '021-55556666']);
  });

  it('limits the search to the given regions', async () => {
    const elsewhere = await detector.detect(scene, [{ x1: 0, y1: 200, x2: 768, y2: 576 }]);
    expect(elsewhere.filter((r) => r.score > 0.8)).toEqual([]);
    const there = await detector.detect(scene, [{ x1: 300, y1: 0, x2: 640, y2: 120 }]);
    expect(there.filter((r) => cover(r.box, POSTER) > 0.7).length).toBeGreaterThanOrEqual(2);
  });

  it('reads no text in a photo without any (dog.jpg)', async () => {
    const { data, info } = await sharp(DOG).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const image: RawImage = { data, width: info.width, height: info.height, pixelFormat: 'rgb24' };
    // DB alone may fire on the bicycle's spokes; the recogniser reads nothing confident there.
    const read = await detector.read(image);
    expect(read).toEqual([]);
    for (const r of await detector.detect(image)) expect((await detector.recognize(image, r.box)).score).toBeLessThan(0.5);
  });

  it('read() returns the advert lines with their text', async () => {
    const read = await detector.read(scene);
    expect(read.map((r) => r.text.replace(/\s/g, ''))).toEqual(['办证13812345678', 'TEL021-55556666']);
    for (const r of read) expect(cover(r.box, POSTER)).toBeGreaterThan(0.7);
  });

  it('reads the phone from an ffmpeg-letterboxed analysis frame, boxes in source px', async () => {
    const raw = execFileSync('ffmpeg', [
      '-v',
      'error',
      '-i',
      scenePng,
      '-vf',
      'scale=416:416:force_original_aspect_ratio=decrease,pad=416:416:0:0:color=0x727272',
      '-pix_fmt',
      'bgr24',
      '-f',
      'rawvideo',
      '-',
    ]);
    const frame: Frame = {
      data: raw,
      pixelFormat: 'bgr24',
      letterbox: { scale: 416 / 768, srcWidth: 768, srcHeight: 576, scaledWidth: 416, scaledHeight: 312, dstWidth: 416, dstHeight: 416 },
      index: 7,
      streamTime: 3.5,
      wallTime: 0,
    };
    expect(frameToRawImage(frame).height).toBe(312);
    const dets = await textDetectionsFromFrame(detector, frame, [{ x1: 0, y1: 0, x2: 768, y2: 300 }]);
    const poster = dets.filter(
      (d) => cover(d.box, { x1: POSTER.x1 - 10, y1: POSTER.y1 - 10, x2: POSTER.x2 + 10, y2: POSTER.y2 + 10 }) > 0.7,
    );
    expect(poster.length).toBeGreaterThanOrEqual(1);
    for (const d of poster) expect(d).toMatchObject({ label: 'text', model: 'ppocr-v4-det', frameTime: 3.5 });
    const phones = poster.flatMap((d) => d.attributes!.phones as string[]);
    expect(phones).toContain('13812345678');
  });
});

describe('textDetectionsFromFrame on a real 1080p hoarding (source-resolution crops)', () => {
  // london_street_hoardings_posters.mp4 (../shared/footage or $FOOTAGE_DIR): printed posters on a
  // construction hoarding, lettering 15–40 px tall at 1920x1080, i.e. 3–9 px in a 416 px frame.
  const FOOTAGE = process.env.FOOTAGE_DIR ?? path.resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'footage');
  it('reads poster text in the wall zone from the source-resolution crop that the model-size frame cannot', async () => {
    const { cameraConfigSchema } = await import('../../rules/config-schema.js');
    const { sourceRegions } = await import('../../analyzer.js');
    const { FrameSource } = await import('../../source/ffmpeg-source.js');
    const { readFileSync } = await import('node:fs');
    const config = cameraConfigSchema.parse(
      JSON.parse(readFileSync(new URL('../../../fixtures/real/london_hoarding.camera.json', import.meta.url), 'utf8')),
    );
    const src = new FrameSource({
      input: path.join(FOOTAGE, 'london_street_hoardings_posters.mp4'),
      width: 416,
      height: 416,
      fps: 2,
      pixelFormat: 'bgr24',
      ...sourceRegions(config),
    });
    let frame: Frame | undefined;
    for await (const f of src.frames()) {
      frame = f;
      break;
    }
    await src.stop();
    const zone = { x1: 0.65 * 1920, y1: 0.31 * 1080, x2: 1920, y2: 0.6 * 1080 };
    expect(frame!.regions).toHaveLength(1);
    expect(frame!.regions![0]).toMatchObject({ x: 1248, y: 334, width: 672, height: 314, scale: 1 });
    const full = await textDetectionsFromFrame(detector, frame!, [zone]);
    const low = await textDetectionsFromFrame(detector, { ...frame!, regions: [] }, [zone]);
    console.log(
      `hoarding: source-resolution crop read ${JSON.stringify(full.map((d) => d.attributes!.text))}, model frame ${JSON.stringify(low.map((d) => d.attributes!.text))}`,
    );
    expect(low).toHaveLength(0);
    expect(full.length).toBeGreaterThanOrEqual(1);
    for (const d of full) {
      expect(cover(d.box, zone)).toBeGreaterThan(0.9);
      expect(d.attributes).toMatchObject({ resolution: 'source' });
      expect(String(d.attributes!.text).trim()).not.toBe('');
    }
  });
});
