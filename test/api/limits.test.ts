// API limits (per-key rate limit shared across API processes, page sizes, body size), the audit log
// of configuration changes, and the address policy on camera and replay URLs.
import net from 'node:net';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import type { Resolver } from '../../pipeline/source/address-policy.js';
import { startHarness, type Harness } from './harness.js';

const zone = {
  id: 'z1',
  type: 'no_parking',
  polygon: [
    [0.1, 0.1],
    [0.9, 0.1],
    [0.9, 0.9],
    [0.1, 0.9],
  ],
};
const config = { zones: [zone] };
// Names resolve from this table only: nothing in this file looks a name up on the network.
const names: Record<string, string[]> = {
  'cam.city.example': ['10.0.0.5'],
  'rebind.example': ['93.184.216.34', '169.254.169.254'],
  'v6ll.example': ['fe80::1'],
  'lan.example': ['192.168.4.4'],
};
const resolve: Resolver = async (host) => {
  const a = names[host];
  if (!a) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ rateLimit: { points: 6, durationSec: 60 } });
  });
  afterAll(() => h?.close());

  it('limit each key, hold across two API processes sharing Redis, and answer 429 with Retry-After', async () => {
    const second = createApp({ ...h.deps, keys: h.app.keys, audit: undefined });
    const apps = [h.app, second];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push(
        (
          await request(apps[i % 2]!)
            .get('/v1/cameras')
            .set('Authorization', `Bearer ${h.keys.operator}`)
        ).status,
      );
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    const limited = await request(h.app).get('/v1/cameras').set('Authorization', `Bearer ${h.keys.operator}`);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another key has its own budget; public probes are not limited.
    expect((await request(second).get('/v1/cameras').set('Authorization', `Bearer ${h.keys.admin}`)).status).toBe(200);
    expect((await request(h.app).get('/healthz')).status).toBe(200);
  });
});

