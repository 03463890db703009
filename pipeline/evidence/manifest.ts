// Evidence manifest: one JSON document per event that lets an auditor check what was kept and why
// (the debouncer's reason record, the models that saw it, and every file with size and sha256).
import type { ReasonRecord, ViolationEvent, EvidenceFile, EvidenceRef } from '../types.js';
import { digest } from './store.js';
import type { ClipCoverage } from './clip.js';

export interface ModelInfo {
  name: string;
  sha256: string;
}

export interface EvidenceManifest {
  version: 1;
  eventId: string;
  episodeId: string;
  cameraId: string;
  classId: string;
  transition: ViolationEvent['transition'];
  streamTime: number;
  wallTime: number;
  createdAt: string;
  reason: ReasonRecord;
  extras?: Record<string, unknown>;
  models: ModelInfo[];
  clip: { coverage: ClipCoverage } | null;
  files: (EvidenceFile & { key?: string })[];
}

/** Size and sha256 of a local file or buffer as an EvidenceFile. */
export async function describeFile(body: string | Buffer, name: string, kind: EvidenceFile['kind'], contentType: string): Promise<EvidenceFile> {
  const d = await digest(body);
  return { name, kind, contentType, bytes: d.bytes, sha256: d.sha256 };
}

export function buildManifest(opts: {
  event: ViolationEvent;
  models: ModelInfo[];
  files: (EvidenceFile | EvidenceRef)[];
  clipCoverage?: ClipCoverage | null;
  now?: Date;
}): EvidenceManifest {
  const { event } = opts;
  for (const m of opts.models) {
    if (!/^[0-9a-f]{64}$/.test(m.sha256)) throw new Error(`manifest: model ${m.name} has no valid sha256 (got "${m.sha256}")`);
  }
  return {
    version: 1,
    eventId: event.id,
    episodeId: event.episodeId,
    cameraId: event.cameraId,
    classId: event.classId,
    transition: event.transition,
    streamTime: event.streamTime,
    wallTime: event.wallTime,
    createdAt: (opts.now ?? new Date()).toISOString(),
    reason: event.reason,
    ...(event.extras ? { extras: event.extras } : {}),
    models: opts.models,
    clip: opts.clipCoverage ? { coverage: opts.clipCoverage } : null,
    files: opts.files.map((f) => ('file' in f ? { ...f.file, key: f.key } : f)),
  };
}
