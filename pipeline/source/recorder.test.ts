import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCameraClip, probeFirstFrame } from '../../test/evidence/media.js';
import { defaultClock, parseListLine, planPrune, Recorder, recorderArgs, type SegmentRecord } from './recorder.js';

const seg = (file: string, startTime: number, endWall: number, bytes: number): SegmentRecord => ({
  file,
  startTime,
  endTime: startTime + 2,
  startWall: endWall - 2000,
  endWall,
  bytes,
});

describe('planPrune', () => {
  const ring = [seg('a', 0, 1_000_000, 100), seg('b', 2, 1_002_000, 100), seg('c', 4, 1_004_000, 100)];
  it('drops oldest first until the bytes fit (with headroom for the segment being written)', () => {
    expect(planPrune(ring, { maxBytes: 250, maxAgeSec: 3600 }, 1_004_000).drop.map((r) => r.file)).toEqual(['a']);
    expect(planPrune(ring, { maxBytes: 250, maxAgeSec: 3600, headroomBytes: 100 }, 1_004_000).drop.map((r) => r.file)).toEqual(['a', 'b']);
    expect(planPrune(ring, { maxBytes: 300, maxAgeSec: 3600 }, 1_004_000).drop).toEqual([]);
  });
  it('drops segments older than maxAgeSec by their end wall time', () => {
    expect(planPrune(ring, { maxBytes: 1e9, maxAgeSec: 3 }, 1_004_500).keep.map((r) => r.file)).toEqual(['b', 'c']);
  });
});

describe('parseListLine', () => {
  it('reads name, start and end of a segment list line', () => {
    expect(parseListLine('/data/rings/c1/lx2a-000003.ts,6.000000,8.040000\n')).toEqual({ file: 'lx2a-000003.ts', start: 6, end: 8.04 });
    expect(parseListLine('run-000000.ts,-0.040000,2.000000')).toEqual({ file: 'run-000000.ts', start: -0.04, end: 2 });
    expect(parseListLine('garbage')).toBeNull();
    expect(parseListLine('a.ts,1,x')).toBeNull();
  });
});

describe('recorder arguments and clocks', () => {
  it('uses -re and -stream_loop only for files that ask, and rtsp over tcp', () => {
    const base = { cameraId: 'c', dir: '/r', maxBytes: 1, maxAgeSec: 1 };
    expect(recorderArgs({ ...base, input: 'a.mp4' }, 'x')).not.toContain('-re');
    const rt = recorderArgs({ ...base, input: 'a.mp4', realtime: true, loop: true }, 'x');
    expect(rt).toContain('-re');
    expect(recorderArgs({ ...base, input: 'a.mp4', readRate: 40 }, 'x').join(' ')).toContain('-readrate 40 ');
    expect(rt.slice(rt.indexOf('-stream_loop'), rt.indexOf('-stream_loop') + 2)).toEqual(['-stream_loop', '-1']);
    const rtsp = recorderArgs({ ...base, input: 'rtsp://cam/1', realtime: true }, 'x');
    expect(rtsp).not.toContain('-re');
    expect(rtsp.slice(rtsp.indexOf('-rtsp_transport'), rtsp.indexOf('-rtsp_transport') + 2)).toEqual(['-rtsp_transport', 'tcp']);
    // RTP gives no decode times for the first B-frame packets; only RTSP gets the fill-in filter.
    expect(rtsp.slice(rtsp.indexOf('-bsf:v'), rtsp.indexOf('-bsf:v') + 2)).toEqual(['-bsf:v', 'setts=dts=if(eq(DTS\\,NOPTS)\\,PTS\\,DTS)']);
    expect(recorderArgs({ ...base, input: 'a.mp4' }, 'x')).not.toContain('-bsf:v');
    expect(recorderArgs({ ...base, input: 'a.mp4' }, 'x')).toEqual(
      expect.arrayContaining(['-c', 'copy', '-segment_list_type', 'csv', '-reset_timestamps', '1']),
    );
    expect(defaultClock('rtsps://cam/1')).toBe('wall');
    expect(defaultClock('https://x/live.m3u8')).toBe('wall');
    expect(defaultClock('/data/a.mp4')).toBe('stream');
  });
  it('rejects inputs it cannot record with a clear error', () => {
    expect(() => new Recorder({ cameraId: 'c', input: 'ftp://x/y', dir: '/tmp/x', maxBytes: 1, maxAgeSec: 1 })).toThrow(
      /scheme "ftp:" is not allowed/,
    );
    expect(() => new Recorder({ cameraId: 'c', input: 'a.mp4', dir: '/tmp/x', maxBytes: 0, maxAgeSec: 1 })).toThrow(/maxBytes/);
  });
});

