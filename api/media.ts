// Verifies that an uploaded file really is a video by asking ffprobe (never by its name or the
// client's Content-Type): it must demux, carry a video stream and not be a still image.
import { spawn } from 'node:child_process';
import { inputGuardArgs, parseInput } from '../pipeline/source/input-url.js';

export interface VideoInfo {
  format: string;
  width: number;
  height: number;
  codec: string;
  duration: number | null;
}

export class NotVideoError extends Error {}

// Demuxers that read still images (a JPEG renamed .mp4 "has a video stream" of one frame).
const IMAGE_FORMATS = /(^|,)(image2|[a-z0-9]+_pipe|apng|webp|ico|tiff|bmp|psd|svg)(,|$)/;

export function probeVideoFile(file: string, timeoutMs = 15_000): Promise<VideoInfo> {
  const spec = parseInput(file);
  const args = ['-v', 'error', ...inputGuardArgs(spec), '-select_streams', 'v:0', '-show_entries', 'stream=width,height,codec_name:format=format_name,duration', '-of', 'json', spec.ffmpegInput];
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ffprobe: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // ffprobe echoes the path; the client does not need our upload directory.
      const detail = err.split(file).join('<upload>').trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
      if (signal) return reject(new NotVideoError('ffprobe timed out reading the upload'));
      if (code !== 0) return reject(new NotVideoError(`the upload is not a readable video${detail ? ` (${detail})` : ''}`));
      let json: { streams?: Array<Record<string, unknown>>; format?: Record<string, unknown> };
      try {
        json = JSON.parse(out);
      } catch {
        return reject(new NotVideoError('ffprobe gave unreadable output for the upload'));
      }
      const s = json.streams?.[0];
      const format = String(json.format?.format_name ?? '');
      const width = Number(s?.width);
      const height = Number(s?.height);
      if (!s || !(width > 0 && height > 0)) return reject(new NotVideoError(`the upload has no video stream (container: ${format || 'unknown'})`));
      if (IMAGE_FORMATS.test(format)) return reject(new NotVideoError(`the upload is a still image (${format}), not a video`));
      const duration = Number(json.format?.duration);
      resolve({ format, width, height, codec: String(s.codec_name ?? 'unknown'), duration: Number.isFinite(duration) && duration > 0 ? duration : null });
    });
  });
}
