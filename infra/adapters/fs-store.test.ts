import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsEvidenceStore } from './fs-store.js';

const DOG = '/usr/share/darknet/data/dog.jpg';

describe('FsEvidenceStore', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'cw-fs-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('stores a file under the key layout with metadata, leaving no temp files', async () => {
    const store = new FsEvidenceStore(root);
    const key = 'cam-01/2024-05-01/ev-1/first_seen.jpg';
    const ref = await store.put(key, DOG, { contentType: 'image/jpeg', metadata: { camera: 'cam-01' } });
    const bytes = await readFile(DOG);
    expect(ref.file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect((await readFile(join(root, 'cam-01', '2024-05-01', 'ev-1', 'first_seen.jpg'))).equals(bytes)).toBe(true);
    expect(await readdir(join(root, 'cam-01', '2024-05-01', 'ev-1'))).toEqual(['first_seen.jpg']);
    expect(await store.stat(key)).toMatchObject({
      bytes: bytes.length,
      sha256: ref.file.sha256,
      contentType: 'image/jpeg',
      metadata: { camera: 'cam-01' },
    });
    // Overwrite is atomic and the listing never shows sidecars or temp files.
    await store.put(key, Buffer.from('replaced'), { contentType: 'image/jpeg' });
    expect((await store.get(key)).toString()).toBe('replaced');
    expect(await store.list('cam-01/')).toEqual([key]);
    expect(await store.presign('cam-01/2024-05-01/ev-1/none.jpg', 60)).toBeNull();
  });

  it('refuses keys that would escape the root', async () => {
    const store = new FsEvidenceStore(root);
    for (const bad of ['../x.jpg', '/etc/passwd', 'a//b.jpg', 'a/./b.jpg', 'a\\b.jpg']) {
      await expect(store.put(bad, Buffer.from('x'), { contentType: 'image/jpeg' })).rejects.toThrow(/invalid evidence key/);
    }
    expect(await store.exists('../x.jpg')).toBe(false);
  });
});
