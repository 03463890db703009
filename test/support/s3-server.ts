// Starts a real S3-compatible server (s3rver) on 127.0.0.1 for integration tests. `restart()` brings
// it back on the same port and data directory so clients configured before a stop keep working.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types; only the small surface used here is declared.
// @ts-expect-error -- untyped CommonJS module
import S3rverModule from 's3rver';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
const S3rver = S3rverModule as new (opts: Record<string, unknown>) => S3rverInstance;

export interface S3TestServer {
  endPoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  /** Data directory (persists across stop/restart; removed by dispose). */
  directory: string;
  running(): boolean;
  /** Stops listening and drops open connections, like a server going away. */
  stop(): Promise<void>;
  /** Starts again on the same port and directory (no-op when already running). */
  restart(): Promise<void>;
  /** Stops and removes the data directory. */
  dispose(): Promise<void>;
}

export async function startS3Server(): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'citywatch-s3rver-'));
  let port = 0;
  let instance: S3rverInstance | null = null;

  const start = async (): Promise<void> => {
    const s = new S3rver({ address: '127.0.0.1', port, silent: true, directory, vhostBuckets: false });
    const addr = await s.run();
    port = addr.port;
    instance = s;
  };
  const stop = async (): Promise<void> => {
    const s = instance;
    if (!s) return;
    instance = null;
    const closing = s.close();
    // close() waits for keep-alive sockets; a real outage drops them.
    s.httpServer?.closeAllConnections();
    await closing;
  };

  await start();
  return {
    endPoint: '127.0.0.1',
    get port() {
      return port;
    },
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    directory,
    running: () => instance !== null,
    stop,
    restart: async () => {
      if (!instance) await start();
    },
    dispose: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
