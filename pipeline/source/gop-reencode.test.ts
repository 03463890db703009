// Real ffmpeg/libx264 on a short generated clip: keyframes land exactly every GOP, nothing else is
// a keyframe, no B-frames, same size, and the second call is served from the cache.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gopCacheKey, gopReencodeArgs, GopReencodeError, reencodeWithGop } from './gop-reencode.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'citywatch-gop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function clip(name: string, seconds: number, fps: number): string {
  const file = path.join(dir, name);
  // testsrc2 changes every frame; -g 250 gives the source one keyframe only, so every later one is ours.
  execFileSync('ffmpeg', [
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=160x96:rate=${fps}:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-g',
    '250',
    '-pix_fmt',
    'yuv420p',
    file,
  ]);
  return file;
}

const probe = (file: string, entries: string, extra: string[] = []) =>
  execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', ...extra, '-show_entries', entries, '-of', 'csv=p=0', file], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((l) => l.replace(/,+$/, '').trim())
    // The first frame's side data comes out as an extra, empty CSV row.
    .filter((l) => l !== '');

describe('reencodeWithGop', () => {
  it('puts a keyframe exactly every gopSec of stream time and nowhere else, without B-frames, at the same size', async () => {
    const src = clip('src.mp4', 7, 25);
    const out = await reencodeWithGop(src, { gopSec: 2, cacheDir: path.join(dir, 'cache') });
    expect(probe(out, 'frame=pts_time', ['-skip_frame', 'nokey']).map(Number)).toEqual([0, 2, 4, 6]);
    expect(probe(out, 'stream=width,height,has_b_frames')).toEqual(['160,96,0']);
    expect(probe(out, 'stream=nb_frames')).toEqual(['175']);
    // Cached: same path, file untouched.
    const mtime = statSync(out).mtimeMs;
    expect(await reencodeWithGop(src, { gopSec: 2, cacheDir: path.join(dir, 'cache') })).toBe(out);
    expect(statSync(out).mtimeMs).toBe(mtime);
    // Another GOP is another file.
    const four = await reencodeWithGop(src, { gopSec: 4, cacheDir: path.join(dir, 'cache') });
    expect(four).not.toBe(out);
    expect(probe(four, 'frame=pts_time', ['-skip_frame', 'nokey']).map(Number)).toEqual([0, 4]);
  });

  it('keys the cache by content, so an edited clip is re-encoded', async () => {
    const a = path.join(dir, 'a.bin');
    writeFileSync(a, 'one');
    const k1 = await gopCacheKey(a, 2);
    writeFileSync(a, 'two');
    expect(await gopCacheKey(a, 2)).not.toBe(k1);
    expect(await gopCacheKey(a, 3)).not.toBe(await gopCacheKey(a, 2));
  });

  it('refuses a bad GOP or crf, and reports an unreadable or non-video input', async () => {
    expect(() => gopReencodeArgs('in', 'out', 0)).toThrow(GopReencodeError);
    expect(() => gopReencodeArgs('in', 'out', Number.NaN)).toThrow(/positive number of seconds/);
    expect(() => gopReencodeArgs('in', 'out', 2, 60)).toThrow(/crf/);
    await expect(reencodeWithGop(path.join(dir, 'missing.mp4'), { gopSec: 2, cacheDir: dir })).rejects.toThrow(/cannot read/);
    const text = path.join(dir, 'not-video.mp4');
    writeFileSync(text, 'hello');
    await expect(reencodeWithGop(text, { gopSec: 2, cacheDir: path.join(dir, 'cache') })).rejects.toThrow(/re-encode of .* failed/);
  });
});
