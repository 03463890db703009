import { describe, expect, it } from 'vitest';
import { buildFfmpegArgs, chooseDecode } from './ffmpeg-source.js';
import { keyframeInterval } from './probe.js';
import { FrameQueue } from './frame-queue.js';
import { InputError, parseInput, redactUrl, scrubSecrets } from './input-url.js';
import { axisScales, computeLetterbox, letterboxFilter } from '../geometry/letterbox.js';

describe('input classification and protocol whitelist', () => {
  it('classifies each allowed scheme with its own whitelist', () => {
    expect(parseInput('rtsp://cam.local:554/live')).toMatchObject({ kind: 'rtsp', protocols: 'rtsp,rtp,udp,tcp', live: true });
    expect(parseInput('rtsps://cam.local/live')).toMatchObject({ kind: 'rtsps', protocols: 'rtsp,rtsps,rtp,udp,tcp,tls' });
    expect(parseInput('http://h/a/index.m3u8')).toMatchObject({ kind: 'hls', protocols: 'http,tcp,crypto,hls' });
    expect(parseInput('https://h/a/index.M3U8?token=1')).toMatchObject({ kind: 'hls', protocols: 'https,http,tls,tcp,crypto,hls' });
    expect(parseInput('/data/clip.mp4')).toMatchObject({
      kind: 'file',
      ffmpegInput: 'file:/data/clip.mp4',
      protocols: 'file',
      live: false,
    });
  });
  it('no whitelist for a network input contains file', () => {
    for (const u of ['rtsp://a/b', 'rtsps://a/b', 'http://a/b.m3u8', 'https://a/b.m3u8']) {
      expect(parseInput(u).protocols.split(',')).not.toContain('file');
    }
  });
  it('refuses other schemes, file: URLs, non-HLS http and (where asked) local paths', () => {
    expect(() => parseInput('gopher://x/y')).toThrow(/scheme "gopher:" is not allowed/);
    expect(() => parseInput('file:///etc/passwd')).toThrow(/file: URLs are not accepted/);
    expect(() => parseInput('concat:/a|/b')).toThrow(InputError);
    expect(() => parseInput('http://h/video.mp4')).toThrow(/only HLS playlists/);
    expect(() => parseInput('/etc/passwd', { allowFiles: false })).toThrow(/local file paths are not allowed/);
    expect(() => parseInput('rtsp://a/b\nx')).toThrow(/control characters/);
    expect(() => parseInput('')).toThrow(/empty/);
  });
  it('redacts credentials for display and scrubs them from tool output', () => {
    const spec = parseInput('rtsp://admin:p%40ss@10.0.0.5/ch1');
    expect(spec.display).toBe('rtsp://***:***@10.0.0.5/ch1');
    expect(redactUrl('rtsp://admin@h/x')).toBe('rtsp://***@h/x');
    expect(scrubSecrets('rtsp://admin:p%40ss@10.0.0.5/ch1: 401 Unauthorized', spec)).toBe('rtsp://***:***@10.0.0.5/ch1: 401 Unauthorized');
    expect(scrubSecrets('Connection to tcp://u:pw@1.2.3.4:554 failed')).toBe('Connection to tcp://***:***@1.2.3.4:554 failed');
  });
});

