// Abandoned-object ("static change") detector: finds regions that changed against the long-term
// scene and then stayed put — dumped garbage, goods set out in front of a shop, an object left on
// a road. It works on a small greyscale copy of each frame so it costs well under a millisecond or
// two per frame and needs no model.
//
// Dual background: the long-term model learns slowly and only from pixels that look like
// background; the short-term model follows the frame quickly. A pixel that differs from the
// long-term model but already matches the short-term one is "static foreground": something that
// arrived and stopped. Moving people differ from both, so they never accumulate static time.
import type { z } from 'zod';
import { staticChangeSchema } from '../rules/static-change-schema.js';
import type { Box, Detection, Frame } from '../types.js';
import { iou, overlapOfSmaller, pointInPolygon, type Point } from '../geometry/geometry.js';

export type StaticChangeOptions = z.infer<typeof staticChangeSchema> & {
  /** Optional polygons in source px; only pixels inside one of them are analysed. */
  mask?: Point[][];
};

export const DEFAULT_STATIC_CHANGE_OPTIONS: Readonly<StaticChangeOptions> = {
  width: 160,
  longTermRate: 0.02,
  shortTermRate: 0.5,
  diffThreshold: 25,
  minAreaFrac: 0.001,
  maxAreaFrac: 0.25,
  minAgeSec: 10,
  minStaticSec: 2,
  absorbAfterSec: 1800,
  warmupSec: 4,
  sceneChangeFrac: 0.6,
  sceneCutSimilarity: 0.5,
  sceneCutSec: 2,
  sceneCutDrop: 0.15,
  sceneCutMinEdge: 6,
  matchOverlap: 0.3,
  maxMissSec: 4,
  maxGapSec: 5,
  ghostEdgeRatio: 1,
  freezeUnderIgnore: true,
  occluderMemorySec: 10,
  requireCore: true,
};

export interface StaticBlob {
  id: number;
  /** Box in source pixels. */
  box: Box;
  /** Blob pixel area as a fraction of the image area. */
  areaFrac: number;
  /** Stream time (s) at which the object arrived (median change onset of its pixels). */
  firstSeen: number;
  ageSec: number;
  /** Fraction of analysed frames since firstSeen in which the blob was found (0..1). */
  persistence: number;
}

interface BlobTrack {
  id: number;
  box: Box; // analysis px
  area: number;
  firstSeen: number;
  lastSeen: number;
  createdAt: number;
  hits: number;
  updates: number;
}

interface Component {
  box: Box; // analysis px, exclusive max
  area: number;
  onset: number;
}

/** Global brightness transfer grey ≈ gain·bg + offset, fitted robustly (see fitBrightnessTransfer). */
export interface BrightnessTransfer {
  gain: number;
  offset: number;
}

const BINS = 16;
/** The scene-change test works on a TILES × TILES grid. */
const TILES = 4;

/**
 * Robust fit of how the whole scene's brightness changed between a background and a frame.
 * Pixels are grouped by background grey level; in each group the median frame grey is taken (so
 * a minority of changed pixels — objects, people — cannot pull it), then a weighted line is fitted
 * through the group medians. Handles both gain (exposure, daylight) and offset changes.
 */
export function fitBrightnessTransfer(bg: ArrayLike<number>, grey: ArrayLike<number>, valid: Uint8Array | null): BrightnessTransfer {
  const hist = new Uint32Array(BINS * 256);
  const counts = new Uint32Array(BINS);
  const sums = new Float64Array(BINS);
  let total = 0;
  for (let i = 0; i < grey.length; i++) {
    if (valid && !valid[i]) continue;
    const b = Math.min(255, Math.max(0, bg[i]!));
    const bin = Math.min(BINS - 1, (b * BINS) >> 8);
    const g = Math.min(255, Math.max(0, Math.round(grey[i]!)));
    hist[bin * 256 + g]!++;
    counts[bin]!++;
    sums[bin]! += b;
    total++;
  }
  const minCount = Math.max(8, total * 0.01);
  const xs: number[] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  for (let bin = 0; bin < BINS; bin++) {
    const n = counts[bin]!;
    if (n < minCount) continue;
    let acc = 0;
    let g = 0;
    for (; g < 256; g++) {
      acc += hist[bin * 256 + g]!;
      if (acc * 2 >= n) break;
    }
    xs.push(sums[bin]! / n);
    ys.push(g);
    ws.push(n);
  }
  if (xs.length === 0) return { gain: 1, offset: 0 };
  let sw = 0,
    sx = 0,
    sy = 0;
  for (let k = 0; k < xs.length; k++) {
    sw += ws[k]!;
    sx += ws[k]! * xs[k]!;
    sy += ws[k]! * ys[k]!;
  }
  const mx = sx / sw;
  const my = sy / sw;
  let sxx = 0,
    sxy = 0;
  for (let k = 0; k < xs.length; k++) {
    sxx += ws[k]! * (xs[k]! - mx) ** 2;
    sxy += ws[k]! * (xs[k]! - mx) * (ys[k]! - my);
  }
  // With too little spread in background levels the slope is meaningless: fit an offset only.
  if (xs.length < 3 || sxx / sw < 100) return { gain: 1, offset: my - mx };
  const gain = Math.min(2, Math.max(0.5, sxy / sxx));
  return { gain, offset: my - gain * mx };
}

