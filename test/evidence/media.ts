// Test material derived at test time from real footage on this machine: the street scene of
// vtest.avi re-encoded to H.264 with a fixed GOP, as an IP camera would send it.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`))));
  });
}

/** H.264 clip of the first `seconds` of vtest.avi (10 fps) with a keyframe every `gopSec` seconds. */
export async function makeCameraClip(dir: string, opts: { seconds: number; gopSec: number }): Promise<string> {
  const out = join(dir, `vtest-h264-${opts.seconds}s-gop${opts.gopSec}.mp4`);
  const gop = String(Math.round(opts.gopSec * 10));
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    VTEST,
    '-t',
    String(opts.seconds),
    '-an',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '30',
    '-g',
    gop,
    '-keyint_min',
    gop,
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    out,
  ]);
  return out;
}

export async function ffprobeJson(args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await run('ffprobe', ['-v', 'error', '-of', 'json', ...args])) as Record<string, unknown>;
}

export async function probeDuration(path: string): Promise<number> {
  const j = (await ffprobeJson(['-show_entries', 'format=duration', path])) as { format: { duration: string } };
  return Number(j.format.duration);
}

/** key_frame flag and pts of the first video frame (ffprobe -read_intervals %+#1). */
export async function probeFirstFrame(path: string): Promise<{ keyFrame: number; pictType: string }> {
  const j = (await ffprobeJson([
    '-select_streams',
    'v:0',
    '-show_frames',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'frame=key_frame,pict_type',
    path,
  ])) as {
    frames: { key_frame: number; pict_type: string }[];
  };
  const f = j.frames[0];
  if (!f) throw new Error(`ffprobe found no frame in ${path}`);
  return { keyFrame: f.key_frame, pictType: f.pict_type };
}
