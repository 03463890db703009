// A clip replayed as a live HLS camera on 127.0.0.1: ffmpeg (-re, stream copy) writes a sliding
// playlist into a temp directory and a tiny HTTP server serves it. Used by the embedded demo and the
// worker tests so a fresh machine needs no RTSP server.
import { spawn, type ChildProcess } from 'node:child_process';
import { inputGuardArgs, parseInput } from '../pipeline/source/input-url.js';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface HlsLoop {
  /** Playlist URL (http://127.0.0.1:<port>/live.m3u8). */
  url: string;
  dir: string;
  ffmpeg(): ChildProcess | null;
  stop(): Promise<void>;
}

export interface HlsLoopOptions {
  clip: string;
  /** Loop the clip forever (default true). */
  loop?: boolean;
  hlsTimeSec?: number;
  listSize?: number;
  port?: number;
}

export async function startHlsLoop(o: HlsLoopOptions): Promise<HlsLoop> {
  if (!existsSync(o.clip)) throw new Error(`HLS loop: clip not found: ${o.clip}`);
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-hls-'));
  const spec = parseInput(o.clip);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputGuardArgs(spec), '-re'];
  if (o.loop !== false) args.push('-stream_loop', '-1');
  args.push(
    '-i',
    spec.ffmpegInput,
    '-map',
    '0:v:0',
    '-c',
    'copy',
    '-f',
    'hls',
    '-hls_time',
    String(o.hlsTimeSec ?? 2),
    '-hls_list_size',
    String(o.listSize ?? 6),
    '-hls_flags',
    'delete_segments+omit_endlist',
    '-hls_segment_filename',
    join(dir, 'seg-%06d.ts'),
    join(dir, 'live.m3u8'),
  );
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));

  const server: Server = createServer((req, res) => {
    const name = basename(decodeURIComponent((req.url ?? '/').split('?')[0]!));
    const file = join(dir, name);
    if (!/^[\w.-]+\.(m3u8|ts)$/.test(name) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      'cache-control': 'no-cache',
    });
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections?.();
    await rm(dir, { recursive: true, force: true });
  };

  // Ready once the playlist lists two segments (readers join a few segments back from the live edge).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await readFile(join(dir, 'live.m3u8'), 'utf8').catch(() => '');
    if ((text.match(/\.ts/g) ?? []).length >= 2) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`HLS loop for ${o.clip} did not start: ${err.trim() || 'no playlist within 20 s'}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `http://127.0.0.1:${port}/live.m3u8`, dir, ffmpeg: () => child, stop };
}