/**
 * Labels 8-connected components of a binary mask. Returns the label image (0 = none) and the
 * number of components; labels are 1-based and assigned in raster order.
 */
export function labelComponents(mask: Uint8Array, width: number, height: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(width * height);
  const stack: number[] = [];
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    count++;
    labels[start] = count;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && !labels[q]) {
            labels[q] = count;
            stack.push(q);
          }
        }
      }
    }
  }
  return { labels, count };
}

/** 3×3 binary dilation (grow = true) or erosion (grow = false). */
function morph(src: Uint8Array, dst: Uint8Array, width: number, height: number, grow: boolean): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let hit = grow ? 0 : 1;
      for (let dy = -1; dy <= 1 && hit === (grow ? 0 : 1); dy++) {
        const yy = Math.min(height - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) {
          const xx = Math.min(width - 1, Math.max(0, x + dx));
          const v = src[yy * width + xx]!;
          if (grow && v) {
            hit = 1;
            break;
          }
          if (!grow && !v) {
            hit = 0;
            break;
          }
        }
      }
      dst[y * width + x] = hit;
    }
  }
}

/** Central-difference gradient magnitude (L1) at (x, y), clamped at the borders. */
function gradient(img: Float32Array, w: number, h: number, x: number, y: number): number {
  const xl = Math.max(0, x - 1),
    xr = Math.min(w - 1, x + 1);
  const yu = Math.max(0, y - 1),
    yd = Math.min(h - 1, y + 1);
  return Math.abs(img[y * w + xr]! - img[y * w + xl]!) + Math.abs(img[yd * w + x]! - img[yu * w + x]!);
}

/**
 * Pearson correlation of two images' gradient magnitudes over the `use` pixels: 1 for the same
 * structure whatever the brightness, near 0 for unrelated views. When the reference `b` has a mean
 * edge strength below `minEdge` there is nothing to compare and the answer is 1 (same scene).
 */
export function edgeSimilarity(a: Float32Array, b: Float32Array, w: number, h: number, use: Uint8Array | null, minEdge = 0): number {
  const r = edgeSimilarityIn(a, b, w, h, use, { x0: 0, y0: 0, x1: w, y1: h }, minEdge, 2);
  return Number.isNaN(r) ? 1 : r;
}

/**
 * edgeSimilarity over the rectangle [x0, x1) × [y0, y1). NaN when it cannot be judged: fewer than
 * minPixels in use, or a reference too flat (mean edge below minEdge) to say anything.
 */
export function edgeSimilarityIn(
  a: Float32Array,
  b: Float32Array,
  w: number,
  h: number,
  use: Uint8Array | null,
  r: { x0: number; y0: number; x1: number; y1: number },
  minEdge: number,
  minPixels: number,
): number {
  let n = 0,
    sa = 0,
    sb = 0,
    saa = 0,
    sbb = 0,
    sab = 0;
  for (let y = r.y0; y < r.y1; y++) {
    for (let x = r.x0; x < r.x1; x++) {
      if (use && !use[y * w + x]) continue;
      const ga = gradient(a, w, h, x, y);
      const gb = gradient(b, w, h, x, y);
      n++;
      sa += ga;
      sb += gb;
      saa += ga * ga;
      sbb += gb * gb;
      sab += ga * gb;
    }
  }
  if (n < Math.max(2, minPixels) || sb / n < minEdge) return NaN;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  if (va <= 1e-9 || vb <= 1e-9) return 1;
  return (sab - (sa * sb) / n) / Math.sqrt(va * vb);
}