describe('letterbox', () => {
  it('fits 768x576 into 416x416 top-left like the model expects', () => {
    const lb = computeLetterbox(768, 576, 416, 416);
    expect(lb).toEqual({
      scale: 416 / 768,
      scaleX: 416 / 768,
      scaleY: 416 / 768,
      mode: 'letterbox',
      srcWidth: 768,
      srcHeight: 576,
      scaledWidth: 416,
      scaledHeight: 312,
      dstWidth: 416,
      dstHeight: 416,
    });
    expect(letterboxFilter(lb, 114)).toBe('scale=416:312:flags=bilinear,setsar=1,pad=416:416:0:0:color=0x727272');
  });
  it('handles portrait sources', () => {
    const lb = computeLetterbox(480, 960, 416, 416);
    expect([lb.scaledWidth, lb.scaledHeight, lb.scale]).toEqual([208, 416, 416 / 960]);
  });
  it('stretches each axis independently for models trained without aspect keeping', () => {
    const lb = computeLetterbox(1920, 1080, 416, 416, 'stretch');
    expect(lb).toEqual({
      scale: 416 / 1920,
      scaleX: 416 / 1920,
      scaleY: 416 / 1080,
      mode: 'stretch',
      srcWidth: 1920,
      srcHeight: 1080,
      scaledWidth: 416,
      scaledHeight: 416,
      dstWidth: 416,
      dstHeight: 416,
    });
    expect(axisScales(lb)).toEqual({ sx: 416 / 1920, sy: 416 / 1080 });
    expect(letterboxFilter(lb, 114)).toBe('scale=416:416:flags=bilinear,setsar=1');
    // A hand-built letterbox without per-axis fields still maps with its uniform scale.
    expect(axisScales({ scale: 0.5, srcWidth: 2, srcHeight: 2, scaledWidth: 1, scaledHeight: 1, dstWidth: 1, dstHeight: 1 })).toEqual({
      sx: 0.5,
      sy: 0.5,
    });
  });
});

describe('ffmpeg arguments', () => {
  const lb = computeLetterbox(768, 576, 416, 416);
  const o = {
    fps: 2,
    keyframesOnly: false,
    padValue: 114,
    pixelFormat: 'bgr24' as const,
    rtspTransport: 'tcp' as const,
    realtime: false,
    stallTimeoutSec: 10,
  };
  it('puts the whitelist before the input and resizes in ffmpeg', () => {
    const args = buildFfmpegArgs(parseInput('rtsp://cam/x'), lb, o);
    expect(args.indexOf('-protocol_whitelist')).toBeLessThan(args.indexOf('-i'));
    expect(args).toContain('-rtsp_transport');
    expect(args[args.indexOf('-vf') + 1]).toBe(
      'fps=2,showinfo=checksum=0,scale=416:312:flags=bilinear,setsar=1,pad=416:416:0:0:color=0x727272,format=bgr24',
    );
    expect(args.slice(-5)).toEqual(['-pix_fmt', 'bgr24', '-f', 'rawvideo', 'pipe:1']);
  });
  it('forces the HLS demuxer for playlists and uses skip_frame for keyframe mode', () => {
    const args = buildFfmpegArgs(parseInput('http://h/i.m3u8'), lb, { ...o, keyframesOnly: true });
    expect(args.slice(args.indexOf('-f'), args.indexOf('-f') + 2)).toEqual(['-f', 'hls']);
    expect(args.indexOf('-skip_frame')).toBeLessThan(args.indexOf('-i'));
    // Every keyframe up to the analysed fps (select never duplicates a frame as fps would).
    expect(args[args.indexOf('-vf') + 1]!.startsWith('select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.45),showinfo')).toBe(true);
    expect(args).toContain('-fps_mode');
  });
  it('adds the recorder as a second output of the same input (one connection)', () => {
    const rec = ['-map', '0:v:0', '-c', 'copy', '-f', 'segment', 'ring/x-%06d.ts'];
    const args = buildFfmpegArgs(parseInput('rtsp://cam/x'), lb, { ...o, keyframesOnly: true }, rec);
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    expect(args.slice(-rec.length)).toEqual(rec);
    expect(args.indexOf('pipe:1')).toBeLessThan(args.indexOf('segment'));
    expect(args.slice(args.indexOf('-fflags'), args.indexOf('-fflags') + 2)).toEqual(['-fflags', '+genpts']);
    expect(args.indexOf('-fflags')).toBeLessThan(args.indexOf('-i'));
  });
});

