// Real material used by tests, and small helpers to derive clips from it with ffmpeg.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = path.resolve(REPO_ROOT, '..', 'shared');
/** A real parking street (../shared/fixtures): cars parked along a lane while others pass. */
export const PARKING_LANE = path.join(SHARED, 'fixtures', 'parking_lane_cars_passing.mp4');
export const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
export const DOG_JPG = '/usr/share/darknet/data/dog.jpg';
/** Scratch space for derived clips: outside git, reused across runs. */
export const TEST_CACHE = path.join(REPO_ROOT, '.cache', 'test-media');

process.env.MODEL_DIR ??= path.join(SHARED, 'models');

export function requireFile(file: string, hint: string): string {
  if (!existsSync(file)) throw new Error(`test material missing: ${file} (${hint})`);
  return file;
}

export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/** Makes (once) an H.264 clip under TEST_CACHE with ffmpeg; `args` go between the inputs and the output. */
export async function derivedClip(name: string, inputArgs: string[], outArgs: string[]): Promise<string> {
  await mkdir(TEST_CACHE, { recursive: true });
  const out = path.join(TEST_CACHE, name);
  if (existsSync(out)) return out;
  const tmp = `${out}.part${path.extname(out)}`;
  await run('ffmpeg', ['-y', '-loglevel', 'error', ...inputArgs, ...outArgs, tmp]);
  const { rename } = await import('node:fs/promises');
  await rename(tmp, out);
  return out;
}

/** The real dog.jpg photo as a short H.264 clip, so tests go through the video code path. */
export function dogClip(seconds = 3): Promise<string> {
  requireFile(DOG_JPG, 'apt-get install darknet');
  return derivedClip(
    `dog-${seconds}s.mp4`,
    ['-loop', '1', '-i', DOG_JPG, '-t', String(seconds), '-r', '10'],
    ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-g', '10'],
  );
}

/** The first `seconds` of vtest.avi re-encoded as H.264 MP4 (RTSP/HLS servers need H.264). */
export function vtestH264(seconds: number): Promise<string> {
  requireFile(VTEST, 'apt-get install opencv-doc');
  return derivedClip(
    `vtest-${seconds}s.mp4`,
    ['-i', VTEST, '-t', String(seconds)],
    ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '10', '-an'],
  );
}

/** The same footage as H.265 (HEVC), which many city cameras send. */
export function vtestH265(seconds: number): Promise<string> {
  requireFile(VTEST, 'apt-get install opencv-doc');
  return derivedClip(
    `vtest-${seconds}s-hevc.mp4`,
    ['-i', VTEST, '-t', String(seconds)],
    [
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'log-level=error:keyint=20',
      '-pix_fmt',
      'yuv420p',
      '-tag:v',
      'hvc1',
      '-an',
    ],
  );
}

export { freeTcpPort as freePort } from '../../workers/redis-server.js';

/** vtest.avi (10 fps) as H.264 with a keyframe every 2 s and no B-frames, like a typical city camera. */
export function vtestGop2(seconds: number): Promise<string> {
  requireFile(VTEST, 'apt-get install opencv-doc');
  return derivedClip(
    `vtest-${seconds}s-gop2.mp4`,
    ['-i', VTEST, '-t', String(seconds)],
    [
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      '-g',
      '20',
      '-keyint_min',
      '20',
      '-sc_threshold',
      '0',
      '-bf',
      '0',
      '-an',
    ],
  );
}