export class StaticChangeDetector {
  readonly options: Readonly<StaticChangeOptions>;
  private aw = 0;
  private ah = 0;
  private geometryKey = '';
  private grey = new Float32Array(0);
  private longBg = new Float32Array(0);
  private shortBg = new Float32Array(0);
  private fgSince = new Float64Array(0);
  private staticSec = new Float32Array(0);
  private cand = new Uint8Array(0);
  private tmp = new Uint8Array(0);
  private closed = new Uint8Array(0);
  /** Pixels matching the short-term model this frame (nothing moving there right now). */
  private settled = new Uint8Array(0);
  /** Pixels under an ignore box this frame (not learnt when freezeUnderIgnore). */
  private occluded = new Uint8Array(0);
  /** Pixels whose long-term background has been seen (0: covered since start-up or a relearn). */
  private known = new Uint8Array(0);
  /** Stream time each pixel was last under an ignore box (NaN: never). */
  private lastCovered = new Float64Array(0);
  private valid: Uint8Array | null = null;
  private validCount = 0;
  private xRanges = new Int32Array(0);
  private yRanges = new Int32Array(0);
  private startTime = NaN;
  private lastTime = NaN;
  private frames = 0;
  private tracks: BlobTrack[] = [];
  private nextId = 1;
  private lastResult: StaticBlob[] = [];
  /** Since when the edge similarity has been below sceneCutSimilarity (NaN: it is not). */
  private dissimilarSince = NaN;
  /** Median over the judged tiles of the last frame's edge similarity with the long-term background (diagnostics). */
  lastSceneSimilarity = 1;
  /** Frames kept during warm-up; their per-pixel median becomes the long-term background. */
  private warmFrames: Float32Array[] = [];
  /** Per warm-up frame: the pixels an ignore box covered (they do not vote in the median). */
  private warmOccluded: Uint8Array[] = [];
  /** How many times the view was judged changed and the background relearnt (diagnostics). */
  sceneChanges = 0;
  /** Per tile of a TILES × TILES grid: slow average of its edge similarity while the view is unchanged. */
  private tileUsual = new Float64Array(TILES * TILES).fill(NaN);

