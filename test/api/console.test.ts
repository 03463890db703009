// The operator console's API (api/CONSOLE-CONTRACT.md) against a real Redis and PGlite: /v1/me,
// open case counts on cameras, rejection statistics, rejecting with suppress (config change, audit,
// hot-reload message), and the refusals of the live and try-before-save routes. The live record and
// try-before-save with a real worker and a real ring are in test/workers/console-live.test.ts.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../api/auth.js';
import type { ReasonRecord } from '../../pipeline/types.js';
import { LiveStore } from '../../infra/stores/live-store.js';
import { PREFIX, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const auth = (role: Role) => ({ Authorization: `Bearer ${h.keys[role]}` });
const reason = (classId: string, zoneId: string | null): ReasonRecord => ({
  classId,
  zoneId,
  zoneType: 'no_parking',
  subject: 't1',
  trackIds: [1],
  dwellSec: 200,
  hits: 12,
  window: 20,
  medianScore: 0.8,
  thresholds: {},
  firstSeen: 0,
  lastSeen: 200,
  frameTimes: [],
});
const KERB: [number, number][] = [
  [0.55, 0.15],
  [0.98, 0.15],
  [0.98, 0.42],
  [0.55, 0.42],
];
const CAR = { x1: 466, y1: 78, x2: 692, y2: 172 };
let seq = 0;

async function newCase(
  cameraId: string,
  classId: string,
  zoneId: string | null,
  opts: { boxes?: (typeof CAR)[]; boxSpace?: { width: number; height: number } | null; at?: number } = {},
) {
  const at = opts.at ?? Date.now();
  const { case: c } = await h.deps.cases.create({
    idempotencyKey: `console-${seq++}`,
    cameraId,
    classId,
    zoneId,
    zoneType: 'no_parking',
    firstSeenAt: at,
    lastSeenAt: at,
    boxes: opts.boxes ?? [CAR],
    reason: reason(classId, zoneId),
    ...(opts.boxSpace === null ? {} : { extras: { boxSpace: opts.boxSpace ?? { width: 768, height: 576 } } }),
    mergeWindowMs: 0,
    now: at,
  });
  return c;
}

const status = (id: string, role: Role, body: Record<string, unknown>) =>
  request(h.app).post(`/v1/cases/${id}/status`).set(auth(role)).send(body);

describe('GET /v1/me', () => {
  it('names the key and lists exactly the operations its role may call', async () => {
    const seen: Record<string, string[]> = {};
    for (const role of ['admin', 'operator', 'platform', 'tester'] as const) {
      const res = await request(h.app).get('/v1/me').set(auth(role));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toEqual({ keyId: expect.stringMatching(/^key_/), name: `test ${role}`, role, operations: expect.any(Array) });
      const expected = h.app.routes.filter((r) => r.access === 'public' || r.access.includes(role)).map((r) => r.id);
      expect(res.body.operations).toEqual(expected);
      seen[role] = res.body.operations;
    }
    // The decisions the console depends on, spelt out.
    expect(seen.operator).toEqual(
      expect.arrayContaining(['tryCameraConfig', 'putZones', 'putCameraConfig', 'getCameraLive', 'updateCaseStatus', 'me', 'healthz']),
    );
    expect(seen.operator).not.toContain('listKeys');
    expect(seen.platform).toEqual(expect.arrayContaining(['listCases', 'getCameraLive', 'getCameraLiveFrame', 'rejectionStats']));
    for (const op of ['tryCameraConfig', 'putZones', 'putCameraConfig', 'createReplay']) expect(seen.platform).not.toContain(op);
    expect(seen.tester).toEqual(expect.arrayContaining(['createReplay', 'getReplay', 'me']));
    for (const op of ['listCameras', 'getCameraLive', 'listCases']) expect(seen.tester).not.toContain(op);
    expect(seen.admin).toHaveLength(h.app.routes.length);
    expect((await request(h.app).get('/v1/me')).status).toBe(401);
  });
});

describe('cameras with open case counts', () => {
  it('counts non-terminal cases per camera (list and one camera); terminal ones do not count', async () => {
    for (const id of ['oc-a', 'oc-b'])
      await h.deps.cameras.create({
        id,
        url: 'rtsp://127.0.0.1:8554/x',
        config: { zones: [{ id: 'kerb', type: 'no_parking', polygon: KERB }] },
      });
    const a = await Promise.all([0, 1, 2, 3].map(() => newCase('oc-a', 'illegal_parking', 'kerb')));
    await h.deps.cases.transition(a[1]!.id, 'dispatched');
    await h.deps.cases.transition(a[2]!.id, 'rejected', { reason: 'not a car' });
    await h.deps.cases.transition(a[3]!.id, 'dispatched');
    await h.deps.cases.transition(a[3]!.id, 'handled');
    const list = await request(h.app).get('/v1/cameras').set(auth('platform'));
    expect(list.status).toBe(200);
    const byId = Object.fromEntries((list.body.items as { id: string; openCases: number }[]).map((c) => [c.id, c.openCases]));
    expect(byId['oc-a']).toBe(3); // new, dispatched, handled; not the rejected one
    expect(byId['oc-b']).toBe(0);
    expect((await request(h.app).get('/v1/cameras/oc-a').set(auth('operator'))).body.openCases).toBe(3);
  });
});

describe('rejections', () => {
  it('rejects with suppress: the case is rejected, the camera config gains the padded suppression (hot-reload message, audit entry)', async () => {
    await h.deps.cameras.create({
      id: 'sup-cam',
      url: 'rtsp://127.0.0.1:8554/s',
      config: { zones: [{ id: 'kerb', type: 'no_parking', polygon: KERB }] },
    });
    const c = await newCase('sup-cam', 'illegal_parking', 'kerb');
    const v0 = (await h.deps.cameras.get('sup-cam'))!.version;
    const sub = h.conn();
    const changes: string[] = [];
    const unsubscribe = await h.deps.cameras.subscribe(sub, (id) => changes.push(id));
    const res = await status(c.id, 'operator', { state: 'rejected', reason: 'parking bay, allowed', suppress: true });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.state).toBe('rejected');
    expect(res.body.history.at(-1)).toMatchObject({
      from: 'new',
      to: 'rejected',
      reason: 'parking bay, allowed',
      actor: 'operator:test operator',
    });
    const entry = {
      id: `sup_${c.id.slice('case_'.length)}`,
      classId: 'illegal_parking',
      // 226 × 94 px box of a 768 × 576 frame, padded 10 % per side.
      polygon: [
        [0.5773, 0.1191],
        [0.9305, 0.1191],
        [0.9305, 0.3149],
        [0.5773, 0.3149],
      ],
      createdFrom: c.id,
      reason: 'parking bay, allowed',
      createdAt: expect.any(Number),
    };
    expect(res.body.suppression).toEqual({ cameraId: 'sup-cam', configVersion: v0 + 1, ...entry });
    const cam = (await h.deps.cameras.get('sup-cam'))!;
    expect(cam.version).toBe(v0 + 1);
    expect(cam.config.suppressions).toEqual([entry]);
    expect(cam.config.zones.map((z) => z.id)).toEqual(['kerb']);
    await expect.poll(() => changes).toContain('sup-cam');
    await unsubscribe();
    const audit = await request(h.app).get('/v1/audit').query({ target: 'camera:sup-cam' }).set(auth('admin'));
    expect(audit.body.items[0]).toMatchObject({
      action: 'updateCaseStatus',
      target: 'camera:sup-cam',
      keyName: 'test operator',
      role: 'operator',
      method: 'POST',
      path: `/v1/cases/${c.id}/status`,
    });
    expect(audit.body.items[0].before.config.suppressions ?? []).toEqual([]);
    expect(audit.body.items[0].after.config.suppressions).toEqual([entry]);
    expect(JSON.stringify(audit.body.items[0].after)).not.toContain('rtsp://127.0.0.1:8554/s?'); // public form

    // A custom padding, on the same camera: a second entry, the first is kept.
    const c2 = await newCase('sup-cam', 'street_vending', 'kerb', { boxes: [{ x1: 0, y1: 288, x2: 384, y2: 576 }] });
    const r2 = await status(c2.id, 'admin', { state: 'rejected', reason: 'market day', suppress: true, suppressPadding: 0 });
    expect(r2.status, JSON.stringify(r2.body)).toBe(200);
    expect(r2.body.suppression.polygon).toEqual([
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [0, 1],
    ]);
    expect((await h.deps.cameras.get('sup-cam'))!.config.suppressions!.map((s) => s.classId)).toEqual([
      'illegal_parking',
      'street_vending',
    ]);
  });

  it('refuses suppress without a box, from a platform key, without rejected, on a final case or an unknown one; nothing is written', async () => {
    await h.deps.cameras.create({
      id: 'sup-bad',
      url: 'rtsp://127.0.0.1:8554/b',
      config: { zones: [{ id: 'kerb', type: 'no_parking', polygon: KERB }] },
    });
    const noBox = await newCase('sup-bad', 'illegal_parking', 'kerb', { boxes: [] });
    const withBox = await newCase('sup-bad', 'illegal_parking', 'kerb');
    const noSpace = await newCase('sup-bad', 'illegal_parking', 'kerb', { boxSpace: null });
    const before = (await h.deps.cameras.get('sup-bad'))!;

    const a = await status(noBox.id, 'operator', { state: 'rejected', reason: 'x', suppress: true });
    expect(a.status).toBe(400);
    expect(a.body.error).toMatchObject({ code: 'NO_BOX', field: 'suppress' });
    const b = await status(withBox.id, 'platform', { state: 'rejected', reason: 'x', suppress: true });
    expect(b.status).toBe(403);
    expect(b.body.error).toMatchObject({ code: 'FORBIDDEN', field: 'suppress' });
    expect(b.body.error.message).toMatch(/camera config/);
    const c = await status(withBox.id, 'operator', { state: 'dispatched', suppress: true });
    expect(c.status).toBe(400);
    expect(c.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'suppress' });
    const d = await status(withBox.id, 'operator', { state: 'rejected', reason: 'x', suppressPadding: 0.2 });
    expect(d.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'suppressPadding' });
    const e = await status(withBox.id, 'operator', { state: 'rejected', reason: 'x', suppress: true, suppressPadding: 2 });
    expect(e.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'suppressPadding' });
    const f = await status(withBox.id, 'operator', { state: 'rejected', suppress: true });
    expect(f.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'reason' });
    // No recorded frame size and no live frame to read it from.
    const g = await status(noSpace.id, 'operator', { state: 'rejected', reason: 'x', suppress: true });
    expect(g.status).toBe(400);
    expect(g.body.error).toMatchObject({ code: 'BOX_SPACE_UNKNOWN', field: 'suppress' });
    // ...but the worker was asked for one (live records are published only for watched cameras): a retry finds it.
    expect(g.body.error.message).toMatch(/retry in a few seconds/);
    expect(await new LiveStore(h.deps.redis, PREFIX).isWatched(noSpace.cameraId)).toBe(true);
    expect((await status('case_0123456789abcdef0123', 'operator', { state: 'rejected', reason: 'x', suppress: true })).status).toBe(404);
    // The refused requests left the cases and the camera as they were.
    for (const id of [noBox.id, withBox.id, noSpace.id]) expect((await h.deps.cases.get(id))!.state).toBe('new');
    expect((await h.deps.cameras.get('sup-bad'))!.version).toBe(before.version);

    // A final case cannot be rejected again: 409, and no suppression is added.
    expect((await status(withBox.id, 'operator', { state: 'rejected', reason: 'first' })).status).toBe(200);
    const again = await status(withBox.id, 'operator', { state: 'rejected', reason: 'again', suppress: true });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_TRANSITION');
    // The camera is gone: 404, the case stays new.
    const orphan = await newCase('no-such-camera', 'illegal_parking', 'kerb');
    const o = await status(orphan.id, 'operator', { state: 'rejected', reason: 'x', suppress: true });
    expect(o.status).toBe(404);
    expect((await h.deps.cases.get(orphan.id))!.state).toBe('new');
    expect((await h.deps.cameras.get('sup-bad'))!.config.suppressions).toBeUndefined();
  });

  it('GET /v1/stats/rejections: cases, rejections, rate and reasons per camera × class × zone, in SQL', async () => {
    const t0 = Date.UTC(2020, 0, 6, 2, 0, 0);
    const ks = await Promise.all([0, 1, 2, 3].map((i) => newCase('rs-a', 'illegal_parking', 'kerb', { at: t0 + i * 1000 })));
    const sv = await Promise.all([0, 1].map((i) => newCase('rs-a', 'street_vending', 'stall', { at: t0 + 10_000 + i * 1000 })));
    const nz = await newCase('rs-b', 'illegal_parking', null, { at: t0 + 20_000 });
    await h.deps.cases.transition(ks[0]!.id, 'rejected', { reason: 'shadow of the tree' });
    await h.deps.cases.transition(ks[1]!.id, 'rejected', { reason: 'shadow of the tree' });
    await h.deps.cases.transition(ks[2]!.id, 'rejected', { reason: 'delivery van' });
    await h.deps.cases.transition(sv[0]!.id, 'dispatched');
    await h.deps.cases.transition(sv[0]!.id, 'rejected', { reason: 'licensed stall' });
    await h.deps.cases.transition(nz.id, 'dispatched');
    const q = { from: String(t0), to: String(t0 + 60_000) };
    const res = await request(h.app).get('/v1/stats/rejections').query(q).set(auth('platform'));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      from: t0,
      to: t0 + 60_000,
      items: [
        {
          cameraId: 'rs-a',
          classId: 'illegal_parking',
          zoneId: 'kerb',
          cases: 4,
          rejected: 3,
          rejectionRate: 0.75,
          reasons: [
            { reason: 'shadow of the tree', count: 2 },
            { reason: 'delivery van', count: 1 },
          ],
        },
        {
          cameraId: 'rs-a',
          classId: 'street_vending',
          zoneId: 'stall',
          cases: 2,
          rejected: 1,
          rejectionRate: 0.5,
          reasons: [{ reason: 'licensed stall', count: 1 }],
        },
        { cameraId: 'rs-b', classId: 'illegal_parking', zoneId: null, cases: 1, rejected: 0, rejectionRate: 0, reasons: [] },
      ],
    });
    const one = await request(h.app)
      .get('/v1/stats/rejections')
      .query({ ...q, cameraId: 'rs-b' })
      .set(auth('operator'));
    expect(one.body.items.map((r: { cameraId: string }) => r.cameraId)).toEqual(['rs-b']);
    const narrow = await request(h.app)
      .get('/v1/stats/rejections')
      .query({ from: new Date(t0 + 10_000).toISOString(), to: String(t0 + 11_000) })
      .set(auth('admin'));
    expect(narrow.body.items).toEqual([
      {
        cameraId: 'rs-a',
        classId: 'street_vending',
        zoneId: 'stall',
        cases: 2,
        rejected: 1,
        rejectionRate: 0.5,
        reasons: [{ reason: 'licensed stall', count: 1 }],
      },
    ]);
    for (const [query, field] of [
      [{ from: 'yesterday' }, 'from'],
      [{ from: String(t0 + 5), to: String(t0) }, 'to'],
      [{ limit: '0' }, 'limit'],
      [{ bogus: '1' }, undefined],
    ] as const) {
      const bad = await request(h.app).get('/v1/stats/rejections').query(query).set(auth('operator'));
      expect(bad.status, JSON.stringify(query)).toBe(400);
      expect(bad.body.error.field).toBe(field);
    }
    expect((await request(h.app).get('/v1/stats/rejections').set(auth('tester'))).status).toBe(403);
  });
});

