// Camera list: live thumbnail, health state with its reason, analysed fps, decode mode, open cases.
import { ApiError, type Camera } from '../api';
import { t, type TKey } from '../i18n';
import { onLink } from '../router';
import { can } from '../session';
import { ErrorBox, Loading, useApi, useAuthImage, useTicker } from '../ui';

export function stateLabel(s: string): string {
  return ['online', 'offline', 'stalled', 'connecting', 'disabled', 'unknown'].includes(s) ? t(s as TKey) : s;
}

/** An enabled, online camera whose live view answers 404 NO_LIVE_FRAME: its first record is on the way. */
export function waitingForLive(c: Pick<Camera, 'enabled' | 'live'>, error: Error | null): boolean {
  return c.enabled && c.live.state === 'online' && error instanceof ApiError && error.status === 404 && error.code === 'NO_LIVE_FRAME';
}

function Thumb({ camera }: { camera: Camera }) {
  const tick = useTicker(5000);
  const { src, error } = useAuthImage(`/v1/cameras/${encodeURIComponent(camera.id)}/live/frame`, tick);
  // Asking for the thumbnail marks the camera watched: an online one shows its picture on a later tick.
  if (!src) return <div class="thumb empty">{waitingForLive(camera, error) ? t('waitingLive') : error ? t('noFrame') : t('loading')}</div>;
  return <img class="thumb" src={src} alt={`${camera.id} live`} />;
}

export function CamerasPage() {
  const { data, error } = useApi<{ items: Camera[] }>('/v1/cameras', 3000);
  return (
    <div>
      <div class="toolbar">
        <h1>{t('cameras')}</h1>
        {can('createCamera') && (
          <a class="button" href="/cameras/new" onClick={(e) => onLink(e, '/cameras/new')}>
            {t('addCamera')}
          </a>
        )}
      </div>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && (
        <table class="cameras">
          <thead>
            <tr>
              <th></th>
              <th>{t('name')}</th>
              <th>{t('state')}</th>
              <th>{t('fps')}</th>
              <th>{t('decode')}</th>
              <th>{t('openCases')}</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((c) => (
              <tr data-camera={c.id}>
                <td>
                  <Thumb camera={c} />
                </td>
                <td>
                  <a href={`/cameras/${c.id}`} onClick={(e) => onLink(e, `/cameras/${c.id}`)}>
                    {c.name ?? c.id}
                  </a>
                  <div class="muted">{c.id}</div>
                </td>
                <td>
                  {/* A disabled camera is never leased: "unknown, no worker reported it" would mislead. */}
                  {c.enabled ? (
                    <>
                      <span class={`state state-${c.live.state}`}>{stateLabel(c.live.state)}</span>
                      {c.live.reason && <div class="muted reason">{c.live.reason}</div>}
                    </>
                  ) : (
                    <span class="state state-disabled">{t('disabled')}</span>
                  )}
                </td>
                <td class="num">{c.live.analysedFps != null ? c.live.analysedFps.toFixed(2) : '—'}</td>
                <td>
                  {c.live.decode ?? '—'}
                  {c.live.decodeReason && <div class="muted reason">{c.live.decodeReason}</div>}
                </td>
                <td class="num open-cases">
                  <a
                    href={`/cases?cameraId=${encodeURIComponent(c.id)}`}
                    onClick={(e) => onLink(e, `/cases?cameraId=${encodeURIComponent(c.id)}`)}
                  >
                    {c.openCases ?? '—'}
                  </a>
                </td>
                <td class="links">
                  <a href={`/cameras/${c.id}`} onClick={(e) => onLink(e, `/cameras/${c.id}`)}>
                    {t('view')}
                  </a>
                  <a href={`/cameras/${c.id}/zones`} onClick={(e) => onLink(e, `/cameras/${c.id}/zones`)}>
                    {t('zones')}
                  </a>
                  {can('getCameraClasses') && (
                    <a href={`/cameras/${c.id}/classes`} onClick={(e) => onLink(e, `/cameras/${c.id}/classes`)}>
                      {t('classes')}
                    </a>
                  )}
                  {can('updateCamera') && (
                    <a href={`/cameras/${c.id}/edit`} onClick={(e) => onLink(e, `/cameras/${c.id}/edit`)}>
                      {t('editCamera')}
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
