// The static-change detector's tuning as data: the schema a camera config's analysis.staticChange is
// checked against (every field optional there) and the detector's option type is derived from. Kept
// in rules/ beside the camera-config schema, which is pure; the detector (pipeline/detect/static-change.ts)
// holds the defaults and the meaning in use.
import { z } from 'zod';

/** Tuning of the static-change detector (camera config `analysis.staticChange`, where every field is optional). */
export const staticChangeSchema = z.object({
  /** Width (px) of the greyscale analysis image; height follows the source aspect. Default 160. */
  width: z.number().int().min(16).max(1920),
  /**
   * Fraction of the gap to the current frame that the long-term background closes per second,
   * on background pixels. Default 0.02 (time constant ≈ 50 s).
   */
  longTermRate: z.number().gt(0).lt(1),
  /**
   * Same for the short-term background (all pixels). Sets how quickly a stopped object starts to
   * count as static. Default 0.5 (an object is absorbed within ~2–4 s).
   */
  shortTermRate: z.number().gt(0).max(1),
  /** Grey-level difference (0..255, after global brightness compensation) that counts as change. Default 25. */
  diffThreshold: z.number().gt(0).max(255),
  /** Smallest blob reported, as a fraction of the image area. Default 0.001. */
  minAreaFrac: z.number().min(0).max(1),
  /** Largest blob, as a fraction of the image area; bigger changes are lighting or camera moves. Default 0.25. */
  maxAreaFrac: z.number().gt(0).max(1),
  /** Seconds an object must have been present before its blob is reported. Default 10. */
  minAgeSec: z.number().min(0).max(86_400),
  /**
   * Seconds a pixel must have been static (matching the short-term model while differing from the
   * long-term one) before it may join a blob. Rejects slowly walking people. Default 2.
   */
  minStaticSec: z.number().min(0).max(3600),
  /**
   * After this many seconds a still-present object is absorbed into the long-term background: the
   * scene has changed for good and reporting it forever helps nobody. Default 1800.
   */
  absorbAfterSec: z
    .number()
    .min(0)
    .max(7 * 86_400),
  /** Start-up period (s) in which the long-term model is a running mean of all frames. Default 4. */
  warmupSec: z.number().min(0).max(3600),
  /** If more than this fraction of pixels differs from the long-term model, the camera moved: relearn. Default 0.6. */
  sceneChangeFrac: z.number().min(0).max(1),
  /**
   * Scene-cut test that survives similar-looking views (a PTZ preset change, a video-wall switch to
   * another road camera): the correlation of the frame's edge map with the long-term background's
   * edge map, per tile of a 4 × 4 grid. Traffic and objects dent a few tiles; a different view drops
   * most of them for good. Half the judged tiles below this (or sceneCutDrop below their usual
   * level) for sceneCutSec in a row means the view changed: relearn. Default 0.5.
   */
  sceneCutSimilarity: z.number().min(0).max(1),
  /** Seconds the edge similarity must stay below sceneCutSimilarity. Default 2. */
  sceneCutSec: z.number().min(0).max(3600),
  /**
   * Relative form of the same test: a drop of this much below the camera's own usual similarity
   * (a slow average of it) also counts. Catches small zooms and nudges on a sharp view (usual 0.95,
   * after a 0.5 % zoom 0.72) without firing on a noisy one whose usual level is low. Default 0.15.
   */
  sceneCutDrop: z.number().min(0).max(1),
  /**
   * Mean edge strength (grey levels per pixel) the background needs before its edges are compared:
   * on bare asphalt seen from above the edge map is mostly noise, and camera auto-exposure alone
   * decorrelates it. Default 6 (street scenes measure 15–30, a top-down car park about 4).
   */
  sceneCutMinEdge: z.number().min(0).max(255),
  /** A component keeps a tracked blob's id when their boxes overlap by this fraction of the smaller box. Default 0.3. */
  matchOverlap: z.number().min(0).max(1),
  /** Seconds a tracked blob survives without a matching component (e.g. hidden by passers-by). Default 4. */
  maxMissSec: z.number().min(0).max(3600),
  /** Frame gaps longer than this (s, e.g. a reconnect) are treated as this long for learning. Default 5. */
  maxGapSec: z.number().gt(0).max(3600),
  /**
   * Removed-object ("ghost") test: a blob whose outline has less edge energy in the current frame
   * than ghostEdgeRatio × its outline in the long-term background is where something LEFT (a
   * parked car drove off, a person who stood there at start-up walked away). It is learnt into
   * the background instead of reported. Default 1.
   */
  ghostEdgeRatio: z.number().min(0).max(100),
  /**
   * The long-term background is not learnt under the `ignore` boxes (detected vehicles and people):
   * a truck standing over the road must not become the road, and what it leaves behind must still
   * be a change when it drives off. A pixel covered in every warm-up frame has no background yet;
   * it takes the picture the first time it is seen uncovered (the revealed road), so an object that
   * lands there afterwards is a change. Default true.
   */
  freezeUnderIgnore: z.boolean(),
  /**
   * Scene-cut tiles that an ignore box (a vehicle, a person) covered for the most part within this
   * many seconds are not judged: a lorry that filled half the view driving off changes those tiles
   * as much as a new view would, and relearning then would learn what it left behind (a dumped
   * bag) as background. Detectors lose a large vehicle for seconds at a time (frame-filling,
   * low scores), hence the memory. Default 10.
   */
  occluderMemorySec: z.number().min(0).max(3600),
  /**
   * Blobs must have a body: at least one pixel that survives a 3x3 erosion of the change mask.
   * Thin lines of change (a kerb edge revealed where a lorry stood, a contour under camera shake)
   * are not objects. Default true.
   */
  requireCore: z.boolean(),
});
