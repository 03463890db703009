import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedAdminKey } from './admin-key-file.js';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('embedded admin key file', () => {
  it('is generated once with mode 0600 and read back on every later start', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citywatch-adminkey-'));
    const first = await embeddedAdminKey(dir, {});
    expect(first.source).toBe('generated');
    expect(first.key).toMatch(/^cwk_[A-Za-z0-9_-]{43}$/);
    expect(first.file).toBe(path.join(dir, 'admin-key'));
    expect((await stat(first.file)).mode & 0o777).toBe(0o600);
    expect(await readFile(first.file, 'utf8')).toBe(first.key + '\n');
    const again = await embeddedAdminKey(dir, {});
    expect(again).toEqual({ key: first.key, source: 'file', file: first.file });
  });

  it('CITYWATCH_ADMIN_KEY overrides without touching the file; a loose file mode is tightened; junk is refused', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'citywatch-adminkey-'));
    const file = path.join(dir, 'admin-key');
    expect(await embeddedAdminKey(dir, { CITYWATCH_ADMIN_KEY: 'k'.repeat(30) })).toEqual({ key: 'k'.repeat(30), source: 'env', file });
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    await writeFile(file, 'x'.repeat(40) + '\n');
    await chmod(file, 0o644);
    expect((await embeddedAdminKey(dir, {})).key).toBe('x'.repeat(40));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, 'short\n');
    await expect(embeddedAdminKey(dir, {})).rejects.toThrow(/holds no usable admin key .*delete it/);
  });
});
