// Case, camera and health stores against a real redis-server.
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { closeRedis, createRedis } from '../../workers/redis.js';
import { CameraStore, redactUrl, toPublic } from '../../workers/stores/camera-store.js';
import { CaseStore, CaseTransitionError, type CreateCaseInput } from '../../workers/stores/case-store.js';
import { HealthStore } from '../../workers/stores/health-store.js';
import { parkedCarConfig, redisPerFile } from './helpers.js';
import { waitFor } from '../support/wait.js';

let redis: Redis;
let redisUrl: string;
redisPerFile('stores', (r, url) => {
  redis = r;
  redisUrl = url;
});

const reason = { classId: 'illegal_parking', zoneId: 'kerb', zoneType: 'no_parking', subject: 't1', trackIds: [1], dwellSec: 5, hits: 4, window: 5, medianScore: 0.8, thresholds: {}, firstSeen: 0, lastSeen: 5, frameTimes: [] };
function input(key: string, over: Partial<CreateCaseInput> = {}): CreateCaseInput {
  return {
    idempotencyKey: key,
    cameraId: 'cam1',
    classId: 'illegal_parking',
    zoneId: 'kerb',
    zoneType: 'no_parking',
    firstSeenAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_005_000,
    boxes: [{ x1: 100, y1: 100, x2: 200, y2: 160 }],
    reason,
    mergeWindowMs: 0,
    ...over,
  };
}

