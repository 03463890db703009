// Camera health as the platform sees it: connecting / online / stalled / offline with the reason and
// the time the state began, plus liveness details the worker refreshes (last frame, recorder). Only a
// change of state is an event for the platform; the details are for dashboards and failover checks.
import type { Redis } from 'ioredis';
import { Keys } from '../redis.js';

export const HEALTH_STATES = ['connecting', 'online', 'stalled', 'offline', 'disabled'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface CameraHealth {
  cameraId: string;
  state: HealthState;
  reason: string | null;
  /** Epoch ms when this state began. */
  since: number;
  /** Worker currently analysing the camera. */
  workerId: string | null;
  updatedAt: number;
  lastFrameAt: number | null;
  frames: number;
  lastSegmentAt: number | null;
  recorderRestarts: number;
  /** Decoding mode of the current connection (keyframes / full), why, and the probed GOP (s). */
  decode: 'keyframes' | 'full' | null;
  decodeReason: string | null;
  keyframeInterval: number | null;
  /** Frames per second the decode mode yields, and what was analysed over the last heartbeat period. */
  effectiveFps: number | null;
  analysedFps: number | null;
}

/** Per-connection analysis figures a worker reports with its heartbeat. */
export interface AnalysisHealth {
  decode: 'keyframes' | 'full' | null;
  decodeReason: string | null;
  keyframeInterval: number | null;
  effectiveFps: number | null;
  analysedFps: number | null;
}

// KEYS: health key. ARGV: state, reason, since, workerId, now. Returns 1 when the state changed.
const SET_STATE_LUA = `
local cur = redis.call('HGET', KEYS[1], 'state')
if cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'reason', ARGV[2], 'workerId', ARGV[4], 'updatedAt', ARGV[5])
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'reason', ARGV[2], 'since', ARGV[3], 'workerId', ARGV[4], 'updatedAt', ARGV[5])
return 1
`;

export class HealthStore {
  readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
  }

  private key(cameraId: string): string {
    return this.keys.k('health', cameraId);
  }

  /** Records a state; returns true when it differs from the stored one (i.e. an event to send). */
  async setState(
    cameraId: string,
    state: HealthState,
    opts: { reason?: string | null; since?: number; workerId?: string | null } = {},
  ): Promise<boolean> {
    const now = Date.now();
    const r = (await this.redis.eval(
      SET_STATE_LUA,
      1,
      this.key(cameraId),
      state,
      opts.reason ?? '',
      String(opts.since ?? now),
      opts.workerId ?? '',
      String(now),
    )) as number;
    return r === 1;
  }

  /** Liveness details; cheap, called every few seconds by the worker holding the camera. */
  async heartbeat(
    cameraId: string,
    d: {
      workerId: string;
      lastFrameAt: number | null;
      frames: number;
      lastSegmentAt: number | null;
      recorderRestarts: number;
      analysis?: AnalysisHealth;
    },
  ): Promise<void> {
    const a = d.analysis;
    const opt = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v));
    await this.redis.hset(this.key(cameraId), {
      ...(a
        ? {
            decode: opt(a.decode),
            decodeReason: opt(a.decodeReason),
            keyframeInterval: opt(a.keyframeInterval),
            effectiveFps: opt(a.effectiveFps),
            analysedFps: opt(a.analysedFps),
          }
        : {}),
      workerId: d.workerId,
      lastFrameAt: d.lastFrameAt === null ? '' : String(d.lastFrameAt),
      frames: String(d.frames),
      lastSegmentAt: d.lastSegmentAt === null ? '' : String(d.lastSegmentAt),
      recorderRestarts: String(d.recorderRestarts),
      updatedAt: String(Date.now()),
    });
  }

  async get(cameraId: string): Promise<CameraHealth | null> {
    const h = await this.redis.hgetall(this.key(cameraId));
    if (!h.state) return null;
    const num = (v: string | undefined) => (v ? Number(v) : null);
    return {
      cameraId,
      state: h.state as HealthState,
      reason: h.reason || null,
      since: Number(h.since),
      workerId: h.workerId || null,
      updatedAt: Number(h.updatedAt),
      lastFrameAt: num(h.lastFrameAt),
      frames: Number(h.frames ?? 0),
      lastSegmentAt: num(h.lastSegmentAt),
      recorderRestarts: Number(h.recorderRestarts ?? 0),
      decode: h.decode === 'keyframes' || h.decode === 'full' ? h.decode : null,
      decodeReason: h.decodeReason || null,
      keyframeInterval: num(h.keyframeInterval),
      effectiveFps: num(h.effectiveFps),
      analysedFps: num(h.analysedFps),
    };
  }

  async list(cameraIds: readonly string[]): Promise<CameraHealth[]> {
    const out: CameraHealth[] = [];
    for (const id of cameraIds) {
      const h = await this.get(id);
      if (h) out.push(h);
    }
    return out;
  }

  async remove(cameraId: string): Promise<void> {
    await this.redis.del(this.key(cameraId));
  }
}