describe('page sizes, body sizes, audit log, address policy', () => {
  let h: Harness;
  let h2: Harness;
  beforeAll(async () => {
    h = await startHarness({ resolve });
    h2 = await startHarness({ resolve, replayAllowCidrs: [] });
  });
  afterAll(async () => {
    await h?.close();
    await h2?.close();
  });
  const as = (role: keyof Harness['keys'], hh = h) => ({ Authorization: `Bearer ${hh.keys[role]}` });

  it('refuses a page above the maximum with a reason, and bodies above the limit with 413', async () => {
    const big = await request(h.app).get('/v1/cases?limit=501').set(as('admin'));
    expect(big.status).toBe(400);
    expect(big.body.error.field).toBe('limit');
    expect(big.body.error.message).toMatch(/maximum page size/);
    expect((await request(h.app).get('/v1/audit?limit=100000').set(as('admin'))).status).toBe(400);
    expect((await request(h.app).get('/v1/deliveries/dead-letters?limit=9999').set(as('admin'))).status).toBe(400);
    expect((await request(h.app).get('/v1/cases?limit=500').set(as('admin'))).status).toBe(200);
    const huge = await request(h.app)
      .put('/v1/cameras/x/config')
      .set(as('admin'))
      .send({ ...config, pad: 'x'.repeat(1100 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('records who changed what, before and after, with URLs redacted; only admins read it', async () => {
    const url = 'rtsp://admin:hunter2secret@cam.city.example/live?authtoken=TOKEN123456';
    expect((await request(h.app).post('/v1/cameras').set(as('operator')).send({ id: 'aud-1', url, config })).status).toBe(201);
    expect((await request(h.app).patch('/v1/cameras/aud-1').set(as('operator')).send({ name: 'Gate 4' })).status).toBe(200);
    expect((await request(h.app).patch('/v1/cameras/aud-1').set(as('operator')).send({ name: '' })).status).toBe(400); // refused: not audited
    expect((await request(h.app).delete('/v1/cameras/aud-1').set(as('admin'))).status).toBe(204);
    expect((await request(h.app).get('/v1/audit').set(as('operator'))).status).toBe(403);
    const res = await request(h.app).get('/v1/audit?target=camera:aud-1').set(as('admin'));
    expect(res.status).toBe(200);
    const items = res.body.items as Array<Record<string, unknown> & { before: { name: string }; after: { name: string } }>;
    expect(items.map((e) => e.action)).toEqual(['deleteCamera', 'updateCamera', 'createCamera']);
    const keys = await h.app.keys.list();
    const op = keys.find((k) => k.role === 'operator')!;
    expect(items[2]).toMatchObject({
      keyId: op.id,
      keyName: op.name,
      role: 'operator',
      method: 'POST',
      before: null,
      after: { id: 'aud-1' },
    });
    expect(items[1]!.before.name).toBe('aud-1');
    expect(items[1]!.after.name).toBe('Gate 4');
    expect(items[0]!.after).toBeNull();
    expect(items.every((e) => typeof e.at === 'number' && e.at <= Date.now())).toBe(true);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('hunter2secret');
    expect(text).not.toContain('TOKEN123456');
    // Paging: newest first, cursor goes to older entries.
    const p1 = await request(h.app).get('/v1/audit?limit=1&target=camera:aud-1').set(as('admin'));
    const p2 = await request(h.app).get(`/v1/audit?limit=1&target=camera:aud-1&before=${p1.body.nextCursor}`).set(as('admin'));
    expect([p1.body.items[0].action, p2.body.items[0].action]).toEqual(['deleteCamera', 'updateCamera']);
  });

  describe('address policy', () => {
    let server: net.Server;
    let connections = 0;
    let port = 0;
    beforeAll(async () => {
      server = net.createServer((s) => {
        connections++;
        s.destroy();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      port = (server.address() as net.AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    afterEach(() => expect(connections).toBe(0));

    it.each([
      ['camera', 'rtsp://169.254.169.254/latest', 'ADDRESS_METADATA', /metadata/],
      ['camera', 'http://metadata.google.internal/x.m3u8', 'ADDRESS_METADATA', /metadata/],
      ['camera', 'rtsp://169.254.10.10/live', 'ADDRESS_LINK_LOCAL', /link-local/],
      ['camera', 'rtsp://[fe80::1]/live', 'ADDRESS_LINK_LOCAL', /link-local/],
      ['camera', 'rtsp://v6ll.example/live', 'ADDRESS_LINK_LOCAL', /link-local/],
      ['camera', 'rtsp://rebind.example/live', 'ADDRESS_METADATA', /rebind\.example → 169\.254\.169\.254/],
      ['replay', 'rtsp://169.254.169.254/x', 'ADDRESS_METADATA', /metadata/],
      ['replay', 'http://lan.example/live.m3u8', 'ADDRESS_PRIVATE', /private/],
      ['replay', 'rtsp://10.9.9.9/live', 'ADDRESS_PRIVATE', /REPLAY_ALLOW_CIDRS/],
      ['replay-no-allow', 'loopback', 'ADDRESS_LOOPBACK', /loopback/],
    ])('%s %s → 400 %s before any connection', async (kind, url, code, message) => {
      const target = url === 'loopback' ? `rtsp://127.0.0.1:${port}/live` : url;
      const res =
        kind === 'camera'
          ? await request(h.app)
              .post('/v1/cameras')
              .set(as('admin'))
              .send({ id: `c${Math.random().toString(36).slice(2, 8)}`, url: target, config })
          : await request(kind === 'replay' ? h.app : h2.app)
              .post('/v1/replays')
              .set(as('tester', kind === 'replay' ? h : h2))
              .send({ url: target, config });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.field).toBe('url');
      expect(res.body.error.message).toMatch(message);
    });

    it('accepts cameras on private networks (not connected at registration)', async () => {
      for (const [id, url] of [
        ['lan-1', 'rtsp://10.0.0.5/live'],
        ['lan-2', 'rtsp://cam.city.example/live'],
        ['lan-3', 'rtsp://unresolvable-here.example/live'],
      ]) {
        const res = await request(h.app).post('/v1/cameras').set(as('admin')).send({ id, url, config });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
    });
  });
});
