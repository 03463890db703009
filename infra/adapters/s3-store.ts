// S3/MinIO evidence store over the `minio` client. Every put is verified: the ETag of a single-part
// upload is the MD5 of the content on both MinIO and s3rver, so a matching ETag proves the bytes
// arrived; when it does not match (multipart "md5-N" ETags, or servers with encryption whose ETag is
// not an MD5) the object is downloaded again and its sha256 compared. Only a sha256 mismatch fails.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Client } from 'minio';
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

export interface S3StoreOptions {
  endPoint: string;
  port?: number;
  useSSL?: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region?: string;
  /** Objects expire after this many days via a bucket lifecycle rule (where the server supports it). */
  retentionDays?: number;
  /** Upper bound for any single S3 call; an unreachable server must not hang the caller. */
  opTimeoutMs?: number;
  /** Multipart part size in bytes (minio default 64 MiB; min 5 MiB). */
  partSize?: number;
}

export type RetentionStatus = 'applied' | 'unsupported' | 'none';

export type VerifiedBy = 'etag' | 'download';

export class S3EvidenceStore implements EvidenceStore {
  readonly kind = 's3' as const;
  readonly client: Client;
  readonly bucket: string;
  /** Outcome of the lifecycle rule set by `init()`. */
  retention: RetentionStatus = 'none';
  retentionError: string | null = null;
  /** How the last put was verified (exposed for tests and logs). */
  lastVerifiedBy: VerifiedBy | null = null;
  private readonly timeoutMs: number;
  private bucketReady = false;

  constructor(private readonly opts: S3StoreOptions) {
    this.client = new Client({
      endPoint: opts.endPoint,
      port: opts.port,
      useSSL: opts.useSSL ?? false,
      accessKey: opts.accessKey,
      secretKey: opts.secretKey,
      region: opts.region ?? 'us-east-1',
      pathStyle: true,
      ...(opts.partSize ? { partSize: opts.partSize } : {}),
    });
    this.bucket = opts.bucket;
    this.timeoutMs = opts.opTimeoutMs ?? 30_000;
  }

  /** Creates the store and makes sure the bucket (and its retention rule) exist. */
  static async open(opts: S3StoreOptions): Promise<S3EvidenceStore> {
    const store = new S3EvidenceStore(opts);
    await store.init();
    return store;
  }

  private timed<T>(what: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`s3 ${what} timed out after ${this.timeoutMs} ms (${this.opts.endPoint}:${this.opts.port ?? ''})`)),
        this.timeoutMs,
      );
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  async init(): Promise<void> {
    await this.ensureBucket();
    if (this.opts.retentionDays !== undefined) await this.applyRetention(this.opts.retentionDays);
  }

  async ensureBucket(): Promise<void> {
    if (this.bucketReady) return;
    const exists = await this.timed('bucketExists', this.client.bucketExists(this.bucket));
    if (!exists) {
      try {
        await this.timed('makeBucket', this.client.makeBucket(this.bucket, this.opts.region ?? 'us-east-1'));
      } catch (err) {
        // Another worker may have created it between our check and our create.
        const code = (err as { code?: string }).code;
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
      }
    }
    this.bucketReady = true;
  }

  /** Sets an expiry lifecycle rule; servers without lifecycle support report 'unsupported' rather than failing. */
  async applyRetention(days: number): Promise<RetentionStatus> {
    if (!Number.isInteger(days) || days < 1) throw new Error(`retentionDays must be a positive integer, got ${days}`);
    try {
      await this.timed(
        'setBucketLifecycle',
        this.client.setBucketLifecycle(this.bucket, {
          Rule: [{ ID: 'citywatch-evidence-retention', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: days } }],
        }),
      );
      this.retention = 'applied';
      this.retentionError = null;
    } catch (err) {
      this.retention = 'unsupported';
      this.retentionError = (err as Error).message;
    }
    return this.retention;
  }

  async put(key: string, body: string | Buffer, opts: PutOptions): Promise<EvidenceRef> {
    assertKey(key);
    await this.ensureBucket();
    const d = await digest(body);
    const meta: Record<string, string> = { 'Content-Type': opts.contentType };
    for (const [k, v] of Object.entries(opts.metadata ?? {})) meta[`X-Amz-Meta-${k}`] = v;
    meta[`X-Amz-Meta-${SHA256_META}`] = d.sha256;
    const uploaded = Buffer.isBuffer(body)
      ? await this.timed('putObject', this.client.putObject(this.bucket, key, body, body.length, meta))
      : await this.timed('fPutObject', this.client.fPutObject(this.bucket, key, body, meta));
    const etag = (uploaded.etag ?? '').replace(/"/g, '').toLowerCase();
    if (etag === d.md5) {
      this.lastVerifiedBy = 'etag';
    } else {
      const remote = await this.remoteSha256(key);
      if (remote.sha256 !== d.sha256 || remote.bytes !== d.bytes) {
        throw new Error(
          `s3 put ${key}: checksum mismatch after upload (local sha256 ${d.sha256}, ${d.bytes} B; remote ${remote.sha256}, ${remote.bytes} B)`,
        );
      }
      this.lastVerifiedBy = 'download';
    }
    const name = baseName(key);
    return {
      store: 's3',
      key,
      file: { name, kind: opts.kind ?? inferKind(name, opts.contentType), contentType: opts.contentType, bytes: d.bytes, sha256: d.sha256 },
    };
  }

  private async remoteSha256(key: string): Promise<{ sha256: string; bytes: number }> {
    const h = createHash('sha256');
    let bytes = 0;
    const stream = await this.timed('getObject', this.client.getObject(this.bucket, key));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      h.update(chunk);
      bytes += chunk.length;
    }
    return { sha256: h.digest('hex'), bytes };
  }

  async get(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of (await this.getStream(key)) as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async getStream(key: string): Promise<Readable> {
    assertKey(key);
    return this.timed('getObject', this.client.getObject(this.bucket, key));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  async stat(key: string): Promise<StoredObjectInfo | null> {
    assertKey(key);
    try {
      const st = await this.timed('statObject', this.client.statObject(this.bucket, key));
      const metadata: Record<string, string> = {};
      let contentType: string | undefined;
      for (const [k, v] of Object.entries(st.metaData ?? {})) {
        const lk = k.toLowerCase();
        if (lk === 'content-type') contentType = String(v);
        else metadata[lk.replace(/^x-amz-meta-/, '')] = String(v);
      }
      return { key, bytes: st.size, sha256: metadata[SHA256_META], contentType, metadata };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NotFound' || code === 'NoSuchKey') return null;
      throw err;
    }
  }

  async presign(key: string, expirySec: number): Promise<string | null> {
    assertKey(key);
    if (!Number.isInteger(expirySec) || expirySec < 1 || expirySec > 604_800) {
      throw new Error(`presign expiry must be 1..604800 s (S3 limit), got ${expirySec}`);
    }
    return this.timed('presignedGetObject', this.client.presignedGetObject(this.bucket, key, expirySec));
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    await this.timed(
      'listObjectsV2',
      new Promise<void>((resolve, reject) => {
        stream.on('data', (item: { name?: string }) => item.name && keys.push(item.name));
        stream.on('error', reject);
        stream.on('end', () => resolve());
      }),
    );
    return keys.sort();
  }
}
