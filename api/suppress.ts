// Rejecting a case with `suppress: true`: the case is rejected and the camera config gains a
// suppression of the case's class over its box (pipeline/rules/suppressions.ts), so the camera does
// not raise that class there again. Everything that can refuse is checked before anything is written.
import type { Request } from 'express';
import type { ApiKeyRecord } from './auth.js';
import type { ApiDeps } from './deps.js';
import { ApiError, notFound } from './errors.js';
import { DEFAULT_SUPPRESSION_PADDING, type Suppression } from '../pipeline/rules/config-schema.js';
import { suppressionPolygon } from '../pipeline/rules/suppressions.js';
import { toPublic, type CameraRecord } from '../infra/stores/camera-store.js';
import { CASE_TRANSITIONS, CaseTransitionError, type CaseRecord } from '../infra/stores/case-store.js';
import { LiveStore, liveWatchMs } from '../infra/stores/live-store.js';
import { validateConfig } from './routes/cameras.js';

/** Roles that may change a camera config (a suppression is one). */
export const SUPPRESS_ROLES = ['admin', 'operator'] as const;

/** The pixel size a case's boxes are in: recorded on the case, else the camera's live frame now. */
async function boxSpace(deps: ApiDeps, c: CaseRecord): Promise<{ width: number; height: number } | null> {
  const s = c.extras?.boxSpace as { width?: unknown; height?: unknown } | undefined;
  if (s && typeof s.width === 'number' && typeof s.height === 'number' && s.width > 0 && s.height > 0)
    return { width: s.width, height: s.height };
  const store = new LiveStore(deps.redis, deps.prefix);
  const live = await store.get(c.cameraId);
  // Workers publish live records only for watched cameras: ask for one so that a retry finds it.
  if (!live) await store.watch(c.cameraId, liveWatchMs(deps.liveWatchSec));
  return live ? { width: live.sourceWidth, height: live.sourceHeight } : null;
}

function withSuppression(cam: CameraRecord, entry: Suppression): Record<string, unknown> {
  // One suppression per case: asking again replaces it.
  const others = (cam.config.suppressions ?? []).filter((s) => s.id !== entry.id);
  return { ...cam.config, suppressions: [...others, entry] };
}

export async function rejectAndSuppress(
  deps: ApiDeps,
  c: CaseRecord,
  opts: { reason: string; padding?: number; key: ApiKeyRecord | null; req: Request },
): Promise<CaseRecord & { suppression: Suppression & { cameraId: string; configVersion: number } }> {
  if (!c.boxes.length)
    throw new ApiError(
      400,
      'NO_BOX',
      `case ${c.id} has no box to suppress (a suppression covers the case's box); reject it without suppress`,
      'suppress',
    );
  const cam = await deps.cameras.get(c.cameraId);
  if (!cam) throw notFound(`camera ${c.cameraId} of case ${c.id} no longer exists; reject the case without suppress`);
  if (!CASE_TRANSITIONS[c.state].includes('rejected')) throw new CaseTransitionError(c.id, c.state, 'rejected');
  const space = await boxSpace(deps, c);
  if (!space)
    throw new ApiError(
      400,
      'BOX_SPACE_UNKNOWN',
      `the frame size case ${c.id}'s boxes are in was not recorded and camera ${c.cameraId} has no live frame to read it from; its worker was asked to publish one: retry in a few seconds while the camera is online`,
      'suppress',
    );
  const polygon = suppressionPolygon(c.boxes, space, opts.padding ?? DEFAULT_SUPPRESSION_PADDING);
  if (!polygon) throw new ApiError(400, 'NO_BOX', `case ${c.id} has no usable box (empty or outside the frame)`, 'suppress');
  const entry: Suppression = {
    id: `sup_${c.id.replace(/^case_/, '')}`.slice(0, 64),
    classId: c.classId,
    polygon,
    createdFrom: c.id,
    reason: opts.reason,
    createdAt: Date.now(),
  };
  // Validate the config it will become before the case changes, so a refusal writes nothing.
  validateConfig(cam.id, withSuppression(cam, entry), []);
  const actor = opts.key ? `${opts.key.role}:${opts.key.name}` : undefined;
  const rejected = await deps.cases.transition(c.id, 'rejected', { reason: opts.reason, actor, expectFrom: c.state });
  // Inside the store's compare-and-set loop: a concurrent zone edit is kept, and the worker reloads.
  let before: CameraRecord = cam;
  const rec = await deps.cameras.update(cam.id, (cur) => {
    before = cur;
    return { config: validateConfig(cur.id, withSuppression(cur, entry), []) };
  });
  const key = opts.key;
  await deps.audit?.append({
    at: Date.now(),
    keyId: key?.id ?? null,
    keyName: key?.name ?? null,
    role: key?.role ?? null,
    action: 'updateCaseStatus',
    method: opts.req.method,
    path: opts.req.path,
    target: `camera:${cam.id}`,
    before: toPublic(before),
    after: toPublic(rec),
    requestId: typeof opts.req.id === 'string' ? opts.req.id : null,
  });
  return { ...rejected, suppression: { cameraId: cam.id, configVersion: rec.version, ...entry } };
}
