// Detection recall against hand-labelled boxes (fixtures/real/boxes/*.json): pure matching and
// tallies; the bench (test/bench/recall.bench.ts) and the regression test do the I/O.
import { z } from 'zod';
import type { Box, Detection } from '../types.js';
import { iou } from '../geometry/geometry.js';

const unitBox = z
  .tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)])
  .refine(([x1, y1, x2, y2]) => x2 > x1 && y2 > y1, { message: 'box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1' });

/** One clip's labelled frames; boxes in coordinates normalised to the source frame. */
export const labelledClipSchema = z
  .object({
    clip: z.string().regex(/^[^/\\]+$/, 'clip is a file name in the footage folder'),
    labelledBy: z.string().optional(),
    frames: z
      .array(
        z
          .object({
            /** Seconds from the start, as `ffmpeg -ss TIME -frames:v 1` extracts it. */
            time: z.number().min(0),
            width: z.number().int().positive(),
            height: z.number().int().positive(),
            boxes: z.array(z.object({ label: z.string().min(1), box: unitBox }).strict()),
            /** Regions too crowded or small to label (far car parks, window displays): nothing inside counts either way. */
            ignore: z.array(unitBox).default([]),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();
export type LabelledClip = z.infer<typeof labelledClipSchema>;
export type LabelledFrame = LabelledClip['frames'][number];

/** Labels one object is confused between count as one (as the tracker's label families do). */
export const MATCH_GROUPS: Readonly<Record<string, string>> = {
  person: 'person',
  bicycle: 'two-wheeler',
  motorcycle: 'two-wheeler',
  car: 'vehicle',
  truck: 'vehicle',
  bus: 'vehicle',
  train: 'vehicle',
};

export type SizeBucket = 'small' | 'medium' | 'large';
/** By box height in source pixels: what decides whether a small model can see it. */
export function sizeBucket(heightPx: number): SizeBucket {
  return heightPx < 32 ? 'small' : heightPx < 96 ? 'medium' : 'large';
}

export interface FrameScore {
  found: Record<SizeBucket, number>;
  total: Record<SizeBucket, number>;
  falsePositives: number;
  /** Labelled boxes no detection matched, in source px (for reading a report). */
  missed: Array<{ label: string; box: Box }>;
}

const toPx = ([x1, y1, x2, y2]: readonly number[], w: number, h: number): Box => ({ x1: x1! * w, y1: y1! * h, x2: x2! * w, y2: y2! * h });

/**
 * Greedy matching, best score first, of detections to labelled boxes of the same group at IoU
 * ≥ minIou. An unmatched detection is a false positive unless its centre lies in an ignore
 * region; labelled boxes whose centre lies in one are not counted either. Detections of labels
 * outside MATCH_GROUPS are not scored.
 */
export function scoreFrame(frame: LabelledFrame, detections: readonly Detection[], minIou = 0.5): FrameScore {
  const { width: w, height: h } = frame;
  const ignore = frame.ignore.map((b) => toPx(b, w, h));
  const inIgnore = (b: Box) => {
    const cx = (b.x1 + b.x2) / 2;
    const cy = (b.y1 + b.y2) / 2;
    return ignore.some((r) => cx >= r.x1 && cx <= r.x2 && cy >= r.y1 && cy <= r.y2);
  };
  const truth = frame.boxes
    .map((t) => ({ label: t.label, group: MATCH_GROUPS[t.label] ?? t.label, box: toPx(t.box, w, h), matched: false }))
    .filter((t) => !inIgnore(t.box));
  const score: FrameScore = {
    found: { small: 0, medium: 0, large: 0 },
    total: { small: 0, medium: 0, large: 0 },
    falsePositives: 0,
    missed: [],
  };
  for (const t of truth) score.total[sizeBucket(t.box.y2 - t.box.y1)]++;
  const dets = detections.filter((d) => MATCH_GROUPS[d.label]).sort((a, b) => b.score - a.score);
  for (const d of dets) {
    const group = MATCH_GROUPS[d.label];
    let best: (typeof truth)[number] | null = null;
    let bestIou = minIou;
    for (const t of truth) {
      if (t.matched || t.group !== group) continue;
      const v = iou(d.box, t.box);
      if (v >= bestIou) {
        bestIou = v;
        best = t;
      }
    }
    if (best) {
      best.matched = true;
      score.found[sizeBucket(best.box.y2 - best.box.y1)]++;
    } else if (!inIgnore(d.box)) {
      score.falsePositives++;
    }
  }
  score.missed = truth.filter((t) => !t.matched).map((t) => ({ label: t.label, box: t.box }));
  return score;
}

/** Sums frame scores. */
export function addScores(scores: readonly FrameScore[]): FrameScore {
  const sum: FrameScore = {
    found: { small: 0, medium: 0, large: 0 },
    total: { small: 0, medium: 0, large: 0 },
    falsePositives: 0,
    missed: [],
  };
  for (const s of scores) {
    for (const k of ['small', 'medium', 'large'] as const) {
      sum.found[k] += s.found[k];
      sum.total[k] += s.total[k];
    }
    sum.falsePositives += s.falsePositives;
    sum.missed.push(...s.missed);
  }
  return sum;
}
