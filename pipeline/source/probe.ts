import { spawn } from 'node:child_process';
import { median } from '../stats.js';
import { inputGuardArgs, isRtsp, scrubSecrets, type InputSpec } from './input-url.js';

export interface ProbeResult {
  width: number;
  height: number;
  codec: string;
  /** Demuxer name(s) as ffprobe reports them, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "image2". */
  format: string;
  /** Seconds; null for live streams. */
  duration: number | null;
  startTime: number;
  fps: number | null;
  /** Median seconds between keyframes in the probed packets (null: not asked, or < 2 keyframes seen). */
  keyframeInterval: number | null;
}

/** Median gap between keyframe times (s); null with fewer than two keyframes. */
export function keyframeInterval(packets: ReadonlyArray<{ pts_time?: string | number; flags?: string }>): number | null {
  const times = packets
    .filter((p) => typeof p.flags === 'string' && p.flags.includes('K'))
    .map((p) => Number(p.pts_time))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i]! > times[i - 1]!) gaps.push(times[i]! - times[i - 1]!);
  const m = median(gaps);
  return m === null ? null : Math.round(m * 1000) / 1000;
}

export class ProbeError extends Error {}

function parseRate(r: string | undefined): number | null {
  if (!r) return null;
  const [n, d] = r.split('/').map(Number);
  if (!n || !d) return null;
  return n / d;
}

/** ffprobe the first video stream; a file that is not video gives a ProbeError that says so. */
export function probeInput(
  spec: InputSpec,
  /** gopSec: also read this many seconds of packets to measure the keyframe interval (same connection). */
  opts: { timeoutMs?: number; rtspTransport?: 'tcp' | 'udp'; gopSec?: number; signal?: AbortSignal } = {},
): Promise<ProbeResult> {
  const timeoutMs = (opts.timeoutMs ?? 15_000) + (opts.gopSec ?? 0) * 1000;
  const args = ['-v', 'error', ...inputGuardArgs(spec)];
  if (isRtsp(spec.kind)) args.push('-rtsp_transport', opts.rtspTransport ?? 'tcp');
  if (spec.kind === 'hls') args.push('-f', 'hls');
  if (spec.kind !== 'file') args.push('-rw_timeout', String(timeoutMs * 1000));
  const gop = opts.gopSec && opts.gopSec > 0 ? opts.gopSec : 0;
  if (gop) args.push('-read_intervals', `%+${gop}`);
  args.push(
    '-select_streams',
    'v:0',
    '-show_entries',
    `stream=width,height,codec_name,avg_frame_rate,r_frame_rate:format=format_name,duration,start_time${gop ? ':packet=pts_time,flags' : ''}`,
    '-of',
    'json',
    spec.ffmpegInput,
  );
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 2000);
    // A stopped source must not wait for a hanging probe to time out.
    const abort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', abort, { once: true });
    child.on('close', () => opts.signal?.removeEventListener('abort', abort));
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString().slice(0, 4000)));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ProbeError(`cannot run ffprobe: ${e.message} (is ffmpeg installed?)`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const detail = scrubSecrets(err, spec).trim().split('\n').filter(Boolean).slice(-2).join(' | ');
      if (signal) return reject(new ProbeError(`ffprobe of ${spec.display} timed out after ${timeoutMs} ms`));
      if (code !== 0) return reject(new ProbeError(`cannot read ${spec.display}: ${detail || `ffprobe exited ${code}`}`));
      let json: {
        streams?: Array<Record<string, string | number>>;
        format?: Record<string, string>;
        packets?: Array<{ pts_time?: string; flags?: string }>;
      };
      try {
        json = JSON.parse(out);
      } catch {
        return reject(new ProbeError(`ffprobe gave unreadable output for ${spec.display}`));
      }
      const s = json.streams?.[0];
      const width = Number(s?.width);
      const height = Number(s?.height);
      if (!s || !(width > 0) || !(height > 0)) {
        return reject(new ProbeError(`${spec.display} is not a video: no video stream found${detail ? ` (${detail})` : ''}`));
      }
      const duration = Number(json.format?.duration);
      const start = Number(json.format?.start_time);
      resolve({
        width,
        height,
        codec: String(s.codec_name ?? 'unknown'),
        format: String(json.format?.format_name ?? ''),
        duration: Number.isFinite(duration) && duration > 0 ? duration : null,
        startTime: Number.isFinite(start) ? start : 0,
        fps: parseRate(String(s.avg_frame_rate ?? '')) ?? parseRate(String(s.r_frame_rate ?? '')),
        keyframeInterval: gop ? keyframeInterval(json.packets ?? []) : null,
      });
    });
  });
}
