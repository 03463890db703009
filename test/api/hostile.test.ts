// Hostile and malformed input: every one is refused with a 4xx that says why, the service stays
// healthy, and nothing stored changes (Redis snapshot and upload folder compared before/after).
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir } from '../support/static-http.js';
import { DOG_JPG, dogClip, run } from '../support/media.js';
import { snapshotRedis, startHarness, type Harness } from './harness.js';
import { waitFor } from '../support/wait.js';

let h: Harness;
let hls: { base: string; close(): Promise<void> };
const MAX_UPLOAD = 256 * 1024;

beforeAll(async () => {
  h = await startHarness({ maxUploadBytes: MAX_UPLOAD });
  // A real HLS segment on local disk, and playlists on a local HTTP server that try to make ffmpeg
  // read local files (absolute path and file: URL) instead of fetching over HTTP.
  const www = path.join(h.dir, 'www');
  await mkdir(www, { recursive: true });
  const clip = await dogClip();
  await run('ffmpeg', [
    '-y',
    '-loglevel',
    'error',
    '-i',
    clip,
    '-c',
    'copy',
    '-f',
    'hls',
    '-hls_time',
    '1',
    '-hls_list_size',
    '0',
    path.join(www, 'ok.m3u8'),
  ]);
  const segment = path.join(
    www,
    (await readdir(www)).find((f) => f.endsWith('.ts'))!,
  );
  await writeFile(path.join(www, 'evil-path.m3u8'), `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${segment}\n#EXT-X-ENDLIST\n`);
  await writeFile(path.join(www, 'evil-file.m3u8'), `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://${segment}\n#EXT-X-ENDLIST\n`);
  await writeFile(
    path.join(www, 'evil-passwd.m3u8'),
    `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n`,
  );
  hls = await serveDir(www);
});
afterAll(async () => {
  await hls?.close();
  await h?.close();
});

const zone = (polygon: number[][]) => ({ id: 'z1', type: 'no_parking', polygon });
const goodConfig = {
  zones: [
    zone([
      [0.1, 0.1],
      [0.9, 0.1],
      [0.9, 0.9],
      [0.1, 0.9],
    ]),
  ],
};