describe('decode mode', () => {
  it('auto: keyframes when the analysed fps is at most the keyframe rate of a live stream', () => {
    expect(chooseDecode('auto', 0.5, true, 2)).toMatchObject({ mode: 'keyframes', effectiveFps: 0.5 });
    expect(chooseDecode('auto', 0.5, true, 2.04)).toMatchObject({ mode: 'keyframes' });
    expect(chooseDecode('auto', 0.25, true, 1)).toMatchObject({ mode: 'keyframes', effectiveFps: 0.25 });
    expect(chooseDecode('auto', 1, true, 2)).toMatchObject({ mode: 'full', effectiveFps: 1 });
    expect(chooseDecode('auto', 0.5, true, null)).toMatchObject({ mode: 'full', reason: 'keyframe rate unknown' });
    expect(chooseDecode('auto', 0.5, false, 2)).toMatchObject({ mode: 'full' });
  });
  it('overrides win; forced keyframes report the rate they can give', () => {
    expect(chooseDecode('keyframes', 2, true, 4)).toMatchObject({ mode: 'keyframes', effectiveFps: 0.25 });
    expect(chooseDecode('keyframes', 2, false, null)).toMatchObject({ mode: 'keyframes', effectiveFps: 2 });
    expect(chooseDecode('full', 0.1, true, 2)).toMatchObject({ mode: 'full', effectiveFps: 0.1 });
  });
  it('measures the GOP as the median gap between keyframe packets', () => {
    const pk = (t: number, k: boolean) => ({ pts_time: String(t), flags: k ? 'K__' : '___' });
    expect(keyframeInterval([pk(0, true), pk(0.04, false), pk(2, true), pk(3.9, false), pk(4, true), pk(6.1, true)])).toBe(2);
    expect(keyframeInterval([pk(0.5, true), pk(1, false)])).toBeNull();
    expect(keyframeInterval([])).toBeNull();
  });
});

describe('FrameQueue', () => {
  it('drop-oldest keeps the newest items and counts drops', async () => {
    const q = new FrameQueue<number>(2, 'drop-oldest');
    [1, 2, 3, 4].forEach((n) => q.push(n));
    expect(q.dropped).toBe(2);
    expect((await q.next()).value).toBe(3);
    expect((await q.next()).value).toBe(4);
  });
  it('takeNewest returns the newest item, drops the older ones and counts them', () => {
    const q = new FrameQueue<number>(3, 'drop-oldest');
    expect(q.takeNewest()).toBeUndefined();
    [1, 2, 3].forEach((n) => q.push(n));
    expect(q.takeNewest()).toBe(3);
    expect(q.dropped).toBe(2);
    expect(q.size).toBe(0);
    q.push(4);
    expect(q.takeNewest()).toBe(4);
    expect(q.dropped).toBe(2);
  });
  it('takeNewest on a full blocking queue signals relief once', () => {
    const signals: boolean[] = [];
    const q = new FrameQueue<number>(2, 'block', (full) => signals.push(full));
    q.push(1);
    expect(q.takeNewest()).toBe(1);
    expect(signals).toEqual([]);
    q.push(2);
    q.push(3);
    expect(q.takeNewest()).toBe(3);
    expect(signals).toEqual([true, false]);
  });
  it('block signals pressure when full and relief when drained', async () => {
    const signals: boolean[] = [];
    const q = new FrameQueue<number>(2, 'block', (full) => signals.push(full));
    q.push(1);
    q.push(2);
    expect(signals).toEqual([true]);
    await q.next();
    expect(signals).toEqual([true, false]);
    expect(q.dropped).toBe(0);
  });
  it('delivers pending items after close, then ends or throws', async () => {
    const q = new FrameQueue<number>(3, 'block');
    q.push(7);
    q.close(new Error('boom'));
    expect((await q.next()).value).toBe(7);
    await expect(q.next()).rejects.toThrow('boom');
    const q2 = new FrameQueue<number>(3, 'block');
    const pending = q2.next();
    q2.close();
    expect((await pending).done).toBe(true);
  });
});
