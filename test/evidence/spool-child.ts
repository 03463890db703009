// Child process for the spool crash test: a real uploader (S3 store behind the spooling store) that
// takes put commands as JSON lines on stdin and reports every store event as JSON lines on stdout,
// so the test can kill -9 it at any point and start it again.
import { createInterface } from 'node:readline';
import { S3EvidenceStore } from '../../infra/adapters/s3-store.js';
import { SpoolingEvidenceStore } from '../../infra/adapters/spool-store.js';

const say = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

const primary = new S3EvidenceStore({
  endPoint: '127.0.0.1',
  port: Number(process.env.S3_PORT),
  accessKey: 'S3RVER',
  secretKey: 'S3RVER',
  bucket: process.env.BUCKET ?? 'evidence',
  opTimeoutMs: 3000,
});
const spool = await SpoolingEvidenceStore.open(primary, {
  dir: process.env.SPOOL_DIR!,
  maxBytes: 50 * 1024 * 1024,
  maxItems: 100,
  backoffInitialMs: 100,
  backoffMaxMs: 500,
});
spool.on('uploaded', (e: { key: string; skipped: boolean }) => say({ event: 'uploaded', key: e.key, skipped: e.skipped }));
spool.on('retry', (e: { key: string; attempt: number }) => say({ event: 'retry', key: e.key, attempt: e.attempt }));
spool.on('drained', () => say({ event: 'drained' }));
say({ event: 'ready', pending: spool.pendingKeys() });

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { key: string; path: string };
  try {
    const ref = await spool.put(cmd.key, cmd.path, { contentType: 'image/jpeg', metadata: { camera: 'cam-01' } });
    say({ event: 'accepted', key: ref.key, spooled: ref.spooled, depth: spool.depth().items });
  } catch (err) {
    say({ event: 'rejected', key: cmd.key, error: (err as Error).message });
  }
}
