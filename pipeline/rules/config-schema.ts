// Camera configuration as data: one schema shared by the CLI, the workers and the HTTP API, so
// an operator's change is validated the same way wherever it enters.
import { z } from 'zod';
import { staticChangeSchema } from './static-change-schema.js';
import { trackerTuningSchema } from '../track/byte-tracker.js';
import { polygonProblem } from '../geometry/geometry.js';
import { CLASS_IDS } from './catalog.js';

import { ZONE_TYPES, type ZoneType } from './zone-types.js';

export { ZONE_TYPES, type ZoneType };

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'time must be HH:MM (00:00–24:00)');

/** Weekly time windows. `days` uses ISO weekdays 1 = Monday … 7 = Sunday. */
export const scheduleSchema = z.object({
  /**
   * `enforce`: rules apply only inside the windows; `exempt`: rules apply except inside them
   * (e.g. a night market where vending is allowed 18:00–23:00).
   */
  mode: z.enum(['enforce', 'exempt']).default('enforce'),
  // Checked here, not when the schedule is first evaluated: a typo must fail the config, not
  // silently disable a rule at 3 a.m.
  timezone: z
    .string()
    .min(1)
    .superRefine((tz, ctx) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
      } catch {
        ctx.addIssue({ code: 'custom', message: `unknown IANA timezone "${tz}" (e.g. "Asia/Shanghai")` });
      }
    })
    .default('Asia/Shanghai'),
  windows: z
    .array(
      z
        .object({
          days: z.array(z.number().int().min(1).max(7)).min(1).default([1, 2, 3, 4, 5, 6, 7]),
          start: hhmm,
          end: hhmm,
        })
        .superRefine((w, ctx) => {
          // start > end means the window crosses midnight; start = end has no sensible reading.
          if (w.start === '24:00') ctx.addIssue({ code: 'custom', path: ['start'], message: 'a window cannot start at 24:00 (use 00:00)' });
          else if (w.start === w.end)
            ctx.addIssue({
              code: 'custom',
              path: ['end'],
              message: `window is empty (start = end = ${w.start}); use 00:00–24:00 for all day`,
            });
        }),
    )
    .min(1),
});
export type Schedule = z.infer<typeof scheduleSchema>;

const normPoint = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);

export const membershipSchema = z.discriminatedUnion('mode', [
  /**
   * A box is in the zone when its bottom-centre (the footprint on the ground) is inside, at least
   * insideMargin × the box height away from the polygon's edges (edges drawn along the frame
   * border do not count: nothing lies beyond them). Without a margin a car parked in a legal row
   * whose box bottom touches the lane line flips in and out of a no-parking lane on a few pixels.
   * Default DEFAULT_INSIDE_MARGIN (0.1).
   */
  z.object({ mode: z.literal('footprint'), insideMargin: z.number().min(0).max(2).optional() }),
  /** A box is in the zone when at least minRatio of its area lies inside the polygon. */
  z.object({ mode: z.literal('overlap'), minRatio: z.number().gt(0).max(1).default(0.5) }),
]);
export type Membership = z.infer<typeof membershipSchema>;

export const zoneSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'zone id: 1–64 of A-Z a-z 0-9 _ . -'),
    name: z.string().max(200).optional(),
    type: z.enum(ZONE_TYPES),
    polygon: z.array(normPoint),
    membership: membershipSchema.default({ mode: 'footprint' }),
    schedule: scheduleSchema.optional(),
    /** For bike_area / bike_fence / crowd_area: how many subjects the zone holds before it is over capacity. */
    capacity: z.number().int().positive().optional(),
  })
  .superRefine((zone, ctx) => {
    const problem = polygonProblem(zone.polygon);
    if (problem) ctx.addIssue({ code: 'custom', path: ['polygon'], message: problem });
  });
export type Zone = z.infer<typeof zoneSchema>;

/** Per-class overrides; anything left out falls back to the catalog default for that class. */
export const classOverrideSchema = z
  .object({
    enabled: z.boolean().optional(),
    /** Minimum detector score for a detection to count as a hit. */
    minScore: z.number().min(0).max(1).optional(),
    /** Median of the subject's recent scores must reach this to confirm. */
    minMedianScore: z.number().min(0).max(1).optional(),
    /** Seconds a subject must be present (within max gap) before it is confirmed. */
    minDwellSec: z.number().min(0).max(86_400).optional(),
    /** N of M: hits within the last `window` analysed frames. */
    minHits: z.number().int().min(1).max(10_000).optional(),
    window: z.number().int().min(1).max(10_000).optional(),
    /** Occlusion tolerance: absence shorter than this keeps the episode open. */
    maxGapSec: z.number().min(0).max(86_400).optional(),
    /** After an episode clears, no new episode for this subject for this long. */
    cooldownSec: z.number().min(0).max(86_400).optional(),
    /** A reappearance within this window after clearing continues the same episode. */
    mergeWindowSec: z.number().min(0).max(86_400).optional(),
    /** Optional warning stage: warn after warnAfterSec, escalate after warnAfterSec + graceSec. */
    warnAfterSec: z.number().min(0).max(86_400).optional(),
    graceSec: z.number().min(0).max(86_400).optional(),
    /** For count-based classes (crowd, bike disorder): how many subjects make a violation. */
    minCount: z.number().int().min(1).max(10_000).optional(),
    /** Crowd: members of one gathering stand within this many person heights of a neighbour. */
    clusterGap: z.number().gt(0).max(20).optional(),
    /** People dwell classes: a person cut by the frame border may still be a hit (default false). */
    allowBorderCut: z.boolean().optional(),
    schedule: scheduleSchema.optional(),
  })
  .strict();
