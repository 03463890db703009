// Publishes a camera's live debug record (infra/stores/live-store.ts) from the frame loop: at most
// one per `intervalSec`, built synchronously from the frame just analysed (the engine moves on with
// the next one), JPEG-encoded off the loop with sharp. One encode in flight per camera: if the last
// is still running, the frame is skipped rather than queued.
// Only while someone watches the camera (the API marks it on every live read, LIVE_WATCH_SEC): the
// copy and encode cost ~4 ms of main-thread CPU and ~300 KB of garbage per frame, for pictures that
// almost never have a viewer. The mark is checked off the frame loop and the answer cached for
// `watchRecheckMs`, so an unwatched frame costs a comparison.
import { performance } from 'node:perf_hooks';
import { openImage } from '../pipeline/evidence/annotate.js';
import type { RulesEngine, SubjectDecision } from '../pipeline/rules/engine.js';
import type { Frame, FrameDetections, Track } from '../pipeline/types.js';
import type { CameraRecord } from '../infra/stores/camera-store.js';
import { DEFAULT_LIVE_WATCH_SEC, type LiveBox, type LiveRecord, type LiveStore, type LiveSubject } from '../infra/stores/live-store.js';

export interface LiveOptions {
  /** Seconds between two records of one camera; 0 = off. */
  intervalSec: number;
  ttlSec: number;
  /** The JPEG is downscaled to at most this width. */
  maxWidth: number;
  /** JPEG quality 1..100. */
  quality: number;
  /** LIVE_WATCH_SEC: > 0 publishes only while the camera is marked watched; 0 always publishes. */
  watchSec: number;
  /** How long a watched / not watched answer is trusted before Redis is asked again. */
  watchRecheckMs: number;
}

export const DEFAULT_LIVE_OPTIONS: LiveOptions = {
  intervalSec: 1,
  ttlSec: 30,
  maxWidth: 960,
  quality: 70,
  watchSec: DEFAULT_LIVE_WATCH_SEC,
  watchRecheckMs: 2000,
};

