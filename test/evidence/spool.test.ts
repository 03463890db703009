import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { S3EvidenceStore } from '../../infra/adapters/s3-store.js';
import { SpoolFullError, SpoolingEvidenceStore } from '../../infra/adapters/spool-store.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const PHOTOS = ['dog', 'person', 'horses', 'eagle', 'giraffe', 'kite'].map((n) => `/usr/share/darknet/data/${n}.jpg`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keyOf = (i: number) => `cam-01/2024-05-02/ev-${i}/snapshot.jpg`;

interface Child {
  proc: ChildProcess;
  events: Record<string, unknown>[];
  waitFor(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(cmd: { key: string; path: string }): void;
}

function startChild(port: number, spoolDir: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'spool-child.ts')], {
    cwd: root,
    env: { ...process.env, S3_PORT: String(port), SPOOL_DIR: spoolDir, BUCKET: 'evidence' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const events: Record<string, unknown>[] = [];
  const waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const e = JSON.parse(line) as Record<string, unknown>;
    events.push(e);
    for (const w of [...waiters])
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
  });
  return {
    proc,
    events,
    send: (cmd) => proc.stdin!.write(JSON.stringify(cmd) + '\n'),
    waitFor: (pred, timeoutMs = 20_000) => {
      const hit = events.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`child event not seen; got ${JSON.stringify(events)}`)), timeoutMs);
        waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
      });
    },
  };
}

async function kill9(c: Child): Promise<void> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGKILL');
  await exited;
}

