// A local redis-server child for the embedded mode and tests: AOF on (appendfsync everysec, the
// default), RDB snapshots off, data in a directory of our choosing, so a restart on the same
// directory brings every acknowledged write back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

export interface LocalRedis {
  url: string;
  port: number;
  dir: string;
  pid(): number | undefined;
  /** Stops (SIGTERM: Redis fsyncs the AOF on shutdown) and waits for exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same port and directory. */
  restart(): Promise<void>;
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} before accepting connections`);
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') {
        // With AOF, redis answers LOADING until the file is replayed.
        r.disconnect();
        return;
      }
    } catch {
      /* not up yet */
    }
    r.disconnect();
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`redis-server at ${url} not ready within ${timeoutMs} ms`);
}

export async function startLocalRedis(opts: { dir: string; port?: number; bin?: string }): Promise<LocalRedis> {
  await mkdir(opts.dir, { recursive: true });
  const port = opts.port ?? (await freeTcpPort());
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const launch = async () => {
    const c = spawn(
      opts.bin ?? 'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--dir',
        opts.dir,
        '--save',
        '',
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    c.stderr?.resume();
    child = c;
    await new Promise<void>((resolve, reject) => {
      c.once('spawn', resolve);
      c.once('error', (err) => reject(new Error(`cannot run redis-server (install redis-server or set REDIS_URL): ${err.message}`)));
    });
    await waitReady(url, c, 15_000);
  };
  await launch();
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    await exited;
  };
  return { url, port, dir: opts.dir, pid: () => child?.pid, stop, restart: launch };
}
