import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './media.js';

/** Debian's python3 (with gi); the default python3 on these machines is a separate build without it. */
const SYSTEM_PYTHON = process.env.GST_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(REPO_ROOT, 'test', 'support', 'rtsp_server.py');

export interface RtspStats {
  /** RTSP clients connected now. */
  clients: number;
  /** RTSP sessions open now (a client playing a stream holds one). */
  sessions: number;
  /** Clients ever connected. */
  total: number;
}

export interface RtspServer {
  url: string;
  /** With `mounts`: the numbered mount URLs (url + 0 .. url + n-1). */
  urls: string[];
  /** Latest counts the server reported (updated within ~250 ms of a change). */
  stats(): RtspStats;
  pid: number;
  stop(): Promise<void>;
}

/** Starts GStreamer's RTSP server on 127.0.0.1:port serving `file` (an H.264 or H.265 MP4) at `mount`. */
export function startRtspServer(
  file: string,
  port: number,
  mount = '/cam',
  codec: 'h264' | 'h265' = 'h264',
  mounts = 0,
): Promise<RtspServer> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      SYSTEM_PYTHON,
      [SCRIPT, '--port', String(port), '--mount', mount, '--file', file, '--codec', codec, '--mounts', String(mounts)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`RTSP server did not start: ${err}`));
    }, 15_000);
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', (e) =>
      reject(new Error(`cannot start ${SYSTEM_PYTHON}: ${e.message} (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0)`)),
    );
    child.on('exit', (code) => reject(new Error(`RTSP server exited ${code}: ${err}`)));
    let stats: RtspStats = { clients: 0, sessions: 0, total: 0 };
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const s = /^STATS clients=(-?\d+) sessions=(\d+) total=(\d+)/.exec(line);
        if (s) stats = { clients: Number(s[1]), sessions: Number(s[2]), total: Number(s[3]) };
        const m = /^READY (\S+)/.exec(line);
        if (m) ready(m[1]!);
      }
    });
    const ready = (url: string) => {
      clearTimeout(timer);
      resolve({
        url,
        urls: Array.from({ length: mounts }, (_, i) => `${url}${i}`),
        stats: () => stats,
        pid: child.pid!,
        stop: () =>
          new Promise<void>((res) => {
            if (child.exitCode !== null) return res();
            child.once('exit', () => res());
            child.kill('SIGKILL');
          }),
      });
    };
  });
}
