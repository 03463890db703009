// Live inputs against real servers: HLS over a local HTTP server, RTSP from GStreamer's RTSP
// server (as from a camera), and the failure paths a city network produces.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FrameSource, type SourceState } from '../pipeline/source/ffmpeg-source.js';
import type { Frame } from '../pipeline/types.js';
import { freePort, run, VTEST, vtestH264 } from './support/media.js';
import { startRtspServer } from './support/rtsp.js';
import { serveDir } from './support/static-http.js';
import { waitFor as waitUntil } from './support/wait.js';

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));
afterEach(() => expect(unhandled).toEqual([]));

const small = { width: 160, height: 160, fps: 5 } as const;

function collectStates(src: FrameSource): SourceState[] {
  const states: SourceState[] = [];
  src.on('state', (s: SourceState) => states.push(s));
  return states;
}

const waitFor = (cond: () => boolean, timeoutMs: number, what: string) => waitUntil(cond, { timeoutMs, what });

describe('HLS', () => {
  let hlsDir: string;
  let server: Awaited<ReturnType<typeof serveDir>>;
  beforeAll(async () => {
    hlsDir = await mkdtemp(path.join(os.tmpdir(), 'cw-hls-'));
    await run('ffmpeg', [
      '-y',
      '-loglevel',
      'error',
      '-i',
      await vtestH264(8),
      '-c',
      'copy',
      '-f',
      'hls',
      '-hls_time',
      '2',
      '-hls_playlist_type',
      'vod',
      path.join(hlsDir, 'index.m3u8'),
    ]);
    // A hostile playlist: segments that point at local files.
    await writeFile(
      path.join(hlsDir, 'evil.m3u8'),
      `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://${hlsDir}/index0.ts\n#EXTINF:2.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n`,
    );
    server = await serveDir(hlsDir);
  });
  afterAll(async () => server?.close());

  it('reads a segmented clip from an .m3u8 served over HTTP', async () => {
    const src = new FrameSource({ input: `${server.base}/index.m3u8`, live: false, ...small });
    const frames: Frame[] = [];
    for await (const f of src.frames()) frames.push(f);
    expect(src.state.state).toBe('ended');
    // 8 s at 5 fps; the last frame may fall on either side of the cut.
    expect(frames.length).toBeGreaterThanOrEqual(39);
    expect(frames.length).toBeLessThanOrEqual(41);
    expect(frames[10]!.streamTime).toBeCloseTo(2, 3);
    expect(frames[0]!.letterbox.srcWidth).toBe(768);
  });

  it('refuses a playlist whose segments reference local files', async () => {
    const src = new FrameSource({ input: `${server.base}/evil.m3u8`, live: false, ...small });
    const frames: Frame[] = [];
    await expect(async () => {
      for await (const f of src.frames()) frames.push(f);
    }).rejects.toThrow(/cannot read|not on whitelist|ffmpeg exited|no video stream/i);
    expect(frames).toHaveLength(0);
    expect(src.state.state).toBe('failed');
  });
});

describe('RTSP from a real RTSP server', () => {
  it('pulls frames; after the server stops mid-stream it reconnects and frames resume', async () => {
    const clip = await vtestH264(30);
    const port = await freePort();
    let server = await startRtspServer(clip, port);
    const src = new FrameSource({
      input: server.url,
      ...small,
      stallTimeoutSec: 3,
      connectTimeoutSec: 5,
      backoff: { initialMs: 300, maxMs: 1000 },
    });
    const states = collectStates(src);
    const frames: Frame[] = [];
    const it = src.frames();
    try {
      while (frames.length < 10) frames.push((await it.next()).value as Frame);
      expect(src.state.state).toBe('online');
      await server.stop();
      await waitFor(() => states.some((s) => s.state === 'offline' || s.state === 'stalled'), 15_000, 'offline after server stop');
      server = await startRtspServer(clip, port);
      const before = frames.length;
      const lastTime = frames.at(-1)!.streamTime;
      // Drain whatever was queued before the drop, then require fresh frames from the new session.
      const deadline = Date.now() + 30_000;
      while (src.stats.reconnects === 0 || frames.length < before + 10) {
        if (Date.now() > deadline) throw new Error('frames did not resume');
        frames.push((await it.next()).value as Frame);
      }
      expect(src.stats.reconnects).toBeGreaterThanOrEqual(1);
      expect(states.filter((s) => s.state === 'online').length).toBeGreaterThanOrEqual(2);
      expect(frames.at(-1)!.streamTime).toBeGreaterThan(lastTime);
      for (let i = 1; i < frames.length; i++) expect(frames[i]!.streamTime).toBeGreaterThan(frames[i - 1]!.streamTime);
    } finally {
      await it.return!();
      await server.stop();
    }
  });
});

describe('still images', () => {
  it('a photo gives exactly one frame at time 0 (the fps filter alone would drop it)', async () => {
    const frames: Frame[] = [];
    for await (const f of new FrameSource({ input: '/usr/share/darknet/data/dog.jpg', ...small }).frames()) frames.push(f);
    expect(frames.map((f) => [f.index, f.streamTime, f.letterbox.srcWidth, f.letterbox.srcHeight])).toEqual([[0, 0, 768, 576]]);
  });
});

describe('failure paths', () => {
  it('a non-video file gives a clear error', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-bad-'));
    const fake = path.join(dir, 'notes.mp4');
    await writeFile(fake, 'this is not a video\n'.repeat(100));
    const src = new FrameSource({ input: fake, ...small });
    await expect(async () => {
      for await (const _ of src.frames());
    }).rejects.toThrow(/cannot read .*notes\.mp4.*Invalid data/);
  });

  it('an unreachable URL retries with growing backoff and reports its state, without crashing', async () => {
    const port = await freePort(); // nothing listens here
    const src = new FrameSource({
      input: `rtsp://user:secret@127.0.0.1:${port}/cam`,
      ...small,
      backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 },
    });
    const states = collectStates(src);
    src.start();
    await waitFor(() => states.filter((s) => s.state === 'offline').length >= 4, 20_000, 'four offline states');
    await src.stop();
    const offline = states.filter((s) => s.state === 'offline');
    expect(offline.slice(0, 4).map((s) => s.retryInMs)).toEqual([100, 200, 400, 400]);
    expect(offline[0]!.reason).toMatch(/refused|cannot read/i);
    // Credentials never leak into states or logs.
    for (const s of states) expect(s.reason ?? '').not.toContain('secret');
  });

  it('a slow consumer of a live source drops the oldest frames instead of growing memory', async () => {
    const src = new FrameSource({ input: VTEST, live: true, ...small, fps: 10, queueCapacity: 3, maxReconnects: 0 });
    const it = src.frames();
    const got: Frame[] = [];
    for (let i = 0; i < 6; i++) {
      got.push((await it.next()).value as Frame);
      await new Promise((r) => setTimeout(r, 150));
    }
    await it.return!();
    expect(src.stats.dropped).toBeGreaterThan(0);
    // Indices jump where frames were dropped; the queue never held more than its capacity.
    expect(got.at(-1)!.index - got[0]!.index).toBeGreaterThan(got.length - 1);
  });
});