describe('spooling evidence store', () => {
  let server: S3TestServer;
  let tmp: string;
  let direct: S3EvidenceStore;

  beforeAll(async () => {
    server = await startS3Server();
    tmp = await mkdtemp(join(tmpdir(), 'cw-spool-'));
    direct = await S3EvidenceStore.open({
      endPoint: server.endPoint,
      port: server.port,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      bucket: 'evidence',
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('keeps evidence through an outage and a kill -9, uploads it in order once the server is back, no duplicates', async () => {
    const spoolDir = join(tmp, 'spool-a');
    // 1. Server up: uploads go straight through.
    const a = startChild(server.port, spoolDir);
    await a.waitFor((e) => e.event === 'ready');
    for (const i of [0, 1]) {
      a.send({ key: keyOf(i), path: PHOTOS[i]! });
      expect(await a.waitFor((e) => e.event === 'accepted' && e.key === keyOf(i))).toMatchObject({ spooled: false });
    }
    // 2. Server goes away: new evidence is accepted into the spool.
    await server.stop();
    for (const i of [2, 3, 4]) {
      a.send({ key: keyOf(i), path: PHOTOS[i]! });
      expect(await a.waitFor((e) => e.event === 'accepted' && e.key === keyOf(i))).toMatchObject({ spooled: true, depth: i - 1 });
    }
    await a.waitFor((e) => e.event === 'retry');
    await kill9(a);

    // 3. Restarted while the server is still down: it finds the journal and keeps retrying; killed again.
    const b = startChild(server.port, spoolDir);
    expect(await b.waitFor((e) => e.event === 'ready')).toMatchObject({ pending: [keyOf(2), keyOf(3), keyOf(4)] });
    await b.waitFor((e) => e.event === 'retry');
    await kill9(b);

    // 4. Server back, uploader restarted: the spool drains in acceptance order, then new puts go direct.
    await server.restart();
    const c = startChild(server.port, spoolDir);
    await c.waitFor((e) => e.event === 'drained');
    expect(c.events.filter((e) => e.event === 'uploaded').map((e) => e.key)).toEqual([keyOf(2), keyOf(3), keyOf(4)]);
    c.send({ key: keyOf(5), path: PHOTOS[5]! });
    expect(await c.waitFor((e) => e.event === 'accepted' && e.key === keyOf(5))).toMatchObject({ spooled: false });
    c.proc.stdin!.end();
    await new Promise((r) => c.proc.once('exit', r));

    const keys = await direct.list('cam-01/');
    expect(keys).toEqual([0, 1, 2, 3, 4, 5].map(keyOf));
    for (const i of [0, 1, 2, 3, 4, 5]) {
      const body = await direct.get(keyOf(i));
      expect(sha(body)).toBe(sha(await readFile(PHOTOS[i]!)));
      expect((await direct.stat(keyOf(i)))?.metadata.camera).toBe('cam-01');
    }
    // The journal holds nothing pending any more.
    const journal = (await readFile(join(spoolDir, 'journal.jsonl'), 'utf8')).trim().split('\n');
    expect(journal.map((l) => JSON.parse(l).op)).toEqual(['seq']);
  });

  it('skips re-uploading an item the primary already holds with the same sha256 (crash after upload, before journaling)', async () => {
    await server.restart();
    const spoolDir = join(tmp, 'spool-b');
    const primary = new S3EvidenceStore({
      endPoint: server.endPoint,
      port: server.port,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      bucket: 'evidence',
      opTimeoutMs: 3000,
    });
    await server.stop();
    const s1 = await SpoolingEvidenceStore.open(primary, {
      dir: spoolDir,
      maxBytes: 10e6,
      maxItems: 10,
      backoffInitialMs: 100,
      backoffMaxMs: 200,
    });
    const ref = await s1.put('cam-02/2024-05-02/ev-x/snapshot.jpg', PHOTOS[0]!, { contentType: 'image/jpeg' });
    expect(ref.spooled).toBe(true);
    await s1.close();
    // What a process that died right after its upload leaves behind: the object exists, the journal still lists it.
    await server.restart();
    await direct.put('cam-02/2024-05-02/ev-x/snapshot.jpg', PHOTOS[0]!, { contentType: 'image/jpeg' });
    const s2 = await SpoolingEvidenceStore.open(primary, { dir: spoolDir, maxBytes: 10e6, maxItems: 10, backoffInitialMs: 100 });
    await s2.drained();
    expect({ uploaded: s2.uploadedCount, skipped: s2.skippedCount, depth: s2.depth().items }).toEqual({
      uploaded: 0,
      skipped: 1,
      depth: 0,
    });
    expect(await direct.list('cam-02/')).toEqual(['cam-02/2024-05-02/ev-x/snapshot.jpg']);
    await s2.close();
  });

  it('refuses new items with a clear error when full, keeping what it holds, and reads spooled items back', async () => {
    const spoolDir = join(tmp, 'spool-c');
    const primary = new S3EvidenceStore({
      endPoint: server.endPoint,
      port: server.port,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      bucket: 'evidence',
      opTimeoutMs: 3000,
    });
    await server.stop();
    const s = await SpoolingEvidenceStore.open(primary, {
      dir: spoolDir,
      maxBytes: 10e6,
      maxItems: 2,
      backoffInitialMs: 50,
      backoffMaxMs: 100,
    });
    await s.put('cam-03/2024-05-02/ev-1/a.jpg', PHOTOS[0]!, { contentType: 'image/jpeg' });
    await s.put('cam-03/2024-05-02/ev-2/a.jpg', PHOTOS[1]!, { contentType: 'image/jpeg' });
    const third = s.put('cam-03/2024-05-02/ev-3/a.jpg', PHOTOS[2]!, { contentType: 'image/jpeg' });
    await expect(third).rejects.toBeInstanceOf(SpoolFullError);
    await expect(third).rejects.toThrow(/evidence spool full: 2 items .* \(limits 2 items/);
    expect(s.depth()).toMatchObject({ items: 2 });
    expect(sha(await s.get('cam-03/2024-05-02/ev-1/a.jpg'))).toBe(sha(await readFile(PHOTOS[0]!)));
    expect(await s.presign('cam-03/2024-05-02/ev-1/a.jpg', 60)).toBeNull();
    await expect(s.put('cam-03/2024-05-02/ev-4/a.jpg', '/nonexistent/x.jpg', { contentType: 'image/jpeg' })).rejects.toThrow(
      /no such file/,
    );
    await server.restart();
    s.retryNow();
    await s.drained();
    expect(await direct.list('cam-03/')).toEqual(['cam-03/2024-05-02/ev-1/a.jpg', 'cam-03/2024-05-02/ev-2/a.jpg']);
    await s.close();
  });
});
