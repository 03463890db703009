import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './media.js';

/** Debian's python3 (with gi); the default python3 on these machines is a separate build without it. */
const SYSTEM_PYTHON = process.env.GST_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(REPO_ROOT, 'test', 'support', 'rtsp_server.py');

export interface RtspServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts GStreamer's RTSP server on 127.0.0.1:port serving `file` (an H.264 or H.265 MP4) at `mount`. */
export function startRtspServer(file: string, port: number, mount = '/cam', codec: 'h264' | 'h265' = 'h264'): Promise<RtspServer> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(SYSTEM_PYTHON, [SCRIPT, '--port', String(port), '--mount', mount, '--file', file, '--codec', codec], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`RTSP server did not start: ${err}`));
    }, 15_000);
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', (e) => reject(new Error(`cannot start ${SYSTEM_PYTHON}: ${e.message} (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0)`)));
    child.on('exit', (code) => reject(new Error(`RTSP server exited ${code}: ${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      const m = /READY (\S+)/.exec(d.toString());
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1]!,
        stop: () =>
          new Promise<void>((res) => {
            if (child.exitCode !== null) return res();
            child.once('exit', () => res());
            child.kill('SIGKILL');
          }),
      });
    });
  });
}
