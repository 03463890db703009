// The evidence store a process uses, chosen from the shared settings (the worker writes evidence,
// the API reads and presigns it, so both open it the same way).
import { join } from 'node:path';
import type { EvidenceStore } from '../../pipeline/evidence/store.js';
import type { WorkerSettings } from '../settings.js';
import { FsEvidenceStore } from './fs-store.js';
import { S3EvidenceStore } from './s3-store.js';
import { SpoolingEvidenceStore } from './spool-store.js';

type Log = (msg: string, extra?: Record<string, unknown>) => void;

/** Evidence store from settings: S3 behind an on-disk spool when configured, else the local filesystem. */
export async function openEvidenceStore(s: WorkerSettings, log: Log): Promise<EvidenceStore> {
  if (!s.s3) return new FsEvidenceStore(join(s.dataDir, 'evidence'));
  const primary = new S3EvidenceStore({ ...s.s3 });
  // The spool accepts evidence while S3 is down; a failed bucket check at start-up is not fatal.
  await primary.init().catch((err: Error) => log('S3 not reachable at start-up; evidence will spool', { error: err.message }));
  return SpoolingEvidenceStore.open(primary, { dir: join(s.dataDir, 'spool'), maxBytes: s.spoolMaxBytes, maxItems: s.spoolMaxItems });
}