export type ClassOverride = z.infer<typeof classOverrideSchema>;

export const analysisSchema = z
  .object({
    /** Analysed frames per second (ffmpeg fps filter). */
    fps: z.number().gt(0).max(30).default(2),
    /** Decode only keyframes (-skip_frame nokey): cheap, for fps well below the GOP rate. Same as decode: 'keyframes'. */
    keyframesOnly: z.boolean().default(false),
    /**
     * Live cameras: 'auto' decodes keyframes only when the analysed fps is at most the stream's
     * keyframe rate (probed on every connect), else every frame; 'keyframes' / 'full' force a mode.
     * Files are always fully decoded unless 'keyframes' (or keyframesOnly) is set.
     */
    decode: z.enum(['auto', 'keyframes', 'full']).default('auto'),
    /** Detector model manifest name. */
    model: z.string().min(1).default('yolox_nano'),
    /**
     * Tiled inference for far objects (SAHI): the source is also cut into cols x rows overlapping
     * crops, each run through the model at its input size, and the boxes merged with the full
     * frame's. Costs one extra inference per tile and frame (see README for measured figures);
     * off by default, worth it only when the source is well above the model input (e.g. 1080p).
     */
    tiling: z
      .object({
        enabled: z.boolean().default(false),
        cols: z.number().int().min(1).max(4).default(2),
        rows: z.number().int().min(1).max(4).default(2),
        /** Fraction of a tile shared with its neighbour, so an object on a border is whole in one tile. */
        overlap: z.number().min(0).max(0.5).default(0.2),
        /** Also run the whole frame (large objects span tiles); off only to save one inference. */
        includeFullFrame: z.boolean().default(true),
        /** Same-label boxes above this IoU are one object. */
        mergeIou: z.number().gt(0).max(1).default(0.5),
        /** A box cut by a tile border lying this much (intersection over the smaller box) inside another merges into it. */
        mergeIos: z.number().gt(0).max(1).default(0.6),
      })
      .strict()
      .default({ enabled: false, cols: 2, rows: 2, overlap: 0.2, includeFullFrame: true, mergeIou: 0.5, mergeIos: 0.6 }),
    /**
     * OCR of text zones (wall, storefront …): read from crops of the source picture cut before the
     * resize to the model input (`sourceResolution`), at most `maxSide` px on their longer side.
     * Poster text 20–40 px tall in a 1080p picture is 5–9 px at a 416 px model input, too small to
     * read. Off: OCR runs on the model-size frame (cheaper, fine for large lettering).
     */
    text: z
      .object({
        sourceResolution: z.boolean().default(true),
        maxSide: z.number().int().min(32).max(4096).default(960),
      })
      .strict()
      .default({ sourceResolution: true, maxSide: 960 }),
    /** Detections below this score are dropped before tracking. */
    scoreThreshold: z.number().min(0).max(1).default(0.1),
    nmsIou: z.number().gt(0).max(1).default(0.45),
    /**
     * Rigid objects the detector may report twice when partly hidden (whole plus visible part): a
     * box of one of these labels lying this much (intersection over its own area) inside a
     * higher-scored box of the same label is dropped. People are not listed: in a crowd a person
     * standing behind another is a real second person.
     */
    containedParts: z
      .object({
        ratio: z.number().gt(0).max(1).default(0.85),
        /** A part is at most this fraction of its whole's area; equal-sized overlapping boxes stay two objects. */
        maxAreaRatio: z.number().gt(0).max(1).default(0.75),
        labels: z.array(z.string().min(1)).max(100).default(['bicycle', 'motorcycle', 'car', 'bus', 'truck']),
      })
      .strict()
      .default({ ratio: 0.85, maxAreaRatio: 0.75, labels: ['bicycle', 'motorcycle', 'car', 'bus', 'truck'] }),
    /**
     * Labels the detector confuses on one object. Overlapping boxes of one family are one object
     * (the best-scored box stays), and a track keeps its id across a flip, taking the label with
     * the most score over its recent history.
     */
    labelFamilies: z
      .array(z.array(z.string().min(1)).min(2).max(20))
      .max(20)
      .refine((fams) => new Set(fams.flat()).size === fams.flat().length, { message: 'a label may belong to one family only' })
      .default([
        ['bicycle', 'motorcycle'],
        ['car', 'truck', 'bus'],
      ]),
    /** Static-change detector tuning (see pipeline/detect/static-change.ts for defaults and meaning). */
    staticChange: staticChangeSchema
      .partial()
      .strict()
      .refine((o) => o.longTermRate === undefined || o.shortTermRate === undefined || o.longTermRate < o.shortTermRate, {
        message: 'longTermRate must be below shortTermRate',
      })
      .optional(),
    /** Tracker tuning (see pipeline/track/byte-tracker.ts for defaults and meaning). */
    tracker: trackerTuningSchema.partial().strict().optional(),
    /**
     * A subject that vanished where it stood (occlusion, a new track id) is continued by a newcomer
     * of the same class and zone whose box overlaps its last box by at least `minIou` (default 0.5),
     * unless both carry a colour histogram and their appearance distance (Hellinger, 0–1) is above
     * `maxAppearanceDistance` (default 0.5): at 0.25–1 fps nobody is seen walking off, and the next
     * person standing in the same spot is a newcomer, not the same one back.
     */
    reassociation: z
      .object({
        minIou: z.number().gt(0).max(1).optional(),
        maxAppearanceDistance: z.number().gt(0).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Default padding of a suppression drawn around a rejected case's box, per side, as a fraction of
 * the box's width (left/right) and height (top/bottom): a parked car's box jitters by a few pixels
 * between frames, so the exact box would let the next sighting through.
 */
export const DEFAULT_SUPPRESSION_PADDING = 0.1;

/**
 * "Not this class here": an operator rejected a case as a false positive and asked that the camera
 * not raise that class in that spot again. The rules engine refuses a subject of `classId` whose
 * footprint (bottom centre of its box) lies inside the polygon, with rule `suppressed`.
 */
export const suppressionSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'suppression id: 1–64 of A-Z a-z 0-9 _ . -'),
    classId: z.string().min(1).max(64),
    polygon: z.array(normPoint),
    /** The rejected case it was made from. */
    createdFrom: z.string().max(100).optional(),
    reason: z.string().max(1000).optional(),
    createdAt: z.number().int().nonnegative().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const problem = polygonProblem(s.polygon);
    if (problem) ctx.addIssue({ code: 'custom', path: ['polygon'], message: problem });
  });
export type Suppression = z.infer<typeof suppressionSchema>;

export const cameraConfigSchema = z
  .object({
    camera: z
      .object({
        id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'camera id: 1–64 of A-Z a-z 0-9 _ . -'),
        name: z.string().max(200).optional(),
        timezone: z.string().min(1).default('Asia/Shanghai'),
        /** Where the camera stands (WGS 84), for case exports and maps. */
        location: z
          .object({
            lat: z.number().min(-90).max(90),
            lon: z.number().min(-180).max(180),
            address: z.string().max(300).optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
    analysis: analysisSchema.default(() => analysisSchema.parse({})),
    zones: z.array(zoneSchema).default([]),
    classes: z.record(z.string(), classOverrideSchema).default({}),
    /** Regions where a class is not raised (made from rejected cases; optional, none by default). */
    suppressions: z.array(suppressionSchema).max(1000).optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.zones.forEach((zone, i) => {
      if (seen.has(zone.id)) ctx.addIssue({ code: 'custom', path: ['zones', i, 'id'], message: `duplicate zone id "${zone.id}"` });
      seen.add(zone.id);
    });
    const sups = new Set<string>();
    cfg.suppressions?.forEach((sup, i) => {
      if (sups.has(sup.id))
        ctx.addIssue({ code: 'custom', path: ['suppressions', i, 'id'], message: `duplicate suppression id "${sup.id}"` });
      sups.add(sup.id);
      if (!CLASS_IDS.includes(sup.classId))
        ctx.addIssue({
          code: 'custom',
          path: ['suppressions', i, 'classId'],
          message: `unknown violation class "${sup.classId}" (known: ${CLASS_IDS.join(', ')})`,
        });
    });
    // A misspelt class id would otherwise be ignored and the operator's override silently lost.
    for (const id of Object.keys(cfg.classes)) {
      if (!CLASS_IDS.includes(id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['classes', id],
          message: `unknown violation class "${id}" (known: ${CLASS_IDS.join(', ')})`,
        });
      }
    }
  });
export type CameraConfig = z.infer<typeof cameraConfigSchema>;
export type CameraConfigInput = z.input<typeof cameraConfigSchema>;

/** Formats zod issues as "path: message" lines so a 400 or a CLI error names the field. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}
