// Durable append-only journals on local disk (the evidence spool and the case outbox): every append
// is fsynced before the caller is told "accepted", and compaction replaces the file atomically.
import { open, rename } from 'node:fs/promises';

/** Appends lines and fsyncs; resolves only when they are on disk. */
export async function appendSynced(file: string, lines: string[]): Promise<void> {
  const fh = await open(file, 'a');
  try {
    await fh.write(lines.map((l) => l + '\n').join(''));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces the file's content atomically (write + fsync a temp file, rename over). */
export async function rewriteSynced(file: string, lines: string[]): Promise<void> {
  const tmp = file + '.tmp';
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(lines.map((l) => l + '\n').join(''));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
