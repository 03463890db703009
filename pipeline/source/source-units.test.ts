import { describe, expect, it } from 'vitest';
import { backoffDelay, buildFfmpegArgs } from './ffmpeg-source.js';
import { FrameQueue } from './frame-queue.js';
import { InputError, parseInput, redactUrl, scrubSecrets } from './input-url.js';
import { computeLetterbox, letterboxFilter } from './letterbox.js';

describe('input classification and protocol whitelist', () => {
  it('classifies each allowed scheme with its own whitelist', () => {
    expect(parseInput('rtsp://cam.local:554/live')).toMatchObject({ kind: 'rtsp', protocols: 'rtsp,rtp,udp,tcp', live: true });
    expect(parseInput('rtsps://cam.local/live')).toMatchObject({ kind: 'rtsps', protocols: 'rtsp,rtsps,rtp,udp,tcp,tls' });
    expect(parseInput('http://h/a/index.m3u8')).toMatchObject({ kind: 'hls', protocols: 'http,tcp,crypto,hls' });
    expect(parseInput('https://h/a/index.M3U8?token=1')).toMatchObject({ kind: 'hls', protocols: 'https,http,tls,tcp,crypto,hls' });
    expect(parseInput('/data/clip.mp4')).toMatchObject({ kind: 'file', ffmpegInput: 'file:/data/clip.mp4', protocols: 'file', live: false });
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
    expect(lb).toEqual({ scale: 416 / 768, srcWidth: 768, srcHeight: 576, scaledWidth: 416, scaledHeight: 312, dstWidth: 416, dstHeight: 416 });
    expect(letterboxFilter(lb, 114)).toBe('scale=416:312:flags=bilinear,setsar=1,pad=416:416:0:0:color=0x727272');
  });
  it('handles portrait sources', () => {
    const lb = computeLetterbox(480, 960, 416, 416);
    expect([lb.scaledWidth, lb.scaledHeight, lb.scale]).toEqual([208, 416, 416 / 960]);
  });
});

describe('ffmpeg arguments', () => {
  const lb = computeLetterbox(768, 576, 416, 416);
  const o = { fps: 2, keyframesOnly: false, padValue: 114, pixelFormat: 'bgr24' as const, rtspTransport: 'tcp' as const, realtime: false, stallTimeoutSec: 10 };
  it('puts the whitelist before the input and resizes in ffmpeg', () => {
    const args = buildFfmpegArgs(parseInput('rtsp://cam/x'), lb, o);
    expect(args.indexOf('-protocol_whitelist')).toBeLessThan(args.indexOf('-i'));
    expect(args).toContain('-rtsp_transport');
    expect(args[args.indexOf('-vf') + 1]).toBe('fps=2,showinfo=checksum=0,scale=416:312:flags=bilinear,setsar=1,pad=416:416:0:0:color=0x727272,format=bgr24');
    expect(args.slice(-5)).toEqual(['-pix_fmt', 'bgr24', '-f', 'rawvideo', 'pipe:1']);
  });
  it('forces the HLS demuxer for playlists and uses skip_frame for keyframe mode', () => {
    const args = buildFfmpegArgs(parseInput('http://h/i.m3u8'), lb, { ...o, keyframesOnly: true });
    expect(args.slice(args.indexOf('-f'), args.indexOf('-f') + 2)).toEqual(['-f', 'hls']);
    expect(args.indexOf('-skip_frame')).toBeLessThan(args.indexOf('-i'));
    expect(args[args.indexOf('-vf') + 1]!.startsWith('showinfo')).toBe(true);
  });
});

describe('backoff', () => {
  const opts = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };
  it('grows exponentially to a ceiling', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, opts, () => 0.5))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
  it('spreads by the jitter fraction', () => {
    expect(backoffDelay(2, opts, () => 0)).toBe(1600);
    expect(backoffDelay(2, opts, () => 1)).toBe(2400);
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
