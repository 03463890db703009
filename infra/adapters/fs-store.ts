// Local-filesystem evidence store (the embedded default). Same key layout as the object store under
// a root directory; every write is temp file + fsync + rename so a crash never leaves a torn object.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  assertKey,
  baseName,
  digest,
  inferKind,
  SHA256_META,
  type EvidenceStore,
  type PutOptions,
  type StoredObjectInfo,
} from '../../pipeline/evidence/store.js';
import type { EvidenceRef } from '../../pipeline/types.js';

/** Sidecar metadata lives in a parallel tree so listings of the data tree stay clean. */
const META_DIR = '.meta';

interface Sidecar {
  contentType: string;
  bytes: number;
  sha256: string;
  metadata: Record<string, string>;
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a Buffer (or copies a file path) to target via a fsynced temp file and a rename. */
export async function atomicWrite(target: string, body: string | Buffer): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${baseName(target)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    if (Buffer.isBuffer(body)) {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } else {
      await copyFile(body, tmp);
      await fsyncPath(tmp);
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export class FsEvidenceStore implements EvidenceStore {
  readonly kind = 'fs' as const;

  constructor(readonly root: string) {}

  private dataPath(key: string): string {
    assertKey(key);
    return join(this.root, ...key.split('/'));
  }

  private metaPath(key: string): string {
    assertKey(key);
    return join(this.root, META_DIR, ...key.split('/')) + '.json';
  }

  async put(key: string, body: string | Buffer, opts: PutOptions): Promise<EvidenceRef> {
    const target = this.dataPath(key);
    const d = await digest(body);
    await atomicWrite(target, body);
    const written = await digest(target);
    if (written.sha256 !== d.sha256) throw new Error(`fs store: checksum mismatch after writing ${key}`);
    const sidecar: Sidecar = {
      contentType: opts.contentType,
      bytes: d.bytes,
      sha256: d.sha256,
      metadata: { ...opts.metadata, [SHA256_META]: d.sha256 },
    };
    await atomicWrite(this.metaPath(key), Buffer.from(JSON.stringify(sidecar)));
    const name = baseName(key);
    return {
      store: 'fs',
      key,
      file: { name, kind: opts.kind ?? inferKind(name, opts.contentType), contentType: opts.contentType, bytes: d.bytes, sha256: d.sha256 },
    };
  }

  async get(key: string): Promise<Buffer> {
    return readFile(this.dataPath(key));
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.dataPath(key);
    await stat(path); // fail with ENOENT now rather than on first read
    return createReadStream(path);
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.dataPath(key))).isFile();
    } catch {
      return false;
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    let bytes: number;
    try {
      bytes = (await stat(this.dataPath(key))).size;
    } catch {
      return null;
    }
    try {
      const side = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as Sidecar;
      return { key, bytes, sha256: side.sha256, contentType: side.contentType, metadata: side.metadata };
    } catch {
      return { key, bytes, metadata: {} };
    }
  }

  async presign(key: string, _expirySec: number): Promise<string | null> {
    return (await this.exists(key)) ? pathToFileURL(this.dataPath(key)).href : null;
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // metadata tree and in-flight temp files
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }
}