describe('CaseStore', () => {
  it('creates exactly one case per episode under concurrent creates, with catalog fields', async () => {
    const cases = new CaseStore(redis, 'idem');
    const results = await Promise.all(Array.from({ length: 8 }, () => cases.create(input('cam1:run:ep_a', { now: 1_700_000_006_000 }))));
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
    expect(new Set(results.map((r) => r.case.id)).size).toBe(1);
    const c = results[0]!.case;
    expect(c).toMatchObject({ state: 'new', classId: 'illegal_parking', nameZh: '机动车违停', urgency: 'general', dueHours: 24, dueAt: 1_700_000_006_000 + 24 * 3_600_000, zoneId: 'kerb' });
    expect(c.responsibleParty.length).toBeGreaterThan(0);
    const urgent = await cases.create(input('cam1:run:ep_fire', { classId: 'fire_lane_blocked', zoneId: 'fire', zoneType: 'fire_lane', now: 0 }));
    expect(urgent.case).toMatchObject({ urgency: 'urgent', dueHours: 4, dueAt: 4 * 3_600_000 });
    expect((await cases.list({}, { limit: 100 })).items).toHaveLength(2);
  });

  it('merges a reappearance within the merge window into the open case, not after it', async () => {
    const cases = new CaseStore(redis, 'merge');
    const a = await cases.create(input('k1', { mergeWindowMs: 60_000 }));
    const again = await cases.create(input('k2', { mergeWindowMs: 60_000, firstSeenAt: 1_700_000_030_000, lastSeenAt: 1_700_000_035_000, boxes: [{ x1: 105, y1: 100, x2: 205, y2: 162 }] }));
    expect(again.outcome).toBe('merged');
    expect(again.case.id).toBe(a.case.id);
    expect(again.case.episodeKeys).toEqual(['k1', 'k2']);
    expect((await cases.getByEpisode('k2'))!.id).toBe(a.case.id);
    const elsewhere = await cases.create(input('k3', { mergeWindowMs: 60_000, firstSeenAt: 1_700_000_040_000, boxes: [{ x1: 400, y1: 300, x2: 480, y2: 360 }] }));
    expect(elsewhere.outcome).toBe('created');
    const late = await cases.create(input('k4', { mergeWindowMs: 60_000, firstSeenAt: 1_700_000_500_000, lastSeenAt: 1_700_000_505_000 }));
    expect(late.outcome).toBe('created');
  });

  it('enforces the case life cycle and records who moved it', async () => {
    const cases = new CaseStore(redis, 'life');
    const { case: c } = await cases.create(input('life1'));
    await expect(cases.transition(c.id, 'handled')).rejects.toBeInstanceOf(CaseTransitionError);
    await cases.transition(c.id, 'dispatched', { actor: 'op1', reason: 'sent to team 3' });
    await cases.transition(c.id, 'handled', { actor: 'team3' });
    expect(await cases.idsInState('handled', 'cam1')).toEqual([c.id]);
    await cases.transition(c.id, 'reopened', { actor: 'camera' });
    await cases.transition(c.id, 'handled', { actor: 'team3' });
    await cases.transition(c.id, 'verified', { actor: 'camera' });
    const closed = await cases.transition(c.id, 'closed', { actor: 'op1' });
    expect(closed.history.map((h) => h.to)).toEqual(['new', 'dispatched', 'handled', 'reopened', 'handled', 'verified', 'closed']);
    expect(closed.history[1]).toMatchObject({ actor: 'op1', reason: 'sent to team 3', from: 'new' });
    await expect(cases.transition(c.id, 'dispatched')).rejects.toThrow(/closed to dispatched/);
    expect(await cases.idsInState('handled', 'cam1')).toEqual([]);
    const { case: fp } = await cases.create(input('life2'));
    expect((await cases.transition(fp.id, 'rejected', { reason: 'shadow, not a car' })).state).toBe('rejected');
    expect(await cases.get(fp.id)).not.toBeNull();
  });

  it('adds evidence idempotently', async () => {
    const cases = new CaseStore(redis, 'ev');
    const { case: c } = await cases.create(input('ev1'));
    const ref = { store: 'fs' as const, key: 'cam1/2024-01-01/e/clip.mp4', file: { name: 'clip.mp4', kind: 'clip' as const, contentType: 'video/mp4', bytes: 10, sha256: 'x' } };
    await cases.addEvidence(c.id, [ref]);
    const after = await cases.addEvidence(c.id, [ref]);
    expect(after.evidence).toHaveLength(1);
    expect(after.evidenceStatus).toBe('ready');
  });

  it('lists with filters and cursor pagination, and counts per class, camera, zone and hour', async () => {
    const cases = new CaseStore(redis, 'list');
    const t0 = Date.UTC(2024, 0, 1, 0, 0, 0); // 08:00 in Asia/Shanghai
    for (let i = 0; i < 7; i++) {
      await cases.create(input(`l${i}`, { cameraId: i % 2 ? 'camB' : 'camA', classId: i < 5 ? 'illegal_parking' : 'street_vending', zoneId: i < 5 ? 'kerb' : 'plaza', firstSeenAt: t0 + i * 3_600_000, now: t0 + i * 60_000 + (i === 3 ? -60_000 : 0) }));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const p = await cases.list({}, { limit: 3, cursor });
      seen.push(...p.items.map((c) => c.idempotencyKey));
      cursor = p.nextCursor;
    } while (cursor);
    // Newest first; l2 and l3 share a createdAt and are ordered by id, none is skipped or repeated.
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen.slice(0, 3)).toEqual(['l6', 'l5', 'l4']);
    expect((await cases.list({ cameraId: 'camB', classId: 'illegal_parking' })).items.map((c) => c.idempotencyKey)).toEqual(['l3', 'l1']);
    expect((await cases.list({ from: t0 + 4 * 60_000, to: t0 + 5 * 60_000 })).items.map((c) => c.idempotencyKey)).toEqual(['l5', 'l4']);
    expect((await cases.list({ zoneId: 'plaza', state: ['new'] })).items).toHaveLength(2);
    const s = await cases.stats({ from: t0, to: t0 + 3_600_000 });
    expect(s.total).toBe(7);
    expect(s.byClass).toEqual({ illegal_parking: 5, street_vending: 2 });
    expect(s.byCamera).toEqual({ camA: 4, camB: 3 });
    expect(s.byZone).toEqual({ 'camA/kerb': 3, 'camB/kerb': 2, 'camA/plaza': 1, 'camB/plaza': 1 });
    expect(s.byHour.slice(8, 15)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
});

describe('CameraStore', () => {
  it('stores credentials but redacts them publicly, validates config and announces changes', async () => {
    const cams = new CameraStore(redis, 'cams');
    const sub = createRedis(redisUrl);
    const changes: string[] = [];
    const unsub = await cams.subscribe(sub, (id) => changes.push(id));
    const cam = await cams.create({ id: 'gate', url: 'rtsp://admin:s3cret@10.0.0.5/stream?token=abc&ch=1', config: parkedCarConfig('gate') });
    expect(cam.version).toBe(1);
    expect((await cams.get('gate'))!.url).toContain('s3cret');
    const pub = toPublic(cam);
    expect(pub.url).not.toContain('s3cret');
    expect(pub.url).not.toContain('abc');
    expect(pub.url).toContain('ch=1');
    expect(redactUrl('/var/clips/a.mp4')).toBe('/var/clips/a.mp4');
    await expect(cams.update('gate', { config: { ...parkedCarConfig('gate'), classes: { not_a_class: {} } } })).rejects.toThrow(/unknown violation class "not_a_class"/);
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
