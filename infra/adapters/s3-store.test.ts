import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceKey } from '../../pipeline/evidence/store.js';
import { startS3Server, type S3TestServer } from '../../test/support/s3-server.js';
import { S3EvidenceStore } from './s3-store.js';

const DOG = '/usr/share/darknet/data/dog.jpg';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('S3EvidenceStore against s3rver', () => {
  let server: S3TestServer;
  let store: S3EvidenceStore;
  let tmp: string;

  beforeAll(async () => {
    server = await startS3Server();
    tmp = await mkdtemp(join(tmpdir(), 'cw-s3-'));
    store = await S3EvidenceStore.open({
      endPoint: server.endPoint,
      port: server.port,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      bucket: 'evidence',
      retentionDays: 30,
    });
  });
  afterAll(async () => {
    await server?.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  it('creates the bucket and reports lifecycle retention as unsupported on s3rver without crashing', async () => {
    expect(await store.client.bucketExists('evidence')).toBe(true);
    expect(store.retention).toBe('unsupported');
    expect(store.retentionError).toMatch(/implement/i);
    // A second open against the existing bucket is fine.
    const again = await S3EvidenceStore.open({ ...serverOpts(server), bucket: 'evidence' });
    expect(again.bucket).toBe('evidence');
  });

  it('uploads a real file, verifies it by ETag=MD5, and downloads identical bytes with metadata', async () => {
    const key = evidenceKey({ cameraId: 'cam-01', eventId: 'ev-1', wallTime: Date.UTC(2024, 4, 1, 20, 0), name: 'first_seen.jpg' });
    expect(key).toBe('cam-01/2024-05-02/ev-1/first_seen.jpg'); // 20:00 UTC is the next day in Asia/Shanghai
    const ref = await store.put(key, DOG, { contentType: 'image/jpeg', metadata: { camera: 'cam-01', event: 'ev-1' } });
    const local = await readFile(DOG);
    expect(ref).toEqual({
      store: 's3',
      key,
      file: { name: 'first_seen.jpg', kind: 'snapshot', contentType: 'image/jpeg', bytes: local.length, sha256: sha(local) },
    });
    expect(store.lastVerifiedBy).toBe('etag');
    const back = await store.get(key);
    expect(sha(back)).toBe(sha(local));
    const st = await store.stat(key);
    expect(st).toMatchObject({
      bytes: local.length,
      sha256: sha(local),
      contentType: 'image/jpeg',
      metadata: { camera: 'cam-01', event: 'ev-1' },
    });
    expect(await store.exists(key)).toBe(true);
    expect(await store.exists('cam-01/2024-05-02/ev-1/missing.jpg')).toBe(false);
    expect(await store.stat('cam-01/2024-05-02/ev-1/missing.jpg')).toBeNull();
  });

  it('serves a presigned GET URL over plain HTTP fetch, with the right content type', async () => {
    const key = 'cam-01/2024-05-02/ev-2/crop.jpg';
    await store.put(key, await readFile(DOG), { contentType: 'image/jpeg' });
    const url = await store.presign(key, 600);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/evidence\/cam-01\/2024-05-02\/ev-2\/crop\.jpg\?.*X-Amz-Expires=600/);
    const res = await fetch(url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(await readFile(DOG)));
    // The expiry is real: s3rver does not check V4 signatures, but it does refuse expired URLs.
    const short = await store.presign(key, 1);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(short!)).status).toBe(403);
    await expect(store.presign(key, 0)).rejects.toThrow(/expiry/);
  });

  it('lists keys under a prefix and rejects unsafe keys', async () => {
    const keys = await store.list('cam-01/2024-05-02/');
    expect(keys).toEqual(['cam-01/2024-05-02/ev-1/first_seen.jpg', 'cam-01/2024-05-02/ev-2/crop.jpg']);
    await expect(store.put('../etc/passwd', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toThrow(/invalid evidence key/);
  });

  it('fails fast with a clear error when the server is down', async () => {
    const dead = new S3EvidenceStore({ ...serverOpts(server), port: 1, bucket: 'evidence', opTimeoutMs: 5000 });
    await expect(dead.put('cam-01/2024-05-02/ev-9/a.jpg', Buffer.from('x'), { contentType: 'image/jpeg' })).rejects.toThrow(
      /ECONNREFUSED|connect/,
    );
  });
});

function serverOpts(s: S3TestServer) {
  return { endPoint: s.endPoint, port: s.port, accessKey: s.accessKey, secretKey: s.secretKey };
}
