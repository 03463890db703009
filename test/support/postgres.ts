// A real PostgreSQL server for tests (Debian's postgresql package): initdb in a temp dir, listening
// on a free loopback port, trust auth for local test connections only. initdb refuses to run as
// root, so as root everything runs as the `postgres` user through runuser.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freeTcpPort } from '../../workers/redis-server.js';

const run = promisify(execFile);

export function pgBinDir(): string {
  const env = process.env.PG_BIN_DIR;
  if (env) return env;
  for (const v of ['17', '16', '15']) {
    const d = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(path.join(d, 'initdb'))) return d;
  }
  throw new Error('PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN_DIR)');
}

export interface LocalPostgres {
  /** URL of the `postgres` database. */
  url: string;
  port: number;
  dir: string;
  /** A new empty database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (in-flight connections are cut), waits for exit. */
  stop(): Promise<void>;
  /** Starts again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops and removes the data directory. */
  destroy(): Promise<void>;
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function cmd(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode} before accepting connections`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('select 1');
      await c.end();
      return;
    } catch {
      await c.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`postgres at ${url} not ready within ${timeoutMs} ms`);
}

/** `settings`: extra server settings (name → value), e.g. a bench's larger buffers. */
export async function startPostgres(settings: Record<string, string> = {}): Promise<LocalPostgres> {
  const bin = pgBinDir();
  const base = await mkdtemp(path.join(tmpdir(), 'citywatch-pg-'));
  await chmod(base, 0o777);
  const dir = path.join(base, 'data');
  if (asRoot) await run('chown', ['postgres:postgres', base]);
  const [c, a] = cmd(path.join(bin, 'initdb'), [
    '-D',
    dir,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  await run(c, a);
  const port = await freeTcpPort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | null = null;
  const start = async () => {
    // fsync stays on: the outage test relies on what PostgreSQL acknowledged being there after a restart.
    const [c2, a2] = cmd(path.join(bin, 'postgres'), [
      '-D',
      dir,
      '-p',
      String(port),
      '-k',
      base,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=100',
      '-c',
      'shared_buffers=64MB',
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    const ch = spawn(c2, a2, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    ch.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child = ch;
    await waitReady(url, ch, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${err}`);
    });
  };
  const stop = async () => {
    const ch = child;
    if (!ch || ch.exitCode !== null) return;
    const exited = new Promise<void>((r) => ch.once('exit', () => r()));
    const [c3, a3] = cmd(path.join(bin, 'pg_ctl'), ['stop', '-D', dir, '-m', 'fast', '-w']);
    await run(c3, a3).catch(() => ch.kill('SIGINT'));
    await exited;
    child = null;
  };
  await start();
  return {
    url,
    port,
    dir,
    async createDatabase(name) {
      const c4 = new pg.Client({ connectionString: url });
      await c4.connect();
      try {
        await c4.query(`create database "${name.replace(/"/g, '')}"`);
      } finally {
        await c4.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    stop,
    start,
    async destroy() {
      await stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}