describe('hostile inputs', () => {
  it('are refused with a reason naming the field; stored data and the upload folder are unchanged; the service stays healthy', async () => {
    const admin = { Authorization: `Bearer ${h.keys.admin}` };
    const tester = { Authorization: `Bearer ${h.keys.tester}` };
    // Some real data to protect.
    expect(
      (await request(h.app).post('/v1/cameras').set(admin).send({ id: 'cam-1', url: 'rtsp://u:p@10.1.1.1/live', config: goodConfig }))
        .status,
    ).toBe(201);
    const before = await snapshotRedis(h.redis);
    expect(Object.keys(before).length).toBeGreaterThan(3);
    const uploadsBefore = await readdir(h.deps.uploadDir);

    const cases: { name: string; send: () => request.Test; status: number; code?: string; field?: string; message?: RegExp }[] = [
      {
        name: 'malformed JSON',
        send: () => request(h.app).post('/v1/cameras').set(admin).set('Content-Type', 'application/json').send('{"id": "cam-2", "url": '),
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'JSON body over the limit',
        send: () =>
          request(h.app)
            .post('/v1/cameras')
            .set(admin)
            .send({ id: 'cam-2', url: 'rtsp://h/s', name: 'x'.repeat(2 * 1024 * 1024) }),
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      },
      {
        name: 'file:// camera URL',
        send: () => request(h.app).post('/v1/cameras').set(admin).send({ id: 'cam-2', url: 'file:///etc/passwd' }),
        status: 400,
        field: 'url',
        message: /file: URLs are not accepted/,
      },
      {
        name: 'gopher:// camera URL',
        send: () => request(h.app).post('/v1/cameras').set(admin).send({ id: 'cam-2', url: 'gopher://evil.example/1' }),
        status: 400,
        field: 'url',
        message: /scheme "gopher:" is not allowed/,
      },
      {
        name: 'local path as camera URL',
        send: () => request(h.app).post('/v1/cameras').set(admin).send({ id: 'cam-2', url: '/etc/passwd' }),
        status: 400,
        field: 'url',
        message: /local file paths are not allowed/,
      },
      {
        name: 'plain http video as camera URL',
        send: () => request(h.app).post('/v1/cameras').set(admin).send({ id: 'cam-2', url: 'http://cam.example/video.mp4' }),
        status: 400,
        field: 'url',
        message: /only HLS playlists/,
      },
      {
        name: 'camera URL change to concat:',
        send: () => request(h.app).patch('/v1/cameras/cam-1').set(admin).send({ url: 'concat:/etc/passwd|/etc/hosts' }),
        status: 400,
        field: 'url',
      },
      {
        name: '2-point polygon',
        send: () =>
          request(h.app)
            .put('/v1/cameras/cam-1/zones')
            .set(admin)
            .send({
              zones: [
                zone([
                  [0.1, 0.1],
                  [0.9, 0.9],
                ]),
              ],
            }),
        status: 400,
        field: 'zones.0.polygon',
        message: /at least 3|3 points|fewer than 3/i,
      },
      {
        name: 'self-intersecting polygon',
        send: () =>
          request(h.app)
            .put('/v1/cameras/cam-1/zones')
            .set(admin)
            .send({
              zones: [
                zone([
                  [0.1, 0.1],
                  [0.9, 0.9],
                  [0.9, 0.1],
                  [0.1, 0.9],
                ]),
              ],
            }),
        status: 400,
        field: 'zones.0.polygon',
        message: /intersect/i,
      },
      {
        name: 'polygon out of range',
        send: () =>
          request(h.app)
            .put('/v1/cameras/cam-1/zones')
            .set(admin)
            .send({
              zones: [
                zone([
                  [0.1, 0.1],
                  [1.5, 0.1],
                  [0.5, 0.9],
                ]),
              ],
            }),
        status: 400,
        field: 'zones.0.polygon.1.0',
      },
      {
        name: 'unknown class id (path)',
        send: () => request(h.app).put('/v1/cameras/cam-1/classes/jaywalking').set(admin).send({ minDwellSec: 10 }),
        status: 400,
        field: 'classId',
        message: /unknown violation class/,
      },
      {
        name: 'unknown class id (config)',
        send: () =>
          request(h.app)
            .put('/v1/cameras/cam-1/config')
            .set(admin)
            .send({ ...goodConfig, classes: { jaywalking: {} } }),
        status: 400,
        field: 'classes.jaywalking',
        message: /unknown violation class "jaywalking"/,
      },
      {
        name: 'negative dwell',
        send: () => request(h.app).put('/v1/cameras/cam-1/classes/street_vending').set(admin).send({ minDwellSec: -5 }),
        status: 400,
        field: 'minDwellSec',
      },
      {
        name: 'negative score threshold',
        send: () => request(h.app).put('/v1/cameras/cam-1/classes/illegal_parking').set(admin).send({ minScore: -0.1 }),
        status: 400,
        field: 'minScore',
      },
      {
        name: 'unknown override key',
        send: () => request(h.app).put('/v1/cameras/cam-1/classes/illegal_parking').set(admin).send({ minDwel: 5 }),
        status: 400,
      },
      {
        name: 'bad schedule time',
        send: () =>
          request(h.app)
            .put('/v1/cameras/cam-1/classes/street_vending')
            .set(admin)
            .send({ schedule: { windows: [{ start: '25:00', end: '23:00' }] } }),
        status: 400,
        field: 'schedule.windows.0.start',
      },
      {
        name: 'camera id mismatch in config',
        send: () =>
          request(h.app)
            .put('/v1/cameras/cam-1/config')
            .set(admin)
            .send({ camera: { id: 'other' } }),
        status: 400,
        field: 'config.camera.id',
      },
      {
        name: 'bad camera id',
        send: () => request(h.app).post('/v1/cameras').set(admin).send({ id: '../etc', url: 'rtsp://h/s' }),
        status: 400,
        field: 'id',
      },
      {
        name: 'duplicate camera',
        send: () => request(h.app).post('/v1/cameras').set(admin).send({ id: 'cam-1', url: 'rtsp://h/s' }),
        status: 409,
        code: 'CONFLICT',
      },
      {
        name: 'rejection without a reason',
        send: () => request(h.app).post('/v1/cases/case_0123/status').set(admin).send({ state: 'rejected' }),
        status: 400,
        field: 'reason',
      },
      {
        name: 'status the platform may not set',
        send: () => request(h.app).post('/v1/cases/case_0123/status').set(admin).send({ state: 'verified' }),
        status: 400,
        field: 'state',
      },
      {
        name: 'bad case filter',
        send: () => request(h.app).get('/v1/cases').query({ classId: 'jaywalking' }).set(admin),
        status: 400,
        field: 'classId',
      },
      {
        name: 'bad time range',
        send: () => request(h.app).get('/v1/cases').query({ from: 'yesterday' }).set(admin),
        status: 400,
        field: 'from',
      },
      {
        name: 'forged cursor',
        send: () => request(h.app).get('/v1/cases').query({ cursor: 'bm9wZQ' }).set(admin),
        status: 400,
        field: 'cursor',
      },
      {
        name: 'replay of a file: URL',
        send: () => request(h.app).post('/v1/replays').set(tester).send({ url: 'file:///etc/passwd', config: goodConfig }),
        status: 400,
        field: 'url',
      },
      {
        name: 'replay of a gopher: URL',
        send: () => request(h.app).post('/v1/replays').set(tester).send({ url: 'gopher://x/', config: goodConfig }),
        status: 400,
        field: 'url',
      },
      {
        name: 'replay of a server path (not enabled)',
        send: () => request(h.app).post('/v1/replays').set(tester).send({ path: '/etc/passwd', config: goodConfig }),
        status: 400,
        field: 'path',
      },
      {
        name: 'HLS playlist pointing at a local path',
        send: () =>
          request(h.app)
            .post('/v1/replays')
            .set(tester)
            .send({ url: `${hls.base}/evil-path.m3u8`, config: goodConfig }),
        status: 422,
        code: 'INPUT_UNREADABLE',
        field: 'url',
      },
      {
        name: 'HLS playlist pointing at a file: URL',
        send: () =>
          request(h.app)
            .post('/v1/replays')
            .set(tester)
            .send({ url: `${hls.base}/evil-file.m3u8`, config: goodConfig }),
        status: 422,
        code: 'INPUT_UNREADABLE',
        field: 'url',
      },
      {
        name: 'HLS playlist pointing at /etc/passwd',
        send: () =>
          request(h.app)
            .post('/v1/replays')
            .set(tester)
            .send({ url: `${hls.base}/evil-passwd.m3u8`, config: goodConfig }),
        status: 422,
        code: 'INPUT_UNREADABLE',
        field: 'url',
      },
      {
        name: 'replay with an invalid zone',
        send: () =>
          request(h.app)
            .post('/v1/replays')
            .set(tester)
            .send({
              url: `${hls.base}/ok.m3u8`,
              config: {
                zones: [
                  zone([
                    [0, 0],
                    [1, 1],
                  ]),
                ],
              },
            }),
        status: 400,
        field: 'config.zones.0.polygon',
      },
      {
        name: 'replay with an invalid ground truth',
        send: () =>
          request(h.app)
            .post('/v1/replays')
            .set(tester)
            .send({
              url: `${hls.base}/ok.m3u8`,
              config: goodConfig,
              groundTruth: { version: 1, clip: 'x.mp4', camera: {}, episodes: [{ classId: 'jaywalking', zoneId: 'z1', start: 0, end: 1 }] },
            }),
        status: 400,
        field: 'groundTruth.episodes.0.classId',
      },
      {
        name: 'oversized upload',
        send: () =>
          request(h.app)
            .post('/v1/replays/upload')
            .set(tester)
            .field('config', JSON.stringify(goodConfig))
            .attach('clip', Buffer.alloc(MAX_UPLOAD + 1024, 1), 'big.mp4'),
        status: 413,
        code: 'UPLOAD_TOO_LARGE',
      },
      {
        name: 'text renamed .mp4',
        send: () =>
          request(h.app)
            .post('/v1/replays/upload')
            .set(tester)
            .field('config', JSON.stringify(goodConfig))
            .attach('clip', Buffer.from('this is not a video\n'.repeat(200)), { filename: 'clip.mp4', contentType: 'video/mp4' }),
        status: 422,
        code: 'NOT_A_VIDEO',
        field: 'clip',
      },
      {
        name: 'JPEG renamed .mp4',
        send: () =>
          request(h.app)
            .post('/v1/replays/upload')
            .set(tester)
            .field('config', JSON.stringify(goodConfig))
            .attach('clip', DOG_JPG, { filename: 'clip.mp4', contentType: 'video/mp4' }),
        status: 422,
        code: 'NOT_A_VIDEO',
        message: /still image/,
      },
      {
        name: 'upload without config',
        send: () => request(h.app).post('/v1/replays/upload').set(tester).attach('clip', Buffer.from('x'), 'clip.mp4'),
        status: 400,
        field: 'config',
      },
      {
        name: 'upload with config that is not JSON',
        send: () =>
          request(h.app)
            .post('/v1/replays/upload')
            .set(tester)
            .field('config', '{zones: nope')
            .attach('clip', Buffer.from('x'), 'clip.mp4'),
        status: 400,
        field: 'config',
      },
      {
        name: 'upload in the wrong field',
        send: () =>
          request(h.app)
            .post('/v1/replays/upload')
            .set(tester)
            .field('config', JSON.stringify(goodConfig))
            .attach('video', Buffer.from('x'), 'clip.mp4'),
        status: 400,
        code: 'BAD_UPLOAD',
      },
      {
        name: 'upload without a file',
        send: () => request(h.app).post('/v1/replays/upload').set(tester).send({ config: goodConfig }),
        status: 400,
        field: 'clip',
      },
    ];
    const failures: string[] = [];
    for (const c of cases) {
      const res = await c.send();
      const e = res.body?.error;
      const ok =
        res.status === c.status &&
        e &&
        typeof e.message === 'string' &&
        e.message.length > 0 &&
        e.requestId === res.headers['x-request-id'] &&
        (!c.code || e.code === c.code) &&
        (!c.field || e.field === c.field) &&
        (!c.message || c.message.test(e.message));
      if (!ok) failures.push(`${c.name}: got ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(failures).toEqual([]);

    expect((await request(h.app).get('/healthz')).status).toBe(200);
    expect((await request(h.app).get('/readyz').set(admin)).status).toBe(200);
    expect(await snapshotRedis(h.redis)).toEqual(before);
    // Upload cleanup runs on response close, i.e. possibly after the response arrived: poll for it.
    await waitFor(async () => JSON.stringify(await readdir(h.deps.uploadDir)) === JSON.stringify(uploadsBefore), {
      what: 'refused uploads to be deleted',
    });
    const cam = await request(h.app).get('/v1/cameras/cam-1').set(admin);
    expect(cam.body.config.zones).toHaveLength(1);
    expect(cam.body.version).toBe(1);
    // And the valid HLS playlist on the same server is readable (the refusals above are about the
    // local-file entries, not the server).
    const ok = await request(h.app)
      .post('/v1/replays')
      .set(tester)
      .send({ url: `${hls.base}/ok.m3u8`, config: goodConfig });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
  });
});
