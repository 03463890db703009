// Evidence-store port: what the evidence stage needs from wherever evidence is kept. Adapters live in
// infra/adapters (S3/MinIO, local filesystem, spooling wrapper); nothing here talks to a network.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { EvidenceFile, EvidenceRef } from '../types.js';

export interface PutOptions {
  contentType: string;
  /** User metadata (S3: x-amz-meta-*). Keys are lower-cased ASCII; values must be ASCII. */
  metadata?: Record<string, string>;
  /** Evidence kind recorded in the returned ref; inferred from the content type when absent. */
  kind?: EvidenceFile['kind'];
}

export interface StoredObjectInfo {
  key: string;
  bytes: number;
  /** sha256 of the content as recorded at upload (metadata), when the store knows it. */
  sha256?: string;
  contentType?: string;
  metadata: Record<string, string>;
}

export interface EvidenceStore {
  readonly kind: EvidenceRef['store'];
  /** Stores a file (by path) or a buffer under key; resolves once the content is durable and verified. */
  put(key: string, body: string | Buffer, opts: PutOptions): Promise<EvidenceRef>;
  get(key: string): Promise<Buffer>;
  getStream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Size, checksum and metadata of a stored object, or null when absent. */
  stat(key: string): Promise<StoredObjectInfo | null>;
  /**
   * A URL a person or the case platform can fetch the object from until expirySec has passed.
   * Object stores return a signed HTTP(S) URL; the filesystem store returns a file:// URL that
   * ignores expiry (only meaningful on the same host), or null when the object is absent.
   */
  presign(key: string, expirySec: number): Promise<string | null>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}

/** Metadata key under which every adapter records the content's sha256. */
export const SHA256_META = 'sha256';

const KEY_PART = /^[A-Za-z0-9_.-]+$/;

/**
 * Rejects keys that could escape a root directory or confuse an object store: absolute paths,
 * empty or dot segments, backslashes and anything outside a conservative character set.
 */
export function keyProblem(key: string): string | null {
  if (key.length === 0 || key.length > 900) return `key must be 1–900 characters, got ${key.length}`;
  const parts = key.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') return `key "${key}" has an empty or dot segment`;
    if (!KEY_PART.test(part)) return `key "${key}" has characters outside A-Z a-z 0-9 _ . -`;
  }
  return null;
}

export function assertKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new Error(`invalid evidence key: ${problem}`);
}

/** Calendar date (YYYY-MM-DD) of an epoch-ms instant in a time zone. */
export function localDate(epochMs: number, timeZone: string): string {
  // en-CA formats dates as ISO YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(epochMs));
}

/**
 * Evidence key layout shared by all stores: `camera/YYYY-MM-DD/event-id/file`, the date being the
 * event's local date in the camera's time zone so a day's cases list under one prefix.
 */
export function evidenceKey(parts: { cameraId: string; eventId: string; wallTime: number; name: string; timeZone?: string }): string {
  const key = `${parts.cameraId}/${localDate(parts.wallTime, parts.timeZone ?? 'Asia/Shanghai')}/${parts.eventId}/${parts.name}`;
  assertKey(key);
  return key;
}

export function inferKind(name: string, contentType: string): EvidenceFile['kind'] {
  if (contentType.startsWith('video/')) return 'clip';
  if (name.endsWith('manifest.json')) return 'manifest';
  if (/crop/i.test(name)) return 'crop';
  return 'snapshot';
}

export interface ContentDigest {
  bytes: number;
  sha256: string;
  md5: string;
}

/** sha256 + md5 of a file path or buffer in one pass (md5 is what single-part S3 ETags carry). */
export async function digest(body: string | Buffer): Promise<ContentDigest> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  if (Buffer.isBuffer(body)) {
    sha.update(body);
    md5.update(body);
    bytes = body.length;
  } else {
    for await (const chunk of createReadStream(body) as AsyncIterable<Buffer>) {
      sha.update(chunk);
      md5.update(chunk);
      bytes += chunk.length;
    }
  }
  return { bytes, sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
