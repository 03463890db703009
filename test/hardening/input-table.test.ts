// Table test: every way the system spawns ffmpeg/ffprobe on a user-supplied input refuses ffmpeg's
// local-file pseudo-protocols (concat:, file:, subfile, data:) and HLS playlists whose segments point
// at local files. A control row (a plain HLS playlist on the same loopback server) must be read by
// every path, so a refusal here is the boundary at work, not a broken fixture.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeVideoFile } from '../../api/media.js';
import { FrameSource } from '../../pipeline/source/ffmpeg-source.js';
import { parseInput } from '../../pipeline/source/input-url.js';
import { probeInput } from '../../pipeline/source/probe.js';
import { Recorder } from '../../pipeline/source/recorder.js';
import { startHarness, type Harness } from '../api/harness.js';
import { dogClip, run } from '../support/media.js';
import { serveDir } from '../support/static-http.js';

type Outcome = 'read' | 'refused';
let dir: string;
let www: string;
let segment: string;
let hls: Awaited<ReturnType<typeof serveDir>>;
let h: Harness;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cw-input-table-'));
  www = path.join(dir, 'www');
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
  segment = path.join(
    www,
    (await readdir(www)).find((f) => f.endsWith('.ts'))!,
  );
  const playlist = (uri: string) => `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${uri}\n#EXT-X-ENDLIST\n`;
  await writeFile(path.join(www, 'seg-file-url.m3u8'), playlist(`file://${segment}`));
  await writeFile(path.join(www, 'seg-path.m3u8'), playlist(segment));
  await writeFile(path.join(www, 'seg-concat.m3u8'), playlist(`concat:${segment}|${segment}`));
  await writeFile(path.join(www, 'seg-subfile.m3u8'), playlist(`subfile,,start,0,end,0,,:${segment}`));
  await writeFile(path.join(www, 'seg-data.m3u8'), playlist('data:video/mp2t;base64,R0FSQkFHRQ=='));
  hls = await serveDir(www);
  h = await startHarness();
}, 120_000);
afterAll(async () => {
  await hls?.close();
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const refusedBy = (err: unknown): Outcome => (err ? 'refused' : 'read');

const paths: Record<string, (input: string) => Promise<Outcome>> = {
  // The boundary itself: a spec it hands out may only let ffmpeg touch the protocols of its kind.
  parseInput: async (input) => {
    try {
      const spec = parseInput(input);
      if (spec.kind === 'file')
        return spec.ffmpegInput.startsWith('file:') && spec.protocols === 'file' && !input.includes('://') ? 'refused' : 'read';
      // A network spec: what counts is that its whitelist leaves ffmpeg no local-file protocol.
      const allowed = spec.protocols.split(',');
      return ['file', 'concat', 'subfile', 'data', 'pipe', 'fd'].some((p) => allowed.includes(p))
        ? 'read'
        : input.endsWith('/ok.m3u8')
          ? 'read'
          : 'refused';
    } catch (err) {
      return refusedBy(err);
    }
  },
  // Frame source (live cameras, previews, replays and `citywatch analyze` all read through it).
  source: async (input) => {
    let src: FrameSource;
    try {
      src = new FrameSource({ input, width: 64, height: 64, fps: 2, live: false, maxReconnects: 0, connectTimeoutSec: 10 });
    } catch (err) {
      return refusedBy(err);
    }
    try {
      for await (const _f of src.frames()) return 'read';
      return 'refused';
    } catch {
      return 'refused';
    } finally {
      await src.stop();
    }
  },
  recorder: async (input) => {
    let rec: Recorder;
    const ring = await mkdtemp(path.join(dir, 'ring-'));
    try {
      rec = new Recorder({ cameraId: 'table', input, dir: ring, maxBytes: 50e6, maxAgeSec: 600, restartMinMs: 60_000 });
    } catch (err) {
      return refusedBy(err);
    }
    const outcome = new Promise<Outcome>((resolve) => {
      rec.on('segment', () => resolve('read'));
      rec.on('restart', () => resolve('refused'));
      rec.on('error', () => resolve('refused'));
      rec.on('end', () => resolve(rec.segments().length > 0 ? 'read' : 'refused'));
    });
    await rec.start();
    const o = await Promise.race([
      outcome,
      new Promise<Outcome>((r) => setTimeout(() => r(rec.segments().length ? 'read' : 'refused'), 20_000)),
    ]);
    await rec.stop();
    return o;
  },
  probe: async (input) => {
    try {
      await probeInput(parseInput(input), { timeoutMs: 10_000 });
      return 'read';
    } catch (err) {
      return refusedBy(err);
    }
  },
  // ffprobe of uploads (api/media.ts): names a local file by construction, but must not be talked
  // into a pseudo-protocol either.
  uploadProbe: async (input) => {
    if (input.startsWith('http')) return 'n/a' as Outcome;
    try {
      await probeVideoFile(input);
      return 'read';
    } catch (err) {
      return refusedBy(err);
    }
  },
  replayApi: async (input) => {
    const res = await request(h.app)
      .post('/v1/replays')
      .set('Authorization', `Bearer ${h.keys.tester}`)
      .send({ url: input, config: { zones: [] } });
    if (res.status === 202) return 'read';
    expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    return 'refused';
  },
  cameraApi: async (input) => {
    // Registration does not connect (the camera may only be reachable from the workers); for a
    // playlist URL the worker's source and recorder rows above are what read it.
    if (input.startsWith('http')) return 'n/a' as Outcome;
    const res = await request(h.app)
      .post('/v1/cameras')
      .set('Authorization', `Bearer ${h.keys.admin}`)
      .send({ id: `t${Math.random().toString(36).slice(2, 9)}`, url: input, config: { zones: [] } });
    if (res.status === 201) return 'read'; // accepted for connection by a worker
    expect(res.status).toBe(400);
    return 'refused';
  },
};

const inputs = (): Array<[string, string]> => [
  ['concat:', `concat:${segment}|${segment}`],
  ['file: URL', `file://${segment}`],
  ['subfile', `subfile,,start,0,end,0,,:${segment}`],
  ['data: URL', 'data:video/mp2t;base64,R0FSQkFHRQ=='],
  ['HLS → file:// segment', `${hls.base}/seg-file-url.m3u8`],
  ['HLS → absolute path segment', `${hls.base}/seg-path.m3u8`],
  ['HLS → concat: segment', `${hls.base}/seg-concat.m3u8`],
  ['HLS → subfile segment', `${hls.base}/seg-subfile.m3u8`],
  ['HLS → data: segment', `${hls.base}/seg-data.m3u8`],
];

describe('every spawn path refuses local-file inputs', () => {
  it('control: a plain HLS playlist on loopback is read by every path', async () => {
    const got: Record<string, Outcome> = {};
    for (const [name, fn] of Object.entries(paths)) got[name] = await fn(`${hls.base}/ok.m3u8`);
    expect(got).toEqual({
      parseInput: 'read',
      source: 'read',
      recorder: 'read',
      probe: 'read',
      uploadProbe: 'n/a',
      replayApi: 'read',
      cameraApi: 'n/a',
    });
  }, 120_000);

  it('table: each hostile input × each path is refused', async () => {
    const failures: string[] = [];
    for (const [label, input] of inputs()) {
      for (const [name, fn] of Object.entries(paths)) {
        const o = await fn(input);
        if (o === 'read') failures.push(`${label} was READ by ${name}`);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
