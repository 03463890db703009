// The API against a real Redis: auth on every registered route, the OpenAPI document matching the
// router both ways, camera/zone/class management with hot-apply, cases, stats and /metrics.
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROLES, type Role } from '../../api/auth.js';
import { labelField, MetricsRecorder, SHARED_METRICS } from '../../infra/metrics-shared.js';
import { openApiPath, type AnyRoute } from '../../api/registry.js';
import { samplePath, startHarness, type Harness, PREFIX } from './harness.js';
import { waitFor } from '../support/wait.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function call(r: { method: string; path: string }, key?: string) {
  const req = request(h.app)[r.method as 'get'](samplePath(r.path));
  return key ? req.set('Authorization', `Bearer ${key}`) : req;
}

// The designed access table (a = admin, o = operator, p = platform, t = tester). A route added to
// the registry without a line here fails, so a role decision is always a conscious one.
const DESIGN: Record<string, string> = {
  'GET /healthz': 'public',
  'GET /readyz': 'aopt',
  'GET /metrics': 'ao',
  'GET /openapi.json': 'public',
  'GET /v1/audit': 'a',
  'GET /v1/keys': 'a',
  'POST /v1/keys': 'a',
  'DELETE /v1/keys/:id': 'a',
  'GET /v1/cameras': 'aop',
  'POST /v1/cameras': 'ao',
  'GET /v1/cameras/:id': 'aop',
  'PATCH /v1/cameras/:id': 'ao',
  'DELETE /v1/cameras/:id': 'a',
  'PUT /v1/cameras/:id/config': 'ao',
  'GET /v1/cameras/:id/zones': 'aop',
  'PUT /v1/cameras/:id/zones': 'ao',
  'GET /v1/cameras/:id/classes': 'aopt',
  'PUT /v1/cameras/:id/classes/:classId': 'ao',
  'DELETE /v1/cameras/:id/classes/:classId': 'ao',
  'GET /v1/cameras/:id/preview': 'ao',
  'GET /v1/classes': 'aopt',
  'GET /v1/models': 'aopt',
  'GET /v1/cases': 'aop',
  'GET /v1/cases/:id': 'aop',
  'GET /v1/cases/:id/evidence': 'aop',
  'GET /v1/cases/export': 'aop',
  'GET /v1/evidence/file': 'public',
  'GET /v1/stats/hotspots': 'aop',
  'GET /v1/stats/trend': 'aop',
  'GET /v1/stats/matrix': 'aop',
  'POST /v1/cases/:id/status': 'aop',
  'GET /v1/stats': 'aop',
  'GET /v1/deliveries/dead-letters': 'ao',
  'GET /v1/deliveries/:key': 'ao',
  'POST /v1/deliveries/:key/redeliver': 'ao',
  'POST /v1/replays': 'aot',
  'POST /v1/replays/upload': 'aot',
  'GET /v1/replays/:id': 'aot',
  'GET /v1/replays/:id/evidence/:name': 'aot',
  'GET /v1/me': 'aopt',
  'GET /v1/cameras/:id/live': 'aop',
  'GET /v1/cameras/:id/live/frame': 'aop',
  'POST /v1/cameras/:id/try': 'ao',
  'GET /v1/stats/rejections': 'aop',
};