const r1 = (v: number) => Math.round(v * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;
const box = (b: { x1: number; y1: number; x2: number; y2: number }): LiveBox => [r1(b.x1), r1(b.y1), r1(b.x2), r1(b.y2)];

/** A judged (subject, class, zone) as the console shows it. */
export function liveSubject(d: SubjectDecision): LiveSubject {
  const status: LiveSubject['status'] = !d.hit ? 'refused' : d.phase === 'confirmed' || d.phase === 'active' ? 'confirmed' : 'candidate';
  const out: LiveSubject = {
    trackId: d.trackId,
    subject: d.subject,
    label: d.label,
    classId: d.classId,
    zoneId: d.zoneId,
    status,
    phase: d.phase,
  };
  if (d.memberIds?.length) out.memberIds = [...d.memberIds];
  if (!d.hit && d.rule) {
    out.rule = d.rule;
    if (d.detail) out.detail = d.detail;
  }
  return out;
}

/** The live record of one analysed frame (without its picture). Pure. */
export function buildLiveRecord(
  camera: Pick<CameraRecord, 'id' | 'version' | 'config'>,
  det: FrameDetections,
  tracks: readonly Track[],
  decisions: readonly SubjectDecision[],
): Omit<LiveRecord, 'frame'> {
  const t = det.streamTime;
  return {
    cameraId: camera.id,
    configVersion: camera.version,
    frameIndex: det.frameIndex,
    streamTime: r3(t),
    wallTime: det.wallTime,
    sourceWidth: det.sourceWidth,
    sourceHeight: det.sourceHeight,
    detections: det.detections.map((d) => ({ label: d.label, score: r3(d.score), box: box(d.box) })),
    tracks: tracks
      .filter((tr) => tr.lastSeen === t)
      .map((tr) => ({
        id: tr.id,
        label: tr.label,
        score: r3(tr.score),
        box: box(tr.box),
        state: tr.state,
        ageSec: r3(t - tr.firstSeen),
        ...(tr.stationary && typeof tr.stationarySince === 'number' ? { stationarySec: r3(t - tr.stationarySince) } : {}),
      })),
    subjects: decisions.map(liveSubject),
    zones: camera.config.zones.map((z) => ({
      id: z.id,
      ...(z.name !== undefined ? { name: z.name } : {}),
      type: z.type,
      polygon: z.polygon,
    })),
  };
}

/**
 * The picture the detector saw: the model input without its letterbox padding (a copy: the source
 * may reuse its buffer), with the source's aspect ratio for the encoder (stretched model inputs).
 */
export function analysedPicture(frame: Frame): {
  raw: Buffer;
  width: number;
  height: number;
  pixelFormat: Frame['pixelFormat'];
  aspect: number;
} {
  const { scaledWidth, scaledHeight, dstWidth, srcWidth, srcHeight } = frame.letterbox;
  const rowBytes = scaledWidth * 3;
  const raw = Buffer.allocUnsafe(rowBytes * scaledHeight);
  for (let y = 0; y < scaledHeight; y++) frame.data.copy(raw, y * rowBytes, y * dstWidth * 3, y * dstWidth * 3 + rowBytes);
  return { raw, width: scaledWidth, height: scaledHeight, pixelFormat: frame.pixelFormat, aspect: srcWidth / srcHeight };
}

/**
 * JPEG of a raw picture at the source's aspect ratio (a stretched model input is unstretched),
 * downscaled to `maxWidth` when wider. encodeMs is the wall time of the conversion and encode.
 */
export async function encodeLiveJpeg(
  pic: ReturnType<typeof analysedPicture>,
  maxWidth: number,
  quality: number,
): Promise<{ jpeg: Buffer; width: number; height: number; encodeMs: number }> {
  const t0 = performance.now();
  const opened = await openImage(pic);
  let image = opened.image;
  const width = Math.min(opened.width, maxWidth);
  const height = Math.max(1, Math.round(width / pic.aspect));
  if (width !== opened.width || height !== opened.height) image = image.resize(width, height, { fit: 'fill' });
  const jpeg = await image.jpeg({ quality }).toBuffer();
  return { jpeg, width, height, encodeMs: r3(performance.now() - t0) };
}

export class LivePublisher {
  private lastAt = -Infinity;
  private busy = false;
  private failures = 0;
  private watched = false;
  private watchCheckedAt = -Infinity;
  private watchChecking = false;
  private readonly opts: LiveOptions;
  /** Encodes done and their summed wall time; frames passed over because nobody watched; mark checks. */
  readonly stats = { published: 0, skippedBusy: 0, encodeMs: 0, skippedUnwatched: 0, watchChecks: 0 };

  constructor(
    private readonly store: LiveStore,
    opts: Partial<LiveOptions> & Pick<LiveOptions, 'intervalSec'>,
    private readonly log: (msg: string, extra?: Record<string, unknown>) => void,
  ) {
    this.opts = { ...DEFAULT_LIVE_OPTIONS, ...opts };
  }

  get enabled(): boolean {
    return this.opts.intervalSec > 0;
  }

  /** No encode/publish and no watch-mark check in flight (tests and the bench wait for it). */
  get idle(): boolean {
    return !this.busy && !this.watchChecking;
  }

  /** Called after every analysed frame; cheap unless a record is due. */
  offer(camera: CameraRecord, frame: Frame, det: FrameDetections, engine: RulesEngine, now = Date.now()): void {
    if (!this.enabled || now - this.lastAt < this.opts.intervalSec * 1000) return;
    if (this.opts.watchSec > 0 && !this.isWatched(camera.id, now)) {
      this.stats.skippedUnwatched++;
      return;
    }
    if (this.busy) {
      this.stats.skippedBusy++;
      return;
    }
    this.lastAt = now;
    const record = buildLiveRecord(camera, det, engine.tracks, engine.lastDecisions);
    const pic = analysedPicture(frame);
    this.busy = true;
    void this.publish(record, pic).finally(() => (this.busy = false));
  }

  /**
   * The cached answer; asks Redis again (without waiting for it) once it is older than
   * watchRecheckMs. A camera that becomes watched publishes from the first frame after the answer.
   */
  private isWatched(cameraId: string, now: number): boolean {
    if (!this.watchChecking && now - this.watchCheckedAt >= this.opts.watchRecheckMs) {
      this.watchChecking = true;
      this.stats.watchChecks++;
      this.store
        .isWatched(cameraId)
        .then(
          (w) => (this.watched = w),
          (err: unknown) => {
            // Unknown counts as not watched: an outage must not make every camera encode.
            this.watched = false;
            this.warn('live watch mark not readable', err);
          },
        )
        .finally(() => {
          this.watchCheckedAt = now;
          this.watchChecking = false;
        });
    }
    return this.watched;
  }

  private async publish(record: Omit<LiveRecord, 'frame'>, pic: ReturnType<typeof analysedPicture>): Promise<void> {
    let frame: LiveRecord['frame'] = null;
    let jpeg: Buffer | null = null;
    try {
      const enc = await encodeLiveJpeg(pic, this.opts.maxWidth, this.opts.quality);
      jpeg = enc.jpeg;
      frame = { width: enc.width, height: enc.height, bytes: enc.jpeg.length, encodeMs: enc.encodeMs };
      this.stats.encodeMs += enc.encodeMs;
    } catch (err) {
      this.warn('live frame encode failed', err);
    }
    try {
      await this.store.publish({ ...record, frame }, jpeg, this.opts.ttlSec);
      this.stats.published++;
      this.failures = 0;
    } catch (err) {
      this.warn('live record not published', err);
    }
  }

  /** The first failure of a run is logged, then one in a hundred (a Redis outage must not flood the log). */
  private warn(msg: string, err: unknown): void {
    if (this.failures++ % 100 === 0) this.log(msg, { error: (err as Error).message, failures: this.failures });
  }
}
