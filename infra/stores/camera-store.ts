// Registered cameras: stream URL (credentials kept, never shown), camera config (zones, thresholds)
// and whether the camera is analysed. Every change bumps a per-camera version and is announced on a
// pub/sub channel so the worker holding the camera reloads without a restart; the version doubles as
// a polling fallback for a message lost while a subscriber was reconnecting.
import type { Redis } from 'ioredis';
import type { CameraConfig, CameraConfigInput } from '../../pipeline/rules/config-schema.js';
import { ConfigError, parseCameraConfig } from '../../pipeline/rules/zones.js';
import { redactUrl } from '../../pipeline/source/input-url.js';
import { Keys } from '../redis.js';

export interface CameraRecord {
  id: string;
  name: string;
  /** Stream URL, credentials included (rtsp://user:pass@host/...). Use toPublic() for display. */
  url: string;
  /**
   * Optional analysis stream (the camera's substream, Frigate's "detect" role): analysed while the
   * main `url` is recorded. Credentials kept like url. Absent: one stream for both.
   */
  detectUrl?: string | null;
  /** Query parameters of `url` that hold secrets beyond the usual names (token, key, sig, …). */
  secretParams?: string[];
  config: CameraConfig;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export type PublicCamera = Omit<CameraRecord, 'url'> & { url: string };

export interface CameraInput {
  id: string;
  name?: string;
  url: string;
  detectUrl?: string | null;
  secretParams?: string[];
  /** Validated with the camera-config schema; config.camera.id is set to `id`. */
  config: CameraConfigInput | CameraConfig | Omit<CameraConfigInput, 'camera'>;
  enabled?: boolean;
}

export type CameraPatch = Partial<Omit<CameraInput, 'id'>>;

export class CameraNotFoundError extends Error {
  override name = 'CameraNotFoundError';
  readonly code = 'CAMERA_NOT_FOUND';
}

/** The caller edited a version that is no longer current (HTTP If-Match). */
export class CameraVersionConflictError extends Error {
  override name = 'CameraVersionConflictError';
  readonly code = 'VERSION_CONFLICT';
}

export class CameraExistsError extends Error {
  override name = 'CameraExistsError';
  readonly code = 'CAMERA_EXISTS';
}

// Compare-and-set on the version so concurrent edits (two operators, API + provisioning) never
// silently overwrite each other. KEYS: camera key. ARGV: expected version, new version, json, channel, id
const CAS_LUA = `
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'version', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

// One redaction for the whole system: the input boundary's (userinfo, secret-looking query values
// and the record's own secretParams).
export { redactUrl };

/** A camera as it may be shown to users and the platform: credentials redacted. */
export function toPublic(cam: CameraRecord): PublicCamera {
  return {
    ...cam,
    url: redactUrl(cam.url, cam.secretParams ?? []),
    ...(cam.detectUrl ? { detectUrl: redactUrl(cam.detectUrl, cam.secretParams ?? []) } : {}),
  };
}

function validateUrl(url: string): void {
  if (typeof url !== 'string' || url.trim() === '') throw new ConfigError('camera url is required');
}

function buildConfig(id: string, name: string | undefined, config: CameraInput['config']): CameraConfig {
  const raw = structuredClone(config) as Record<string, unknown>;
  const cam = (raw.camera ?? {}) as Record<string, unknown>;
  if (cam.id !== undefined && cam.id !== id) throw new ConfigError(`config.camera.id "${String(cam.id)}" does not match camera id "${id}"`);
  raw.camera = { ...cam, id, ...(name && cam.name === undefined ? { name } : {}) };
  return parseCameraConfig(raw);
}

export class CameraStore {
  readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new Keys(prefix);
  }

  private key(id: string): string {
    return this.keys.k('camera', id);
  }
  private get index(): string {
    return this.keys.k('cameras');
  }
  /** Channel carrying the id of a camera whose record changed. */
  get channel(): string {
    return this.keys.k('events', 'cameras');
  }

  async create(input: CameraInput): Promise<CameraRecord> {
    if (!ID.test(input.id)) throw new ConfigError(`camera id: 1–64 of A-Z a-z 0-9 _ . -, got "${input.id}"`);
    validateUrl(input.url);
    if (input.detectUrl) validateUrl(input.detectUrl);
    const config = buildConfig(input.id, input.name, input.config);
    const now = Date.now();
    const rec: CameraRecord = {
      id: input.id,
      name: input.name ?? config.camera.name ?? input.id,
      url: input.url,
      ...(input.detectUrl ? { detectUrl: input.detectUrl } : {}),
      ...(input.secretParams?.length ? { secretParams: input.secretParams } : {}),
      config,
      enabled: input.enabled ?? true,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    const ok = await this.redis.hsetnx(this.key(input.id), 'json', JSON.stringify(rec));
    if (!ok) throw new CameraExistsError(`camera ${input.id} already exists`);
    await this.redis.multi().hset(this.key(input.id), 'version', '1').sadd(this.index, input.id).publish(this.channel, input.id).exec();
    return rec;
  }

  /** Creates or replaces (used by the embedded demo and provisioning scripts). */
  async upsert(input: CameraInput): Promise<CameraRecord> {
    const cur = await this.get(input.id);
    if (!cur) {
      try {
        return await this.create(input);
      } catch (err) {
        if (!(err instanceof CameraExistsError)) throw err;
      }
    }
    return this.update(input.id, {
      name: input.name,
      url: input.url,
      detectUrl: input.detectUrl ?? null,
      secretParams: input.secretParams,
      config: input.config,
      enabled: input.enabled,
    });
  }

  async get(id: string): Promise<CameraRecord | null> {
    const [json, version] = await this.redis.hmget(this.key(id), 'json', 'version');
    if (!json) return null;
    const rec = JSON.parse(json) as CameraRecord;
    rec.version = Number(version ?? rec.version);
    return rec;
  }

  /** All cameras in two round trips (ids, then one pipeline), however many there are. */
  async list(): Promise<CameraRecord[]> {
    const ids = (await this.redis.smembers(this.index)).sort();
    if (!ids.length) return [];
    const p = this.redis.pipeline();
    for (const id of ids) p.hmget(this.key(id), 'json', 'version');
    const res = (await p.exec()) ?? [];
    const out: CameraRecord[] = [];
    for (const [err, v] of res) {
      const [json, version] = (v ?? []) as (string | null)[];
      if (err || !json) continue;
      const rec = JSON.parse(json) as CameraRecord;
      rec.version = Number(version ?? rec.version);
      out.push(rec);
    }
    return out;
  }

  async version(id: string): Promise<number | null> {
    const v = await this.redis.hget(this.key(id), 'version');
    return v === null ? null : Number(v);
  }

  /**
   * Applies a patch; config is validated in full. Bumps the version and notifies the worker.
   * A function patch is derived from the current record inside the compare-and-set loop, so an edit
   * of one part (a zone list, one class override) never overwrites a concurrent edit of another.
   * `ifVersion` refuses the write unless the record is still at that version (HTTP If-Match).
   */
  async update(
    id: string,
    change: CameraPatch | ((cur: CameraRecord) => CameraPatch),
    opts: { ifVersion?: number } = {},
  ): Promise<CameraRecord> {
    for (let i = 0; i < 20; i++) {
      const cur = await this.get(id);
      if (!cur) throw new CameraNotFoundError(`camera ${id} not found`);
      if (opts.ifVersion !== undefined && cur.version !== opts.ifVersion) {
        throw new CameraVersionConflictError(
          `camera ${id} is at version ${cur.version}, not ${opts.ifVersion}: re-read it and apply the change again`,
        );
      }
      const patch = typeof change === 'function' ? change(cur) : change;
      if (patch.url !== undefined) validateUrl(patch.url);
      if (patch.detectUrl) validateUrl(patch.detectUrl);
      const next: CameraRecord = {
        ...cur,
        name: patch.name ?? cur.name,
        url: patch.url ?? cur.url,
        // null removes the analysis stream; undefined keeps it.
        detectUrl: patch.detectUrl === undefined ? (cur.detectUrl ?? null) : patch.detectUrl || null,
        ...(patch.secretParams !== undefined ? { secretParams: patch.secretParams } : {}),
        enabled: patch.enabled ?? cur.enabled,
        config: patch.config ? buildConfig(id, patch.name ?? cur.name, patch.config) : cur.config,
        updatedAt: Date.now(),
        version: cur.version + 1,
      };
      const ok = (await this.redis.eval(
        CAS_LUA,
        1,
        this.key(id),
        String(cur.version),
        String(next.version),
        JSON.stringify(next),
        this.channel,
        id,
      )) as number;
      if (ok === 1) return next;
      if (ok === -1) throw new CameraNotFoundError(`camera ${id} not found`);
    }
    throw new Error(`camera ${id}: too much contention`);
  }

  setEnabled(id: string, enabled: boolean): Promise<CameraRecord> {
    return this.update(id, { enabled });
  }

  async remove(id: string): Promise<boolean> {
    const res = await this.redis.multi().del(this.key(id)).srem(this.index, id).publish(this.channel, id).exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }

  /** Calls back with a camera id whenever that camera changes. Needs a dedicated subscriber connection. */
  async subscribe(subscriber: Redis, onChange: (cameraId: string) => void): Promise<() => Promise<void>> {
    const handler = (channel: string, message: string) => {
      if (channel === this.channel) onChange(message);
    };
    subscriber.on('message', handler);
    await subscriber.subscribe(this.channel);
    return async () => {
      subscriber.off('message', handler);
      await subscriber.unsubscribe(this.channel).catch(() => undefined);
    };
  }
}