describe('auth matrix (every route in the registry × every role)', () => {
  it('the registry matches the designed access table', () => {
    const actual = Object.fromEntries(
      h.app.routes.map((r) => [
        `${r.method.toUpperCase()} ${r.path}`,
        r.access === 'public' ? 'public' : r.access.map((x: string) => x[0]).join(''),
      ]),
    );
    expect(actual).toEqual(DESIGN);
  });

  it('public routes answer without a key; others 401 without/with an unknown key, 403 for roles not allowed, never 401/403/5xx for allowed roles', async () => {
    const routes: readonly AnyRoute[] = h.app.routes;
    expect(routes.length).toBeGreaterThan(25);
    const table: string[] = [];
    for (const r of routes) {
      const anon = await call(r);
      const bogus = await call(r, 'cwk_not-a-real-key-0000000000000000000000');
      if (r.access === 'public') {
        // The evidence download needs no key because its signed link is the credential: without one, 400.
        expect(anon.status, `${r.method} ${r.path} anon`).toBe(r.path === '/v1/evidence/file' ? 400 : 200);
      } else {
        for (const res of [anon, bogus]) {
          expect(res.status, `${r.method} ${r.path} without a valid key`).toBe(401);
          expect(res.body.error.code).toBe('UNAUTHENTICATED');
          expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
        }
      }
      const row: string[] = [];
      for (const role of ROLES) {
        const res = await call(r, h.keys[role]);
        const allowed = r.access === 'public' || (r.access as readonly Role[]).includes(role);
        if (allowed) {
          expect([401, 403], `${r.method} ${r.path} as ${role}: ${JSON.stringify(res.body)}`).not.toContain(res.status);
          expect(res.status, `${r.method} ${r.path} as ${role}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
        } else {
          expect(res.status, `${r.method} ${r.path} as ${role}`).toBe(403);
          expect(res.body.error.code).toBe('FORBIDDEN');
        }
        row.push(`${role}:${res.status}`);
      }
      table.push(`${r.method.toUpperCase()} ${r.path} ${row.join(' ')}`);
    }
    expect(table.length).toBe(routes.length);
  });

  it('accepts the key as X-API-Key too, and echoes a caller-supplied X-Request-Id', async () => {
    const res = await request(h.app).get('/v1/classes').set('X-API-Key', h.keys.tester).set('X-Request-Id', 'trace-42');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('trace-42');
    const denied = await request(h.app).get('/v1/cameras').set('X-Request-Id', 'trace-43');
    expect(denied.body.error).toEqual({ code: 'UNAUTHENTICATED', message: expect.any(String), requestId: 'trace-43' });
  });

  it('stores only hashes of keys; a revoked key stops working', async () => {
    const dump =
      JSON.stringify(await h.redis.hgetall(`${PREFIX}:apikeys:records`)) +
      JSON.stringify(await h.redis.hgetall(`${PREFIX}:apikeys:by-hash`));
    for (const k of Object.values(h.keys)) expect(dump).not.toContain(k);
    const created = await request(h.app)
      .post('/v1/keys')
      .set('Authorization', `Bearer ${h.keys.admin}`)
      .send({ name: 'temp', role: 'platform' });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^cwk_/);
    expect((await request(h.app).get('/v1/cases').set('Authorization', `Bearer ${created.body.key}`)).status).toBe(200);
    expect((await request(h.app).delete(`/v1/keys/${created.body.id}`).set('Authorization', `Bearer ${h.keys.admin}`)).status).toBe(204);
    expect((await request(h.app).get('/v1/cases').set('Authorization', `Bearer ${created.body.key}`)).status).toBe(401);
  });
});

describe('OpenAPI document', () => {
  it('documents every registered route with its roles, and every documented operation is served by the router', async () => {
    const res = await request(h.app).get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, { 'x-roles': string[]; operationId: string }>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const r of h.app.routes) {
      const op = doc.paths[openApiPath(r.path)]?.[r.method];
      expect(op, `${r.method} ${r.path} missing from openapi.json`).toBeDefined();
      expect(op!['x-roles']).toEqual(r.access === 'public' ? [] : [...r.access]);
    }
    let documented = 0;
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        documented++;
        const expressPath = p.replace(/\{([A-Za-z]+)\}/g, ':$1');
        // Against the real router: an unknown route would answer 404 NO_ROUTE.
        const served = await call({ method, path: expressPath }, h.keys.admin);
        expect(served.body?.error?.code, `${method.toUpperCase()} ${p} documented but not routed`).not.toBe('NO_ROUTE');
      }
    }
    expect(documented).toBe(h.app.routes.length);
    // The body schemas come from the same zod schemas the server validates with.
    const zones = doc.paths['/v1/cameras/{id}/zones']!.put as unknown as {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
    };
    expect(JSON.stringify(zones.requestBody.content['application/json']!.schema)).toContain('crowd_area');
    const sanity = await request(h.app).get('/v1/definitely-not-a-route').set('Authorization', `Bearer ${h.keys.admin}`);
    expect(sanity.status).toBe(404);
    expect(sanity.body.error.code).toBe('NO_ROUTE');
  });
});

describe('cameras, zones and classes', () => {
  const auth = (role: Role) => ({ Authorization: `Bearer ${h.keys[role]}` });

  it('creates a camera, never echoes stream credentials, hot-applies zone and class changes with a version bump and a pub/sub message', async () => {
    const sub = h.conn();
    const changes: string[] = [];
    const unsubscribe = await h.deps.cameras.subscribe(sub, (id) => changes.push(id));
    const secret = 's3cr3t-Pa55';
    const created = await request(h.app)
      .post('/v1/cameras')
      .set(auth('operator'))
      .send({
        id: 'cam-a',
        name: 'Main St',
        url: `rtsp://admin:${secret}@10.0.0.5:554/stream1`,
        config: {
          zones: [
            {
              id: 'lane',
              type: 'no_parking',
              polygon: [
                [0.1, 0.5],
                [0.9, 0.5],
                [0.9, 0.95],
                [0.1, 0.95],
              ],
            },
          ],
        },
      });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.url).toBe('rtsp://***:***@10.0.0.5:554/stream1');
    expect(created.body.live.state).toBe('unknown');
    // Stored with the credentials (the worker needs them)…
    expect((await h.deps.cameras.get('cam-a'))!.url).toContain(secret);
    // …but no response ever carries them.
    for (const [m, p] of [
      ['get', '/v1/cameras'],
      ['get', '/v1/cameras/cam-a'],
    ] as const) {
      const res = await request(h.app)[m](p).set(auth('platform'));
      expect(res.status).toBe(200);
      expect(JSON.stringify(res.body)).not.toContain(secret);
    }
    await h.deps.health.setState('cam-a', 'online', { workerId: 'w1' });
    expect((await request(h.app).get('/v1/cameras/cam-a').set(auth('platform'))).body.live).toMatchObject({
      state: 'online',
      workerId: 'w1',
    });

    const v1 = created.body.version as number;
    const zones = await request(h.app)
      .put('/v1/cameras/cam-a/zones')
      .set(auth('operator'))
      .send({
        zones: [
          {
            id: 'lane',
            type: 'no_parking',
            polygon: [
              [0.1, 0.5],
              [0.9, 0.5],
              [0.9, 0.95],
              [0.1, 0.95],
            ],
          },
          {
            id: 'stall',
            type: 'no_vending',
            polygon: [
              [0, 0],
              [0.3, 0],
              [0.3, 0.3],
            ],
          },
        ],
      });
    expect(zones.status, JSON.stringify(zones.body)).toBe(200);
    expect(zones.body.version).toBe(v1 + 1);
    const override = await request(h.app)
      .put('/v1/cameras/cam-a/classes/street_vending')
      .set(auth('admin'))
      .send({ minDwellSec: 90, schedule: { mode: 'exempt', windows: [{ start: '18:00', end: '23:00' }] } });
    expect(override.status, JSON.stringify(override.body)).toBe(200);
    expect(override.body.version).toBe(v1 + 2);
    expect(override.body.status).toMatchObject({ id: 'street_vending', active: true, zoneIds: ['stall'], thresholds: { minDwellSec: 90 } });
    // What a worker reloads is exactly what was validated.
    const stored = (await h.deps.cameras.get('cam-a'))!;
    expect(stored.version).toBe(v1 + 2);
    expect(stored.config.classes.street_vending!.minDwellSec).toBe(90);
    expect(stored.config.zones.map((z) => z.id)).toEqual(['lane', 'stall']);
    const disabled = await request(h.app).put('/v1/cameras/cam-a/classes/illegal_parking').set(auth('operator')).send({ enabled: false });
    expect(disabled.body.status).toMatchObject({ active: false, reason: 'disabled in camera config' });
    const classes = await request(h.app).get('/v1/cameras/cam-a/classes').set(auth('tester'));
    expect(classes.body.classes).toHaveLength(17);
    // Pub/sub delivery is asynchronous: poll for the announcements instead of sleeping.
    await waitFor(() => changes.filter((c) => c === 'cam-a').length >= 3, { what: 'three change announcements for cam-a' });
    await unsubscribe();

    const global = await request(h.app).get('/v1/classes').set(auth('platform'));
    expect(global.body.classes).toHaveLength(17);
    const ip = global.body.classes.find((c: { id: string }) => c.id === 'illegal_parking');
    expect(ip.available).toBe(true);
    expect(ip.inactiveOn).toEqual([{ cameraId: 'cam-a', reason: 'disabled in camera config' }]);
    const muck = global.body.classes.find((c: { id: string }) => c.id === 'muck_truck_uncovered');
    expect(muck.available).toBe(false);
    expect(muck.reason).toMatch(/needs label/);

    const models = await request(h.app).get('/v1/models').set(auth('tester'));
    expect(models.body.models.map((m: { name: string }) => m.name)).toEqual(['picodet_s_320_coco', 'picodet_s_416_coco', 'yolox_nano']);
    expect(models.body.models[2]).toMatchObject({
      name: 'yolox_nano',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      weights: { ok: true },
    });
    // No official download for the PicoDet exports: url is null, weights come from MODEL_DIR.
    expect(models.body.models[0]).toMatchObject({
      name: 'picodet_s_320_coco',
      url: null,
      input: { width: 320, height: 320, resize: 'stretch' },
      decoder: 'picodet',
      weights: { ok: true },
    });

    expect((await request(h.app).delete('/v1/cameras/cam-a').set(auth('operator'))).status).toBe(403);
    expect((await request(h.app).delete('/v1/cameras/cam-a').set(auth('admin'))).status).toBe(204);
    expect((await request(h.app).get('/v1/cameras/cam-a').set(auth('admin'))).status).toBe(404);
  });
});

describe('concurrent edits of one camera', () => {
  it('keeps both of two simultaneous edits (zones and class overrides), and If-Match refuses a stale write', async () => {
    const op = { Authorization: `Bearer ${h.keys.operator}` };
    const lane = {
      id: 'lane',
      type: 'no_parking',
      polygon: [
        [0.1, 0.5],
        [0.9, 0.5],
        [0.9, 0.95],
        [0.1, 0.95],
      ],
    };
    const created = await request(h.app)
      .post('/v1/cameras')
      .set(op)
      .send({ id: 'cam-race', url: 'rtsp://10.0.0.9/s', config: { zones: [lane] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Eight operators change eight different things at the same moment: a zone list and seven
    // class overrides. Each request reads, edits and writes the config; none may be lost.
    const classes = [
      'street_vending',
      'illegal_parking',
      'road_obstruction',
      'crowd_gathering',
      'fire_lane_blocked',
      'overflowing_bin',
      'road_spillage',
    ];
    const stall = {
      id: 'stall',
      type: 'no_vending',
      polygon: [
        [0, 0],
        [0.3, 0],
        [0.3, 0.3],
      ],
    };
    const res = await Promise.all([
      request(h.app)
        .put('/v1/cameras/cam-race/zones')
        .set(op)
        .send({ zones: [lane, stall] }),
      ...classes.map((c, i) =>
        request(h.app)
          .put(`/v1/cameras/cam-race/classes/${c}`)
          .set(op)
          .send({ minDwellSec: 60 + i }),
      ),
    ]);
    expect(res.map((r) => r.status)).toEqual(new Array(8).fill(200));
    const stored = (await h.deps.cameras.get('cam-race'))!;
    expect(stored.version).toBe(created.body.version + 8);
    expect(stored.config.zones.map((z) => z.id)).toEqual(['lane', 'stall']);
    expect(classes.map((c) => stored.config.classes[c]?.minDwellSec)).toEqual(classes.map((_, i) => 60 + i));

    // A client that read an older version gets 412 and nothing changes.
    const stale = await request(h.app)
      .put('/v1/cameras/cam-race/zones')
      .set(op)
      .set('If-Match', `"${created.body.version}"`)
      .send({ zones: [lane] });
    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({ code: 'VERSION_CONFLICT' });
    expect(stale.body.error.message).toContain(`version ${stored.version}, not ${created.body.version}`);
    expect((await h.deps.cameras.get('cam-race'))!.config.zones).toHaveLength(2);
    const fresh = await request(h.app)
      .put('/v1/cameras/cam-race/zones')
      .set(op)
      .set('If-Match', `"${stored.version}"`)
      .send({ zones: [lane] });
    expect(fresh.status).toBe(200);
    expect(fresh.body.version).toBe(stored.version + 1);
    const bad = await request(h.app).patch('/v1/cameras/cam-race').set(op).set('If-Match', 'yesterday').send({ name: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'BAD_IF_MATCH', field: 'If-Match' });
    expect((await h.deps.cameras.get('cam-race'))!.name).not.toBe('x');
  });
});

describe('cases, statistics and metrics', () => {
  const auth = (role: Role) => ({ Authorization: `Bearer ${h.keys[role]}` });
  const reason = (classId: string, zoneId: string) => ({
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

  it('filters and pages cases, applies platform status updates with the life cycle, counts hot spots', async () => {
    const base = Date.UTC(2025, 0, 6, 2, 0, 0); // 10:00 in Asia/Shanghai
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const classId = i < 3 ? 'illegal_parking' : 'street_vending';
      const zoneId = i < 3 ? 'lane' : 'stall';
      const { case: c } = await h.deps.cases.create({
        idempotencyKey: `ep-${i}`,
        cameraId: i === 4 ? 'cam-b' : 'cam-x',
        classId,
        zoneId,
        zoneType: 'no_parking',
        firstSeenAt: base + i * 3_600_000,
        lastSeenAt: base + i * 3_600_000,
        boxes: [{ x1: i * 100, y1: 0, x2: i * 100 + 50, y2: 50 }],
        reason: reason(classId, zoneId),
        mergeWindowMs: 0,
        now: base + i * 60_000,
      });
      ids.push(c.id);
    }
    const p1 = await request(h.app).get('/v1/cases').query({ classId: 'illegal_parking', limit: 2 }).set(auth('platform'));
    expect(p1.status).toBe(200);
    expect(p1.body.items.map((c: { id: string }) => c.id)).toEqual([ids[2], ids[1]]);
    const p2 = await request(h.app)
      .get('/v1/cases')
      .query({ classId: 'illegal_parking', limit: 2, cursor: p1.body.nextCursor })
      .set(auth('platform'));
    expect(p2.body.items.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
    expect(p2.body.nextCursor).toBeNull();
    const ranged = await request(h.app)
      .get('/v1/cases')
      .query({ from: new Date(base + 60_000).toISOString(), to: String(base + 3 * 60_000), cameraId: 'cam-x' })
      .set(auth('operator'));
    expect(ranged.body.items.map((c: { id: string }) => c.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect((await request(h.app).get('/v1/cases').query({ zoneId: 'stall', state: 'new' }).set(auth('admin'))).body.items).toHaveLength(2);

    const d = await request(h.app).post(`/v1/cases/${ids[0]}/status`).set(auth('platform')).send({ state: 'dispatched' });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    expect(d.body.state).toBe('dispatched');
    expect(d.body.history.at(-1)).toMatchObject({ from: 'new', to: 'dispatched', actor: 'platform:test platform' });
    const bad = await request(h.app).post(`/v1/cases/${ids[0]}/status`).set(auth('platform')).send({ state: 'closed' });
    expect(bad.status).toBe(409);
    expect(bad.body.error.code).toBe('INVALID_TRANSITION');
    const rej = await request(h.app)
      .post(`/v1/cases/${ids[1]}/status`)
      .set(auth('platform'))
      .send({ state: 'rejected', reason: 'delivery van, loading permit' });
    expect(rej.body.state).toBe('rejected');
    expect((await request(h.app).get('/v1/cases').query({ state: 'rejected,dispatched' }).set(auth('platform'))).body.items).toHaveLength(
      2,
    );

    await h.deps.evidence.put(`cam-x/2025-01-06/${ids[2]}/snapshot.jpg`, Buffer.from('jpeg-bytes'), { contentType: 'image/jpeg' });
    const ref = {
      store: 'fs' as const,
      key: `cam-x/2025-01-06/${ids[2]}/snapshot.jpg`,
      file: { name: 'snapshot.jpg', kind: 'snapshot' as const, contentType: 'image/jpeg', bytes: 10, sha256: 'x' },
    };
    await h.deps.cases.addEvidence(ids[2]!, [ref]);
    // Evidence links are minted on demand, signed and short-lived; the filesystem store is served
    // through the API, never as a file:// path.
    const ev = await request(h.app).get(`/v1/cases/${ids[2]}/evidence`).query({ expiresIn: 2 }).set(auth('platform'));
    expect(ev.body.expiresInSec).toBe(2);
    const link = new URL(ev.body.items[0].url as string);
    expect(link.pathname).toBe('/v1/evidence/file');
    const got = await request(h.app).get(link.pathname + link.search);
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toMatch(/image\/jpeg/);
    expect(Buffer.from(got.body as Buffer).toString()).toBe('jpeg-bytes');
    const forged = new URLSearchParams(link.search);
    forged.set('key', `cam-x/2025-01-06/${ids[2]}/other.jpg`);
    expect((await request(h.app).get(`${link.pathname}?${forged}`)).status).toBe(403);
    expect((await request(h.app).get(`/v1/cases/${ids[2]}/evidence`).set(auth('platform'))).body.expiresInSec).toBe(900);
    await new Promise((r) => setTimeout(r, 3100));
    const late = await request(h.app).get(link.pathname + link.search);
    expect(late.status).toBe(403);
    expect(late.body.error.code).toBe('LINK_EXPIRED');

    // Export: CSV and GeoJSON with the camera's configured location.
    await h.deps.cameras.create({
      id: 'cam-x',
      url: 'rtsp://127.0.0.1:8554/x',
      config: { camera: { id: 'cam-x', location: { lat: 24.781, lon: 118.552, address: '晋江 世纪大道' } } },
    });
    const csv = await request(h.app)
      .get('/v1/cases/export')
      .query({ format: 'csv', classId: 'street_vending' })
      .set(auth('platform'))
      .buffer(true);
    expect(csv.status).toBe(200);
    const lines = csv.text
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]!.split(',').slice(0, 4)).toEqual(['id', 'createdAt', 'state', 'classId']);
    expect(lines).toHaveLength(3);
    const geo = await request(h.app)
      .get('/v1/cases/export')
      .query({ format: 'geojson' })
      .set(auth('platform'))
      .buffer(true)
      .parse((res, cb) => {
        let s = '';
        res.on('data', (d: Buffer) => (s += d.toString()));
        res.on('end', () => cb(null, s));
      });
    const fc = JSON.parse(geo.body as string) as {
      type: string;
      features: { type: string; id: string; geometry: unknown; properties: { classId: string } }[];
    };
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features).toHaveLength(5);
    expect(
      fc.features.every((f) => f.type === 'Feature' && (f.geometry === null || (f.geometry as { type: string }).type === 'Point')),
    ).toBe(true);
    expect(fc.features.find((f) => f.id === ids[0])!.geometry).toEqual({ type: 'Point', coordinates: [118.552, 24.781] });
    expect(fc.features.find((f) => f.id === ids[4])!.geometry).toBeNull();
    const hot = await request(h.app).get('/v1/stats/hotspots').query({ top: 1 }).set(auth('platform'));
    expect(hot.body.items[0]).toMatchObject({ cameraId: 'cam-x', zoneId: 'lane', count: 3 });

    const stats = await request(h.app)
      .get('/v1/stats')
      .query({ from: String(base - 1), top: 2 })
      .set(auth('platform'));
    expect(stats.status).toBe(200);
    expect(stats.body.total).toBe(5);
    expect(stats.body.byClass).toEqual({ illegal_parking: 3, street_vending: 2 });
    expect(stats.body.hotSpots).toEqual([
      { cameraId: 'cam-x', zoneId: 'lane', count: 3 },
      { cameraId: 'cam-b', zoneId: 'stall', count: 1 },
    ]);
    // firstSeenAt 10:00, 11:00, … Asia/Shanghai
    expect(stats.body.byHour.slice(10, 15)).toEqual([1, 1, 1, 1, 1]);
  });

  it('lists dead letters and redelivers one', async () => {
    const key = 'case.created:case_dead1';
    const now = Date.now();
    await sql`insert into deliveries (idempotency_key, type, status, body, attempts, last_error, created_at, updated_at, dead_at)
      values (${key}, 'case.created', 'dead', '{"id":"x"}', 8, 'HTTP 500', ${now}, ${now}, ${now})`.execute(h.database.db);
    const list = await request(h.app).get('/v1/deliveries/dead-letters').set(auth('operator'));
    expect(list.body.items.map((d: { idempotencyKey: string }) => d.idempotencyKey)).toEqual([key]);
    const re = await request(h.app)
      .post(`/v1/deliveries/${encodeURIComponent(key)}/redeliver`)
      .set(auth('admin'));
    expect(re.status, JSON.stringify(re.body)).toBe(200);
    expect(re.body).toMatchObject({ status: 'pending', redeliveries: 1 });
    const one = await request(h.app)
      .get(`/v1/deliveries/${encodeURIComponent(key)}`)
      .set(auth('operator'));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ idempotencyKey: key, redeliveries: 1 });
    expect((await request(h.app).get('/v1/deliveries/no-such-key').set(auth('operator'))).status).toBe(404);
    expect((await request(h.app).get('/v1/deliveries/dead-letters').set(auth('operator'))).body.items).toEqual([]);
    expect(
      (
        await request(h.app)
          .post(`/v1/deliveries/${encodeURIComponent(key)}/redeliver`)
          .set(auth('admin'))
      ).status,
    ).toBe(409);
  });

  it('a batching recorder sends its writes summed in one pipeline, the same series as one write per call', async () => {
    const prefix = `${PREFIX}-batch`;
    const rec = new MetricsRecorder(h.redis, prefix, { batchMs: 60_000 });
    const sent: number[] = [];
    const pipeline = h.redis.pipeline.bind(h.redis);
    const spy = vi.spyOn(h.redis, 'pipeline').mockImplementation((...a) => {
      const p = pipeline(...a);
      const exec = p.exec.bind(p);
      p.exec = (...e) => {
        sent.push(p.length);
        return exec(...e);
      };
      return p;
    });
    try {
      const done = [
        rec.recordFrame('cam-b', 42, 0),
        rec.recordFrame('cam-b', 700, 3),
        rec.recordFrameAge('cam-b', 0.3),
        rec.recordFrameAge('cam-b', 0.2),
        rec.setCameraGauges('cam-b', { fps: 0.4, skippedFps: 0, decode: 'full' }),
        rec.setCameraGauges('cam-b', { fps: 0.5, skippedFps: 0.25, decode: 'keyframes' }),
      ];
      await new Promise((r) => setTimeout(r, 50));
      expect(sent).toEqual([]); // gathered, nothing sent before the flush
      await rec.flush();
      await Promise.all(done); // every call's promise settles with the flush that sent it
      // one pipeline: frames 1, dropped 1, inference 2 buckets + sum + count, age 2 buckets + sum +
      // count, gauges 1 (six calls would have sent 6 pipelines and 17 commands)
      expect(sent).toEqual([11]);
    } finally {
      spy.mockRestore();
    }
    const hash = (m: string) => h.redis.hgetall(rec.key(m));
    expect(await hash(SHARED_METRICS.frames)).toEqual({ [labelField({ camera: 'cam-b' })]: '2' });
    expect(await hash(SHARED_METRICS.dropped)).toEqual({ [labelField({ camera: 'cam-b' })]: '3' });
    const inference = await hash(SHARED_METRICS.inference);
    expect(inference[labelField({ camera: 'cam-b', le: '50' })]).toBe('1');
    expect(inference[labelField({ camera: 'cam-b', le: '1000' })]).toBe('1');
    expect(Number(inference[labelField({ camera: 'cam-b', stat: 'sum' })])).toBe(742);
    expect(inference[labelField({ camera: 'cam-b', stat: 'count' })]).toBe('2');
    const age = await hash(SHARED_METRICS.frameAge);
    expect(age[labelField({ camera: 'cam-b', le: '0.5' })]).toBe('1');
    expect(age[labelField({ camera: 'cam-b', le: '0.25' })]).toBe('1');
    expect(Number(age[labelField({ camera: 'cam-b', stat: 'sum' })])).toBeCloseTo(0.5, 10);
    const gauges = await hash(SHARED_METRICS.gauges);
    expect(gauges[labelField({ metric: 'camera_fps', camera: 'cam-b' })]).toMatch(/^0\.5\|\d+$/); // last write wins
    expect(gauges[labelField({ metric: 'camera_keyframe_decode', camera: 'cam-b' })]).toMatch(/^1\|/);
    // Nothing gathered: a flush sends nothing.
    await rec.flush();
  });

  it('exposes worker-published counters, the latency histogram, queue depths and camera states on /metrics', async () => {
    const rec = new MetricsRecorder(h.redis, PREFIX);
    await rec.recordFrame('cam-m', 42, 0);
    await rec.recordFrame('cam-m', 700, 3);
    await rec.recordDropped('cam-m', 2);
    await rec.recordEvent('crowd_gathering', 'confirmed');
    await rec.recordCase('crowd_gathering', 'created');
    await rec.recordDelivery('success');
    await rec.recordFrameAge('cam-m', 0.3);
    await rec.recordFrameAge('cam-m', 3);
    await rec.setCameraGauges('cam-m', { fps: 0.5, skippedFps: 0.25, decode: 'keyframes' });
    await rec.setWorkerCameras('w-1', 64);
    await rec.recordLeaseLoss('w-1', 'taken');
    await h.deps.cameras.create({ id: 'cam-m', url: 'rtsp://10.0.0.9/s', config: {} });
    await h.deps.health.setState('cam-m', 'stalled', { reason: 'no frame for 10 s' });
    const res = await request(h.app).get('/metrics').set(auth('operator'));
    expect(res.status).toBe(200);
    const text = res.text;
    expect(text).toContain('citywatch_frames_analysed_total{camera="cam-m"} 2');
    expect(text).toContain('citywatch_frames_dropped_total{camera="cam-m"} 5');
    expect(text).toContain('citywatch_inference_latency_seconds_bucket{camera="cam-m",le="0.05"} 1');
    expect(text).toContain('citywatch_inference_latency_seconds_bucket{camera="cam-m",le="1"} 2');
    expect(text).toContain('citywatch_inference_latency_seconds_count{camera="cam-m"} 2');
    expect(text).toContain('citywatch_events_total{class="crowd_gathering",transition="confirmed"} 1');
    expect(text).toContain('citywatch_cases_total{class="crowd_gathering",outcome="created"} 1');
    expect(text).toContain('citywatch_delivery_attempts_total{result="success",type="case"} 1');
    expect(text).toMatch(/citywatch_queue_jobs\{queue="delivery",state="waiting"\} \d+/);
    expect(text).toMatch(/citywatch_queue_jobs\{queue="replays",state="active"\} 0/);
    expect(text).toContain('citywatch_camera_state{camera="cam-m",state="stalled"} 1');
    expect(text).toContain('citywatch_camera_state{camera="cam-m",state="online"} 0');
    expect(text).toContain('citywatch_api_process_cpu_seconds_total');
    expect(text).toContain('citywatch_inference_seconds_count{camera="cam-m"} 2');
    expect(text).toContain('citywatch_frame_age_seconds_bucket{camera="cam-m",le="0.25"} 0');
    expect(text).toContain('citywatch_frame_age_seconds_bucket{camera="cam-m",le="0.5"} 1');
    expect(text).toContain('citywatch_frame_age_seconds_bucket{camera="cam-m",le="4"} 2');
    expect(text).toContain('citywatch_frame_age_seconds_sum{camera="cam-m"} 3.3');
    expect(text).toContain('citywatch_camera_fps{camera="cam-m"} 0.5');
    expect(text).toContain('citywatch_camera_skipped_fps{camera="cam-m"} 0.25');
    expect(text).toContain('citywatch_camera_keyframe_decode{camera="cam-m"} 1');
    expect(text).toContain('citywatch_worker_cameras{worker="w-1"} 64');
    expect(text).toContain('citywatch_lease_losses_total{why="taken",worker="w-1"} 1');
  });

  it('readiness reports Redis and the evidence store; liveness needs no key', async () => {
    expect((await request(h.app).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(h.app).get('/readyz').set(auth('tester'));
    expect(ready.status).toBe(200);
    expect(ready.body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['redis', true],
      ['evidence (fs)', true],
    ]);
  });
});

describe('server entry (startApi)', () => {
  it('prints a generated admin key once at first start, honours CITYWATCH_ADMIN_KEY, and logs request ids without secrets', async () => {
    const { startApi } = await import('../../api/server.js');
    const { pino } = await import('pino');
    const { Writable } = await import('node:stream');
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const settings = { redisUrl: h.redisServer.url, prefix: 'srv', dataDir: `${h.dir}/srv`, s3: null };
    const printed: string[] = [];
    const first = await startApi({ port: 0, settings, env: {}, logger: pino(sink), replayWorker: false, printKey: (l) => printed.push(l) });
    try {
      expect(first.generatedAdminKey).toMatch(/^cwk_[A-Za-z0-9_-]{43}$/);
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain(first.generatedAdminKey!);
      const res = await fetch(`${first.url}/v1/keys`, {
        headers: { Authorization: `Bearer ${first.generatedAdminKey}`, 'X-Request-Id': 'req-abc' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('req-abc');
    } finally {
      await first.close();
    }
    const logged = lines.join('');
    expect(logged).toContain('"id":"req-abc"');
    expect(logged).not.toContain(first.generatedAdminKey!);

    const envKey = 'env-admin-key-0123456789abcdef0123';
    const second = await startApi({
      port: 0,
      settings,
      env: { CITYWATCH_ADMIN_KEY: envKey },
      logger: pino({ level: 'silent' }),
      replayWorker: false,
      printKey: (l) => printed.push(l),
    });
    try {
      expect(second.generatedAdminKey).toBeNull();
      expect(printed).toHaveLength(1);
      expect((await fetch(`${second.url}/readyz`, { headers: { Authorization: `Bearer ${envKey}` } })).status).toBe(200);
      expect((await fetch(`${second.url}/readyz`)).status).toBe(401);
    } finally {
      await second.close();
    }
    await expect(
      startApi({ port: 0, settings, env: { CITYWATCH_ADMIN_KEY: 'short' }, logger: pino({ level: 'silent' }), replayWorker: false }),
    ).rejects.toThrow(/at least 24/);
  });

  it('a busy port is refused with a message naming PORT, and what was opened is released', async () => {
    const { startApi } = await import('../../api/server.js');
    const { pino } = await import('pino');
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as import('node:net').AddressInfo).port;
    const settings = { redisUrl: h.redisServer.url, prefix: 'busy', dataDir: `${h.dir}/busy`, s3: null };
    const env = { CITYWATCH_ADMIN_KEY: 'busy-admin-key-0123456789abcdef' };
    try {
      await expect(startApi({ port: busy, host: '127.0.0.1', settings, env, logger: pino({ level: 'silent' }) })).rejects.toThrow(
        `port ${busy} on 127.0.0.1 is already in use (another citywatch, or another program): stop it, or set PORT (and HOST) to listen elsewhere, e.g. PORT=8081`,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // The database (PGlite: one owner per directory) was closed: the same directory opens again.
    const api = await startApi({ port: busy, host: '127.0.0.1', settings, env, logger: pino({ level: 'silent' }), replayWorker: false });
    try {
      expect(api.url).toBe(`http://127.0.0.1:${busy}`);
    } finally {
      await api.close();
    }
  });
});