describe('live view and try-before-save: refusals', () => {
  it('live: 404 NOT_FOUND for an unknown camera, NO_LIVE_FRAME saying why for a known one', async () => {
    await h.deps.cameras.create({ id: 'lv-cam', url: 'rtsp://127.0.0.1:8554/l', config: {} });
    await h.deps.cameras.create({ id: 'lv-off', url: 'rtsp://127.0.0.1:8554/o', enabled: false, config: {} });
    for (const p of ['/v1/cameras/nope/live', '/v1/cameras/nope/live/frame']) {
      const r = await request(h.app).get(p).set(auth('platform'));
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('NOT_FOUND');
    }
    const why = async (id: string) => {
      const [a, b] = await Promise.all([
        request(h.app).get(`/v1/cameras/${id}/live`).set(auth('operator')),
        request(h.app).get(`/v1/cameras/${id}/live/frame`).set(auth('operator')),
      ]);
      for (const r of [a, b]) {
        expect(r.status).toBe(404);
        expect(r.body.error.code).toBe('NO_LIVE_FRAME');
      }
      expect(b.body.error.message).toBe(a.body.error.message);
      return a.body.error.message as string;
    };
    expect(await why('lv-off')).toMatch(/lv-off is disabled/);
    expect(await why('lv-cam')).toMatch(/no worker has reported camera lv-cam/);
    await h.deps.health.setState('lv-cam', 'offline', { reason: 'connection refused', workerId: 'w1' });
    expect(await why('lv-cam')).toBe('camera lv-cam is offline: connection refused');
    await h.deps.health.setState('lv-cam', 'online', { workerId: 'w1' });
    expect(await why('lv-cam')).toMatch(/no analysed frame of camera lv-cam published recently .*LIVE_FRAME_INTERVAL_SEC/);
    expect(await why('lv-cam')).toMatch(
      /only while someone watches the camera: this request marked it watched for 30 s \(LIVE_WATCH_SEC\)/,
    );
    expect((await request(h.app).get('/v1/cameras/lv-cam/live').set(auth('tester'))).status).toBe(403);
  });

  it('live: every read of the record or the frame marks the camera watched for LIVE_WATCH_SEC (its worker publishes only then)', async () => {
    await h.deps.cameras.create({ id: 'lw-cam', url: 'rtsp://127.0.0.1:8554/w', config: {} });
    const store = new LiveStore(h.deps.redis, PREFIX);
    const key = `${PREFIX}:live-watch:lw-cam`;
    expect(await h.deps.redis.exists(key)).toBe(0);
    for (const p of ['/v1/cameras/lw-cam/live', '/v1/cameras/lw-cam/live/frame']) {
      await h.deps.redis.del(key);
      const r = await request(h.app).get(p).set(auth('platform'));
      expect(r.status, p).toBe(404); // nothing published yet: the worker starts on its next re-check
      expect(await h.deps.redis.get(key), p).toBe('1');
      const ttl = await store.watchTtlMs('lw-cam');
      expect(ttl, p).toBeGreaterThan(25_000);
      expect(ttl, p).toBeLessThanOrEqual(30_000);
    }
    // A refresh restarts the time; a refused read (unknown camera, wrong role) marks nothing.
    await h.deps.redis.pexpire(key, 1000);
    expect((await request(h.app).get('/v1/cameras/lw-cam/live').set(auth('operator'))).status).toBe(404);
    expect(await store.watchTtlMs('lw-cam')).toBeGreaterThan(25_000);
    expect((await request(h.app).get('/v1/cameras/nope/live').set(auth('operator'))).status).toBe(404);
    expect((await request(h.app).get('/v1/cameras/lw-cam2/live').set(auth('tester'))).status).toBe(403);
    expect(await h.deps.redis.exists(`${PREFIX}:live-watch:nope`, `${PREFIX}:live-watch:lw-cam2`)).toBe(0);
    // A published record is served while the camera is watched.
    await store.publish(
      {
        cameraId: 'lw-cam',
        configVersion: 1,
        frameIndex: 4,
        streamTime: 8,
        wallTime: Date.now(),
        sourceWidth: 640,
        sourceHeight: 480,
        detections: [],
        tracks: [],
        subjects: [],
        zones: [],
        frame: null,
      },
      null,
      30,
    );
    const ok = await request(h.app).get('/v1/cameras/lw-cam/live').set(auth('operator'));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ cameraId: 'lw-cam', frameIndex: 4, frame: null });
  });

  it('try: 404 unknown camera, 400 for minutes out of range and an invalid config (field named), 403 for platform/tester, 409 RING_UNAVAILABLE without a ring', async () => {
    await h.deps.cameras.create({
      id: 'try-cam',
      url: 'rtsp://127.0.0.1:8554/t',
      config: { zones: [{ id: 'kerb', type: 'no_parking', polygon: KERB }] },
    });
    const good = { camera: { id: 'try-cam' }, zones: [{ id: 'kerb', type: 'no_parking', polygon: KERB }] };
    const post = (id: string, role: Role, body: unknown) =>
      request(h.app)
        .post(`/v1/cameras/${id}/try`)
        .set(auth(role))
        .send(body as object);
    const unknown = await post('nope', 'operator', { config: good });
    expect(unknown.status).toBe(404);
    for (const minutes of [0, 0.5, 11, -1, '2']) {
      const r = await post('try-cam', 'operator', { config: good, minutes });
      expect(r.status, String(minutes)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'minutes' });
    }
    const bowTie = await post('try-cam', 'operator', {
      config: {
        zones: [
          {
            id: 'kerb',
            type: 'no_parking',
            polygon: [
              [0, 0],
              [1, 1],
              [1, 0],
              [0, 1],
            ],
          },
        ],
      },
    });
    expect(bowTie.status).toBe(400);
    expect(bowTie.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.zones.0.polygon' });
    const put = await request(h.app)
      .put('/v1/cameras/try-cam/config')
      .set(auth('operator'))
      .send({
        zones: [
          {
            id: 'kerb',
            type: 'no_parking',
            polygon: [
              [0, 0],
              [1, 1],
              [1, 0],
              [0, 1],
            ],
          },
        ],
      });
    expect(put.body.error.field).toBe('zones.0.polygon'); // the same mapping, without the `config.` prefix
    const otherId = await post('try-cam', 'operator', { config: { ...good, camera: { id: 'other' } } });
    expect(otherId.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.camera.id' });
    const noConfig = await post('try-cam', 'operator', { minutes: 2 });
    expect(noConfig.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'config' });
    for (const role of ['platform', 'tester'] as const) {
      const r = await post('try-cam', role, { config: good });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
    // Zone edits and suppressions are config changes the platform key may not make either.
    expect((await request(h.app).put('/v1/cameras/try-cam/zones').set(auth('platform')).send({ zones: [] })).status).toBe(403);

    // This API process has no DATA_DIR of the workers (not embedded): 409 saying so.
    const before = h.deps.dataDir;
    try {
      delete h.deps.dataDir;
      const noDir = await post('try-cam', 'operator', { config: good });
      expect(noDir.status).toBe(409);
      expect(noDir.body.error.code).toBe('RING_UNAVAILABLE');
      expect(noDir.body.error.message).toMatch(/DATA_DIR/);
      // A DATA_DIR without this camera's ring (another machine records it): 409 as well.
      h.deps.dataDir = path.join(h.dir, 'data');
      await mkdir(path.join(h.dir, 'data', 'rings', 'other-cam'), { recursive: true });
      const noRing = await post('try-cam', 'admin', { config: good, minutes: 10 });
      expect(noRing.status).toBe(409);
      expect(noRing.body.error).toMatchObject({ code: 'RING_UNAVAILABLE' });
      expect(noRing.body.error.message).toMatch(/no recorded segments of camera try-cam from the last 10 min/);
    } finally {
      h.deps.dataDir = before;
    }
    expect(await h.deps.replays.getJobCounts()).toMatchObject({ waiting: 0, active: 0 });
  });
});
