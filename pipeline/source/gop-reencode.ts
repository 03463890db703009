// Re-encodes a clip the way a live camera streams it: H.264 with a fixed GOP of `gopSec` seconds
// (a keyframe exactly every gopSec of stream time, no scene-cut keyframes, no B-frames), same
// resolution and timestamps. Decoding the result keyframes only gives exactly 1/gopSec analysed
// fps on the path live cameras take (-skip_frame nokey), which a file's own GOP (1–20 s on the
// real suite) does not. Results are cached by source content hash + options, never in the repo.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export interface GopReencodeOptions {
  /** Seconds between keyframes (> 0). */
  gopSec: number;
  /** Cache folder (created when missing). */
  cacheDir: string;
  /** Encoder quality (libx264 -crf); 23 is x264's default, close to what street cameras send. */
  crf?: number;
  signal?: AbortSignal;
}

/** Bumped whenever the encoder arguments change, so stale cache entries are never reused. */
const ENCODER_VERSION = 1;

export class GopReencodeError extends Error {}

/** ffmpeg arguments for the re-encode (exported for the unit test). */
export function gopReencodeArgs(input: string, output: string, gopSec: number, crf = 23): string[] {
  if (!(gopSec > 0) || !Number.isFinite(gopSec)) throw new GopReencodeError(`GOP must be a positive number of seconds, got ${gopSec}`);
  if (!(crf >= 0 && crf <= 51)) throw new GopReencodeError(`crf must be 0–51, got ${crf}`);
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-y',
    '-i',
    input,
    '-map',
    '0:v:0',
    '-an',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    String(crf),
    '-pix_fmt',
    'yuv420p',
    // Keyframes by stream time (variable-rate sources too), and none elsewhere: x264's own keyint
    // is set far beyond the forced interval and scene cuts never insert one.
    '-force_key_frames',
    `expr:gte(t,n_forced*${gopSec})`,
    '-x264-params',
    'keyint=100000:min-keyint=1:scenecut=0:bframes=0',
    '-bf',
    '0',
    '-fps_mode',
    'passthrough',
    '-f',
    'mp4',
    output,
  ];
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Cache key of a source file + options: content hash, so an edited clip is re-encoded. */
export async function gopCacheKey(input: string, gopSec: number, crf = 23): Promise<string> {
  const content = await sha256File(input);
  return createHash('sha256')
    .update(JSON.stringify({ content, gopSec, crf, v: ENCODER_VERSION }))
    .digest('hex')
    .slice(0, 24);
}

/** The re-encoded clip's path (cached: a second call with the same source and options is free). */
export async function reencodeWithGop(input: string, opts: GopReencodeOptions): Promise<string> {
  const crf = opts.crf ?? 23;
  const key = await gopCacheKey(input, opts.gopSec, crf).catch((err: Error) => {
    throw new GopReencodeError(`cannot read ${input}: ${err.message}`);
  });
  const out = path.join(opts.cacheDir, `${path.basename(input).replace(/\.[^.]+$/, '')}.gop${opts.gopSec}s.${key}.mp4`);
  if (
    await access(out).then(
      () => true,
      () => false,
    )
  )
    return out;
  await mkdir(opts.cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const args = gopReencodeArgs(input, tmp, opts.gopSec, crf);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'], signal: opts.signal });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 4000) err += d.toString();
    });
    child.on('error', (e) => reject(new GopReencodeError(`ffmpeg could not start: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new GopReencodeError(`ffmpeg re-encode of ${input} failed (exit ${code}): ${err.trim()}`)),
    );
  }).catch(async (e: unknown) => {
    await rm(tmp, { force: true });
    throw e;
  });
  // Atomic: a concurrent or interrupted run never leaves a half-written clip under the final name.
  await rename(tmp, out);
  return out;
}