describe('Recorder on real footage', () => {
  let tmp: string;
  let clip: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cw-rec-'));
    clip = await makeCameraClip(tmp, { seconds: 30, gopSec: 2 });
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  function dirBytes(dir: string): number {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .reduce((s, f) => {
        try {
          return s + statSync(join(dir, f)).size;
        } catch {
          return s; // pruned between readdir and stat
        }
      }, 0);
  }

  it('records a file into contiguous keyframe-led 2 s segments on the stream clock, then ends', async () => {
    const dir = join(tmp, 'ring-file');
    const rec = new Recorder({ cameraId: 'cam-01', input: clip, dir, segmentSec: 2, maxBytes: 50e6, maxAgeSec: 3600 });
    const ended = new Promise<void>((r) => rec.once('end', () => r()));
    await rec.start();
    await ended;
    const ring = rec.segments();
    expect(ring.length).toBe(15);
    expect(ring[0]!.startTime).toBe(0);
    expect(ring[ring.length - 1]!.endTime).toBeCloseTo(30, 0);
    for (let i = 1; i < ring.length; i++) expect(ring[i]!.startTime).toBeCloseTo(ring[i - 1]!.endTime, 3);
    for (const r of ring) {
      expect(r.endTime - r.startTime).toBeGreaterThan(1.5);
      expect(r.endTime - r.startTime).toBeLessThan(2.5);
      expect(statSync(join(dir, r.file)).size).toBe(r.bytes);
    }
    expect(await probeFirstFrame(join(dir, ring[7]!.file))).toEqual({ keyFrame: 1, pictType: 'I' });
    // The on-disk index matches, so a restarted worker finds the ring again.
    expect(JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))).toEqual(ring);
  });

  it('never holds more than maxBytes over a 10-minute looped stream, and never indexes a deleted file', async () => {
    const dir = join(tmp, 'ring-loop');
    const maxBytes = 700_000; // about eight 2 s segments of this footage
    const rec = new Recorder({ cameraId: 'cam-01', input: clip, dir, segmentSec: 2, maxBytes, maxAgeSec: 3600, loop: true, readRate: 40 });
    let events = 0;
    let maxIndexed = 0;
    let maxOnDisk = 0;
    const problems: string[] = [];
    const done = new Promise<void>((resolve) => {
      rec.on('segment', (s) => {
        events++;
        const indexed = rec.totalBytes();
        maxIndexed = Math.max(maxIndexed, indexed);
        maxOnDisk = Math.max(maxOnDisk, dirBytes(dir));
        if (indexed > maxBytes) problems.push(`indexed ${indexed} > ${maxBytes} at ${s.endTime}`);
        for (const r of rec.segments()) if (!existsSync(join(dir, r.file))) problems.push(`index lists deleted ${r.file}`);
        if (s.endTime >= 600) resolve();
      });
    });
    await rec.start();
    await done;
    await rec.stop();
    expect(problems).toEqual([]);
    expect(events).toBeGreaterThanOrEqual(295);
    expect(maxIndexed).toBeLessThanOrEqual(maxBytes);
    // Ring holds a useful window: at least 5 segments after pruning.
    expect(rec.segments().length).toBeGreaterThanOrEqual(5);
    console.log(
      `ring: ${events} segments, max indexed ${maxIndexed} B, max on disk (incl. segments being written) ${maxOnDisk} B, limit ${maxBytes} B`,
    );
  });

  it('restarts ffmpeg when it dies, keeps stream time rising and wall times contiguous; a new recorder adopts the ring and drops orphans', async () => {
    const dir = join(tmp, 'ring-restart');
    const rec = new Recorder({
      cameraId: 'cam-01',
      input: clip,
      dir,
      segmentSec: 2,
      maxBytes: 50e6,
      maxAgeSec: 3600,
      loop: true,
      realtime: true,
      restartMinMs: 200,
    });
    const segs: SegmentRecord[] = [];
    const waitSegments = (n: number) =>
      new Promise<void>((resolve) => {
        const on = (s: SegmentRecord) => {
          segs.push(s);
          if (segs.length >= n) {
            rec.off('segment', on);
            resolve();
          }
        };
        rec.on('segment', on);
      });
    await rec.start();
    await waitSegments(2);
    const firstPid = rec.pid!;
    const restarted = new Promise((r) => rec.once('restart', r));
    process.kill(firstPid, 'SIGKILL');
    await restarted;
    await waitSegments(3);
    expect(rec.restarts).toBe(1);
    expect(rec.pid).not.toBe(firstPid);
    for (let i = 1; i < segs.length; i++) expect(segs[i]!.startTime).toBeGreaterThanOrEqual(segs[i - 1]!.endTime - 1e-6);
    // Wall clock: consecutive segments within one run abut (±0.5 s of arrival jitter) and last ~2 s.
    expect(Math.abs(segs[1]!.startWall - segs[0]!.endWall)).toBeLessThan(500);
    expect(segs[1]!.endWall - segs[1]!.startWall).toBeGreaterThan(1500);
    expect(rec.lastSegmentAt).toBe(segs[segs.length - 1]!.endWall);
    // The watchdog's clock is the list line's arrival (set before indexing's file system calls).
    expect(rec.lastListedAt).toBeGreaterThanOrEqual(rec.lastSegmentAt!);
    expect(rec.isStalled(rec.lastListedAt! + 33_000)).toBe(false);
    expect(rec.isStalled(rec.lastListedAt! + 35_000)).toBe(true);
    const runs = new Set(segs.map((s) => s.file.split('-')[0]));
    expect(runs.size).toBe(2);
    await rec.stop();

    // A partial segment left by a killed run, unknown to the index.
    await writeFile(join(dir, 'zzzz-000001.ts'), Buffer.alloc(1000));
    const again = new Recorder({
      cameraId: 'cam-01',
      input: clip,
      dir,
      segmentSec: 2,
      maxBytes: 50e6,
      maxAgeSec: 3600,
      loop: true,
      realtime: true,
    });
    await again.start();
    const adopted = again.segments();
    await again.stop();
    expect(adopted.slice(0, segs.length).map((s) => s.file)).toEqual(
      rec
        .segments()
        .slice(0, segs.length)
        .map((s) => s.file),
    );
    expect(existsSync(join(dir, 'zzzz-000001.ts'))).toBe(false);
  });
});
