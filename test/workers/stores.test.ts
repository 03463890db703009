// Camera and health stores against a real redis-server (cases: case-store.test.ts, on PostgreSQL and PGlite).
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { CameraStore, redactUrl, toPublic } from '../../infra/stores/camera-store.js';
import { HealthStore } from '../../infra/stores/health-store.js';
import { parkedCarConfig, redisPerFile } from './helpers.js';
import { waitFor } from '../support/wait.js';

let redis: Redis;
let redisUrl: string;
redisPerFile('stores', (r, url) => {
  redis = r;
  redisUrl = url;
});

describe('CameraStore', () => {
  it('stores credentials but redacts them publicly, validates config and announces changes', async () => {
    const cams = new CameraStore(redis, 'cams');
    const sub = createRedis(redisUrl);
    const changes: string[] = [];
    const unsub = await cams.subscribe(sub, (id) => changes.push(id));
    const cam = await cams.create({
      id: 'gate',
      url: 'rtsp://admin:s3cret@10.0.0.5/stream?token=abc&ch=1',
      config: parkedCarConfig('gate'),
    });
    expect(cam.version).toBe(1);
    expect((await cams.get('gate'))!.url).toContain('s3cret');
    const pub = toPublic(cam);
    expect(pub.url).not.toContain('s3cret');
    expect(pub.url).not.toContain('abc');
    expect(pub.url).toContain('ch=1');
    expect(redactUrl('/var/clips/a.mp4')).toBe('/var/clips/a.mp4');
    await expect(cams.update('gate', { config: { ...parkedCarConfig('gate'), classes: { not_a_class: {} } } })).rejects.toThrow(
      /unknown violation class "not_a_class"/,
    );
    const cfg = parkedCarConfig('gate');
    (cfg.classes as Record<string, { minDwellSec: number }>).illegal_parking!.minDwellSec = 30;
    const v2 = await cams.update('gate', { config: cfg });
    expect(v2.version).toBe(2);
    expect(await cams.version('gate')).toBe(2);
    expect((await cams.get('gate'))!.config.classes.illegal_parking!.minDwellSec).toBe(30);
    await waitFor(() => changes.length >= 2, { what: 'two change announcements' });
    expect(changes).toEqual(['gate', 'gate']);
    await expect(cams.create({ id: 'gate', url: 'x', config: parkedCarConfig('gate') })).rejects.toThrow(/already exists/);
    await unsub();
    await closeRedis(sub);
  });
});

describe('HealthStore', () => {
  it('reports only state changes as events', async () => {
    const h = new HealthStore(redis, 'health');
    expect(await h.setState('c1', 'connecting', { since: 1 })).toBe(true);
    expect(await h.setState('c1', 'online', { since: 2, workerId: 'w1' })).toBe(true);
    expect(await h.setState('c1', 'online', { since: 3, workerId: 'w1' })).toBe(false);
    await h.heartbeat('c1', { workerId: 'w1', lastFrameAt: 10, frames: 5, lastSegmentAt: 9, recorderRestarts: 0 });
    expect(await h.get('c1')).toMatchObject({ state: 'online', since: 2, workerId: 'w1', lastFrameAt: 10, frames: 5 });
    expect(await h.setState('c1', 'stalled', { reason: 'no frame for 10s', since: 4 })).toBe(true);
    expect(await h.get('c1')).toMatchObject({ state: 'stalled', reason: 'no frame for 10s', since: 4 });
  });
});