  constructor(opts: Partial<StaticChangeOptions> = {}) {
    const o = { ...DEFAULT_STATIC_CHANGE_OPTIONS, ...opts };
    const positive: (keyof StaticChangeOptions)[] = ['width', 'longTermRate', 'shortTermRate', 'diffThreshold', 'maxAreaFrac', 'maxGapSec'];
    for (const k of positive) {
      const v = o[k] as number;
      if (!Number.isFinite(v) || v <= 0) throw new Error(`StaticChangeDetector: option ${k} must be a positive number, got ${v}`);
    }
    for (const k of [
      'longTermRate',
      'shortTermRate',
      'minAreaFrac',
      'maxAreaFrac',
      'sceneChangeFrac',
      'sceneCutSimilarity',
      'sceneCutDrop',
      'matchOverlap',
    ] as const) {
      const v = o[k];
      if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`StaticChangeDetector: option ${k} must be within 0..1, got ${v}`);
    }
    if (o.longTermRate >= o.shortTermRate) {
      throw new Error(`StaticChangeDetector: longTermRate (${o.longTermRate}) must be below shortTermRate (${o.shortTermRate})`);
    }
    for (const k of [
      'minAgeSec',
      'minStaticSec',
      'absorbAfterSec',
      'warmupSec',
      'maxMissSec',
      'sceneCutSec',
      'sceneCutMinEdge',
      'occluderMemorySec',
    ] as const) {
      const v = o[k];
      if (!Number.isFinite(v) || v < 0) throw new Error(`StaticChangeDetector: option ${k} must be a non-negative number, got ${v}`);
    }
    this.options = o;
  }

  /** Forgets everything learnt; the next frame starts a fresh background. */
  reset(): void {
    this.geometryKey = '';
    this.tracks = [];
    this.lastResult = [];
    this.startTime = NaN;
    this.lastTime = NaN;
    this.frames = 0;
    this.dissimilarSince = NaN;
    this.tileUsual.fill(NaN);
    this.warmFrames = [];
    this.warmOccluded = [];
  }

  /**
   * Analyses one frame; returns blobs that have been present for at least minAgeSec.
   * `ignore` (source px, e.g. current person boxes from the object detector) keeps those pixels out
   * of blobs for this frame — a person standing still is not an abandoned object — without
   * resetting what was learnt about them.
   */
  update(frame: Frame, ignore: readonly Box[] = []): StaticBlob[] {
    const lb = frame.letterbox;
    const expected = lb.dstWidth * lb.dstHeight * 3;
    if (frame.data.length < expected) {
      throw new Error(
        `StaticChangeDetector: frame ${frame.index} has ${frame.data.length} bytes, expected ${expected} for ${lb.dstWidth}x${lb.dstHeight}x3`,
      );
    }
    if (!(lb.scaledWidth > 0 && lb.scaledHeight > 0 && lb.scaledWidth <= lb.dstWidth && lb.scaledHeight <= lb.dstHeight)) {
      throw new Error(`StaticChangeDetector: frame ${frame.index} has an invalid letterbox ${JSON.stringify(lb)}`);
    }
    const key = `${lb.srcWidth}x${lb.srcHeight}/${lb.scaledWidth}x${lb.scaledHeight}/${lb.dstWidth}`;
    if (key !== this.geometryKey) this.init(key, frame);

    const t = frame.streamTime;
    this.toGrey(frame);
    this.occluded.fill(0);
    if (ignore.length > 0) {
      this.markBoxes(ignore, frame, this.occluded, 1);
      for (let i = 0; i < this.occluded.length; i++) if (this.occluded[i]) this.lastCovered[i] = t;
      if (!this.options.freezeUnderIgnore) this.occluded.fill(0);
    }
    if (Number.isNaN(this.lastTime)) {
      this.longBg.set(this.grey);
      this.shortBg.set(this.grey);
      this.known.fill(1);
      this.warmFrames = [this.grey.slice()];
      this.warmOccluded = [this.occluded.slice()];
      this.startTime = t;
      this.lastTime = t;
      this.frames = 1;
      return [];
    }
    // Duplicate or out-of-order frames carry no new information about time.
    if (!(t > this.lastTime)) return this.lastResult;
    const dt = Math.min(t - this.lastTime, this.options.maxGapSec);
    this.lastTime = t;
    this.frames++;

    const o = this.options;
    const { gain, offset } = fitBrightnessTransfer(this.longBg, this.grey, this.valid);
    // Move both backgrounds to the frame's global brightness so a lighting ramp never looks like change.
    const n = this.aw * this.ah;
    for (let i = 0; i < n; i++) {
      this.longBg[i] = Math.min(255, Math.max(0, gain * this.longBg[i]! + offset));
      this.shortBg[i] = Math.min(255, Math.max(0, gain * this.shortBg[i]! + offset));
    }

    if (this.warmFrames.length > 0) {
      if (t - this.startTime < o.warmupSec) {
        if (this.warmFrames.length < 16) {
          this.warmFrames.push(this.grey.slice());
          this.warmOccluded.push(this.occluded.slice());
        }
      } else {
        this.seedFromWarmup();
      }
    }
    let aL = 1 - Math.pow(1 - o.longTermRate, dt);
    if (t - this.startTime < o.warmupSec) aL = Math.max(aL, 1 / this.frames);
    const aS = 1 - Math.pow(1 - o.shortTermRate, dt);
    const T = o.diffThreshold;
    let fgCount = 0;
    let judged = 0;
    for (let i = 0; i < n; i++) {
      this.cand[i] = 0;
      this.settled[i] = 0;
      if (this.valid && !this.valid[i]) continue;
      const g = this.grey[i]!;
      if (Math.abs(g - this.shortBg[i]!) <= T) this.settled[i] = 1;
      if (this.occluded[i]) {
        // Under a vehicle or person: what is seen is them, not the scene; learn nothing here.
        this.shortBg[i]! += aS * (g - this.shortBg[i]!);
        continue;
      }
      if (!this.known[i]) {
        // First sight of what an occluder hid since start-up: that is the background.
        this.longBg[i] = g;
        this.known[i] = 1;
        this.fgSince[i] = NaN;
        this.staticSec[i] = 0;
        this.shortBg[i]! += aS * (g - this.shortBg[i]!);
        continue;
      }
      judged++;
      const L = this.longBg[i]!;
      const fg = Math.abs(g - L) > T;
      if (!fg) {
        this.fgSince[i] = NaN;
        this.staticSec[i] = 0;
        this.longBg[i] = L + aL * (g - L);
      } else {
        fgCount++;
        if (Number.isNaN(this.fgSince[i]!)) this.fgSince[i] = t;
        if (Math.abs(g - this.shortBg[i]!) <= T) this.staticSec[i]! += dt;
        if (this.staticSec[i]! < o.minStaticSec) {
          // Passing traffic: learn blindly but slowly so it cannot freeze a pixel as foreground.
          this.longBg[i] = L + aL * (g - L);
        } else if (t - this.fgSince[i]! >= o.absorbAfterSec) {
          this.longBg[i] = g;
          this.fgSince[i] = NaN;
          this.staticSec[i] = 0;
        } else {
          this.cand[i] = 1;
        }
      }
      this.shortBg[i]! += aS * (g - this.shortBg[i]!);
    }

    if (ignore.length > 0) this.clearBoxes(ignore, frame);

    const dissimilar = this.judgeScene(t, ignore, frame);
    if (!dissimilar) this.dissimilarSince = NaN;
    else if (Number.isNaN(this.dissimilarSince)) this.dissimilarSince = t;
    const cut = t - this.dissimilarSince >= o.sceneCutSec;
    if (cut || (judged > 0 && fgCount > o.sceneChangeFrac * judged)) {
      // Camera moved or the view changed: nothing learnt so far is meaningful.
      this.sceneChanges++;
      this.dissimilarSince = NaN;
      this.tileUsual.fill(NaN);
      this.longBg.set(this.grey);
      this.shortBg.set(this.grey);
      this.known.fill(1);
      this.warmFrames = [this.grey.slice()];
      this.warmOccluded = [this.occluded.slice()];
      this.fgSince.fill(NaN);
      this.staticSec.fill(0);
      this.tracks = [];
      this.startTime = t;
      this.frames = 1;
      this.lastResult = [];
      return [];
    }

    const comps = this.components();
    this.track(comps, t);
    // While the view looks changed but the cut is not yet confirmed, what differs from the old
    // background is the view itself, not objects: keep tracking, report nothing.
    this.lastResult = Number.isNaN(this.dissimilarSince) ? this.report(frame, t) : [];
    return this.lastResult;
  }

  /** Turns blobs into detections for the rules engine. */
  toDetections(blobs: StaticBlob[], frame: Frame): Detection[] {
    const o = this.options;
    return blobs.map((b) => ({
      label: 'static_object',
      classId: 0,
      // Persistence-weighted, rising from 0.5 at minAgeSec towards 1 as the object stays.
      score: Math.max(0, Math.min(1, b.persistence * (0.5 + 0.5 * Math.min(1, (b.ageSec - o.minAgeSec) / Math.max(1, 2 * o.minAgeSec))))),
      box: { ...b.box },
      frameTime: frame.streamTime,
      model: 'static-change',
      attributes: { ageSec: b.ageSec, blobId: b.id, areaFrac: b.areaFrac, firstSeen: b.firstSeen },
    }));
  }

  private init(key: string, frame: Frame): void {
    const lb = frame.letterbox;
    const aw = Math.max(8, Math.min(this.options.width, lb.scaledWidth));
    const ah = Math.max(8, Math.min(lb.scaledHeight, Math.round((aw * lb.scaledHeight) / lb.scaledWidth)));
    this.aw = aw;
    this.ah = ah;
    const n = aw * ah;
    this.grey = new Float32Array(n);
    this.longBg = new Float32Array(n);
    this.shortBg = new Float32Array(n);
    this.fgSince = new Float64Array(n).fill(NaN);
    this.staticSec = new Float32Array(n);
    this.cand = new Uint8Array(n);
    this.tmp = new Uint8Array(n);
    this.closed = new Uint8Array(n);
    this.settled = new Uint8Array(n);
    this.occluded = new Uint8Array(n);
    this.known = new Uint8Array(n).fill(1);
    this.lastCovered = new Float64Array(n).fill(NaN);
    // Each analysis pixel averages a block of model pixels: [start, end) per axis.
    this.xRanges = new Int32Array(aw + 1);
    for (let x = 0; x <= aw; x++) this.xRanges[x] = Math.floor((x * lb.scaledWidth) / aw);
    this.yRanges = new Int32Array(ah + 1);
    for (let y = 0; y <= ah; y++) this.yRanges[y] = Math.floor((y * lb.scaledHeight) / ah);
    this.valid = null;
    this.validCount = n;
    const include = this.options.mask ?? [];
    if (include.length > 0) {
      const valid = new Uint8Array(n);
      const sx = lb.srcWidth / aw;
      const sy = lb.srcHeight / ah;
      let count = 0;
      for (let y = 0; y < ah; y++) {
        for (let x = 0; x < aw; x++) {
          const p: Point = [(x + 0.5) * sx, (y + 0.5) * sy];
          if (include.some((poly) => pointInPolygon(p, poly))) {
            valid[y * aw + x] = 1;
            count++;
          }
        }
      }
      this.valid = valid;
      this.validCount = count;
    }
    this.geometryKey = key;
    this.dissimilarSince = NaN;
    this.tileUsual.fill(NaN);
    this.tracks = [];
    this.lastResult = [];
    this.lastTime = NaN;
    this.startTime = NaN;
    this.frames = 0;
  }

  private toGrey(frame: Frame): void {
    const { data, pixelFormat } = frame;
    const stride = frame.letterbox.dstWidth * 3;
    // BT.601 luma weights; channel order decides which byte is red.
    const wr = 77,
      wg = 150,
      wb = 29;
    const w0 = pixelFormat === 'rgb24' ? wr : wb;
    const w2 = pixelFormat === 'rgb24' ? wb : wr;
    for (let ay = 0; ay < this.ah; ay++) {
      const y0 = this.yRanges[ay]!;
      const y1 = Math.max(y0 + 1, this.yRanges[ay + 1]!);
      for (let ax = 0; ax < this.aw; ax++) {
        const x0 = this.xRanges[ax]!;
        const x1 = Math.max(x0 + 1, this.xRanges[ax + 1]!);
        let sum = 0;
        for (let y = y0; y < y1; y++) {
          let p = y * stride + x0 * 3;
          for (let x = x0; x < x1; x++, p += 3) sum += w0 * data[p]! + wg * data[p + 1]! + w2 * data[p + 2]!;
        }
        this.grey[ay * this.aw + ax] = sum / (256 * (x1 - x0) * (y1 - y0));
      }
    }
  }

  /**
   * Has the view changed? The edge maps of settled pixels (nothing moving there now, no person or
   * vehicle box) are correlated with the long-term background tile by tile. A tile has changed when
   * its similarity falls below sceneCutSimilarity or sceneCutDrop below its own usual level; the
   * view has changed when at least half of the tiles that can be judged have. A crowd or a stall
   * covers some tiles, a new framing all of them. Flat tiles are not judged.
   */
  private judgeScene(t: number, ignore: readonly Box[], frame: Frame): boolean {
    const o = this.options;
    this.lastSceneSimilarity = 1;
    if (t - this.startTime < o.warmupSec) return false;
    if (ignore.length > 0) this.clearBoxes(ignore, frame, this.settled);
    const sims: number[] = [];
    const judged: Array<[number, number]> = [];
    let changed = 0;
    for (let ty = 0; ty < TILES; ty++) {
      for (let tx = 0; tx < TILES; tx++) {
        const r = {
          x0: Math.floor((tx * this.aw) / TILES),
          x1: Math.floor(((tx + 1) * this.aw) / TILES),
          y0: Math.floor((ty * this.ah) / TILES),
          y1: Math.floor(((ty + 1) * this.ah) / TILES),
        };
        const area = (r.x1 - r.x0) * (r.y1 - r.y0);
        if (this.coveredShare(r, t) >= 0.5) continue;
        const sim = edgeSimilarityIn(this.grey, this.longBg, this.aw, this.ah, this.settled, r, o.sceneCutMinEdge, 0.2 * area);
        if (Number.isNaN(sim)) continue;
        const k = ty * TILES + tx;
        const usual = this.tileUsual[k]!;
        if (sim < o.sceneCutSimilarity || (!Number.isNaN(usual) && sim < usual - o.sceneCutDrop)) changed++;
        sims.push(sim);
        judged.push([k, sim]);
      }
    }
    if (sims.length === 0) return false;
    sims.sort((a, b) => a - b);
    this.lastSceneSimilarity = sims[sims.length >> 1]!;
    // Too few textured tiles (bare asphalt from above) is too little to tell a new view from a car.
    const dissimilar = judged.length >= (TILES * TILES) / 2 && changed >= 0.5 * judged.length;
    if (!dissimilar) {
      for (const [k, sim] of judged) {
        const u = this.tileUsual[k]!;
        this.tileUsual[k] = Number.isNaN(u) ? sim : u + 0.05 * (sim - u);
      }
    }
    return dissimilar;
  }

  /** Share of a rectangle's pixels under an ignore box within occluderMemorySec of t. */
  private coveredShare(r: { x0: number; y0: number; x1: number; y1: number }, t: number): number {
    let covered = 0;
    let total = 0;
    for (let y = r.y0; y < r.y1; y++) {
      for (let x = r.x0; x < r.x1; x++) {
        total++;
        if (t - this.lastCovered[y * this.aw + x]! <= this.options.occluderMemorySec) covered++;
      }
    }
    return total > 0 ? covered / total : 0;
  }

  /**
   * Ends the warm-up: the long-term background becomes the per-pixel median of the warm-up frames.
   * A running mean keeps a ghost of every car that passed while it was learning (and after a
   * relearn in traffic that ghost is reported as an object once the road shows again); the median
   * drops anything present in fewer than half of the frames.
   */
  private seedFromWarmup(): void {
    const frames = this.warmFrames;
    const covered = this.warmOccluded;
    this.warmFrames = [];
    this.warmOccluded = [];
    if (frames.length < 3) return;
    const vals = new Float32Array(frames.length);
    for (let i = 0; i < this.longBg.length; i++) {
      // Only frames where no vehicle or person covered the pixel vote; none: not known yet.
      let m = 0;
      for (let k = 0; k < frames.length; k++) if (!covered[k]![i]) vals[m++] = frames[k]![i]!;
      if (m === 0) {
        this.known[i] = 0;
        continue;
      }
      const v = vals.subarray(0, m).sort();
      this.longBg[i] = v[m >> 1]!;
      this.known[i] = 1;
    }
    this.fgSince.fill(NaN);
    this.staticSec.fill(0);
  }

  private components(): Component[] {
    const { aw, ah } = this;
    // Closing joins an object's fragments (edges that match the background, textured interiors).
    morph(this.cand, this.tmp, aw, ah, true);
    morph(this.tmp, this.closed, aw, ah, false);
    const { labels, count } = labelComponents(this.closed, aw, ah);
    if (count === 0) return [];
    // A component with no pixel left after a 3x3 erosion has no body: a line of changed pixels
    // along an edge (a kerb line where a vehicle stood, camera shake on a contour), not an object.
    morph(this.cand, this.tmp, aw, ah, false);
    const core = new Uint32Array(count);
    for (let i = 0; i < labels.length; i++) if (this.tmp[i] && labels[i]) core[labels[i]! - 1]!++;
    const boxes = Array.from({ length: count }, () => ({
      x1: Infinity,
      y1: Infinity,
      x2: -Infinity,
      y2: -Infinity,
      area: 0,
      onsets: [] as number[],
    }));
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (!l) continue;
      const c = boxes[l - 1]!;
      const x = i % aw;
      const y = (i - x) / aw;
      if (x < c.x1) c.x1 = x;
      if (y < c.y1) c.y1 = y;
      if (x + 1 > c.x2) c.x2 = x + 1;
      if (y + 1 > c.y2) c.y2 = y + 1;
      c.area++;
      if (this.cand[i]) c.onsets.push(this.fgSince[i]!);
    }
    const total = aw * ah;
    const edgeNow = new Float64Array(count);
    const edgeBg = new Float64Array(count);
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i]!;
      if (!l) continue;
      const x = i % aw;
      const y = (i - x) / aw;
      const inside = (xx: number, yy: number) => xx >= 0 && yy >= 0 && xx < aw && yy < ah && labels[yy * aw + xx] === l;
      if (inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1)) continue;
      edgeNow[l - 1]! += gradient(this.grey, aw, ah, x, y);
      edgeBg[l - 1]! += gradient(this.longBg, aw, ah, x, y);
    }
    const out: Component[] = [];
    for (let k = 0; k < count; k++) {
      const c = boxes[k]!;
      const frac = c.area / total;
      if (
        frac < this.options.minAreaFrac ||
        frac > this.options.maxAreaFrac ||
        c.onsets.length === 0 ||
        (this.options.requireCore && core[k] === 0)
      )
        continue;
      if (edgeNow[k]! < this.options.ghostEdgeRatio * edgeBg[k]!) {
        this.absorb(labels, k + 1);
        continue;
      }
      c.onsets.sort((a, b) => a - b);
      out.push({ box: { x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2 }, area: c.area, onset: c.onsets[c.onsets.length >> 1]! });
    }
    return out;
  }

  private clearBoxes(boxes: readonly Box[], frame: Frame, mask: Uint8Array = this.cand): void {
    this.markBoxes(boxes, frame, mask, 0);
  }

  /** Sets the analysis pixels under boxes (source px) to `value` in `mask`. */
  private markBoxes(boxes: readonly Box[], frame: Frame, mask: Uint8Array, value: number): void {
    const lb = frame.letterbox;
    const fx = this.aw / lb.srcWidth;
    const fy = this.ah / lb.srcHeight;
    for (const b of boxes) {
      const x1 = Math.max(0, Math.floor(b.x1 * fx));
      const x2 = Math.min(this.aw, Math.ceil(b.x2 * fx));
      const y1 = Math.max(0, Math.floor(b.y1 * fy));
      const y2 = Math.min(this.ah, Math.ceil(b.y2 * fy));
      for (let y = y1; y < y2; y++) mask.fill(value, y * this.aw + x1, y * this.aw + Math.max(x1, x2));
    }
  }

  /** Learns a component's pixels into the long-term background (used for ghosts). */
  private absorb(labels: Int32Array, label: number): void {
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== label) continue;
      this.longBg[i] = this.grey[i]!;
      this.fgSince[i] = NaN;
      this.staticSec[i] = 0;
    }
  }

  private track(comps: Component[], t: number): void {
    const pairs: { c: number; k: number; ov: number }[] = [];
    comps.forEach((c, ci) =>
      this.tracks.forEach((tr, k) => {
        const ov = overlapOfSmaller(c.box, tr.box);
        // IoU breaks ties when a track's old box contains several components.
        if (ov >= this.options.matchOverlap) pairs.push({ c: ci, k, ov: ov + iou(c.box, tr.box) });
      }),
    );
    pairs.sort((a, b) => b.ov - a.ov);
    const usedC = new Set<number>();
    const usedK = new Set<number>();
    for (const p of pairs) {
      if (usedC.has(p.c) || usedK.has(p.k)) continue;
      usedC.add(p.c);
      usedK.add(p.k);
      const tr = this.tracks[p.k]!;
      const c = comps[p.c]!;
      tr.box = c.box;
      tr.area = c.area;
      tr.lastSeen = t;
      tr.hits++;
    }
    for (const tr of this.tracks) tr.updates++;
    comps.forEach((c, ci) => {
      if (usedC.has(ci)) return;
      this.tracks.push({
        id: this.nextId++,
        box: c.box,
        area: c.area,
        firstSeen: Math.min(c.onset, t),
        lastSeen: t,
        createdAt: t,
        hits: 1,
        updates: 1,
      });
    });
    this.tracks = this.tracks.filter((tr) => t - tr.lastSeen <= this.options.maxMissSec);
  }

  private report(frame: Frame, t: number): StaticBlob[] {
    const lb = frame.letterbox;
    const sx = lb.srcWidth / this.aw;
    const sy = lb.srcHeight / this.ah;
    const total = this.aw * this.ah;
    const out: StaticBlob[] = [];
    for (const tr of this.tracks) {
      if (tr.lastSeen !== t) continue;
      const age = t - tr.firstSeen;
      if (age < this.options.minAgeSec) continue;
      out.push({
        id: tr.id,
        box: {
          x1: Math.max(0, tr.box.x1 * sx),
          y1: Math.max(0, tr.box.y1 * sy),
          x2: Math.min(lb.srcWidth, tr.box.x2 * sx),
          y2: Math.min(lb.srcHeight, tr.box.y2 * sy),
        },
        areaFrac: tr.area / total,
        firstSeen: tr.firstSeen,
        ageSec: age,
        persistence: Math.min(1, tr.hits / Math.max(1, tr.updates)),
      });
    }
    return out;
  }
}
