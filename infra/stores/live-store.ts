// The live debug view of a camera: the worker holding it writes its latest analysed frame's record
// (detections, tracks, the rules engine's decision per subject) and the picture as a JPEG, with a
// short TTL so a camera nobody analyses any more simply has none. The API reads them for the
// operator console (GET /v1/cameras/:id/live, /live/frame).
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
