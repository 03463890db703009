// The live debug view of a camera: the worker holding it writes its latest analysed frame's record
// (detections, tracks, the rules engine's decision per subject) and the picture as a JPEG, with a
// short TTL so a camera nobody analyses any more simply has none. The API reads them for the
// operator console (GET /v1/cameras/:id/live, /live/frame), and every such read marks the camera
// "watched" for LIVE_WATCH_SEC: workers publish only for watched cameras (the JPEG encode is the
// dearest per-frame work nobody needs while no console shows the camera).
import type { Redis } from 'ioredis';
import type { Phase } from '../../pipeline/rules/debounce.js';
import type { Zone } from '../../pipeline/rules/config-schema.js';
import { Keys } from '../redis.js';

/** [x1, y1, x2, y2] in source pixels. */
export type LiveBox = [number, number, number, number];

export interface LiveSubject {
  trackId: number | null;
  subject: string;
  memberIds?: number[];
  label: string;
  classId: string;
  zoneId: string | null;
  status: 'candidate' | 'confirmed' | 'refused';
  phase: Phase | null;
  rule?: string;
  detail?: string;
}

export interface LiveRecord {
  cameraId: string;
  configVersion: number;
  frameIndex: number;
  streamTime: number;
  wallTime: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: { label: string; score: number; box: LiveBox }[];
  tracks: {
    id: number;
    label: string;
    score: number;
    box: LiveBox;
    state: 'tentative' | 'confirmed' | 'lost';
    ageSec: number;
    stationarySec?: number;
  }[];
  subjects: LiveSubject[];
  zones: Pick<Zone, 'id' | 'name' | 'type' | 'polygon'>[];
  /** The JPEG stored beside the record (null when none: encoding failed). */
  frame: { width: number; height: number; bytes: number; encodeMs: number } | null;
}

/** Seconds a read of a camera's live view keeps the camera watched (LIVE_WATCH_SEC's default). */
export const DEFAULT_LIVE_WATCH_SEC = 30;

/**
 * How long (ms) the API's reads mark a camera watched for LIVE_WATCH_SEC `sec`. 0 (workers always
 * publish) still marks for the default, so a worker with another setting keeps publishing.
 */
export const liveWatchMs = (sec: number | undefined): number => (sec || DEFAULT_LIVE_WATCH_SEC) * 1000;

export class LiveStore {
  readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
  }

  private recordKey(cameraId: string): string {
    return this.keys.k('live', cameraId);
  }
  private frameKey(cameraId: string): string {
    return this.keys.k('live-frame', cameraId);
  }

  private watchKey(cameraId: string): string {
    return this.keys.k('live-watch', cameraId);
  }

  /** Marks the camera watched for `ms` (a refresh restarts the time): its worker publishes meanwhile. */
  async watch(cameraId: string, ms: number): Promise<void> {
    await this.redis.set(this.watchKey(cameraId), '1', 'PX', Math.max(1, Math.round(ms)));
  }

  async isWatched(cameraId: string): Promise<boolean> {
    return (await this.redis.exists(this.watchKey(cameraId))) === 1;
  }

  /** Milliseconds the watch mark has left (-2 none, -1 no expiry: Redis' PTTL), for tests and diagnostics. */
  async watchTtlMs(cameraId: string): Promise<number> {
    return this.redis.pttl(this.watchKey(cameraId));
  }

  /** Replaces the camera's live record (and its JPEG, or drops a stale one), both expiring after ttlSec. */
  async publish(rec: LiveRecord, jpeg: Buffer | null, ttlSec: number): Promise<void> {
    const ttl = Math.max(1, Math.round(ttlSec));
    const m = this.redis.multi().set(this.recordKey(rec.cameraId), JSON.stringify(rec), 'EX', ttl);
    if (jpeg) m.set(this.frameKey(rec.cameraId), jpeg, 'EX', ttl);
    else m.del(this.frameKey(rec.cameraId));
    await m.exec();
  }

  async get(cameraId: string): Promise<LiveRecord | null> {
    const raw = await this.redis.get(this.recordKey(cameraId));
    if (!raw) return null;
    try {
      return JSON.parse(raw) as LiveRecord;
    } catch {
      return null;
    }
  }

  async getFrame(cameraId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.frameKey(cameraId));
  }
}
