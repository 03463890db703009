// Camera view: the live frame every ~1.5 s with zones, detections and tracks drawn over it, and the
// subjects the rules are looking at, with why each is or is not a candidate.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, blobUrl, type Camera, type ClassInfo, type LiveRecord } from '../api';
import { className, fmtTime, ruleName, t, type TKey } from '../i18n';
import { FrameOverlay } from '../overlay';
import { onLink } from '../router';
import { can } from '../session';
import { ErrorBox, Loading, useApi } from '../ui';
import { stateLabel, waitingForLive } from './cameras';

/** Polls the live record and its frame together so the drawing matches the picture. */
export function useLive(id: string, everyMs = 1500): { live: LiveRecord | null; src: string | null; error: Error | null } {
  const [state, setState] = useState<{ live: LiveRecord | null; src: string | null; error: Error | null }>({
    live: null,
    src: null,
    error: null,
  });
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let shown: string | null = null;
    const base = `/v1/cameras/${encodeURIComponent(id)}/live`;
    const step = async () => {
      try {
        const live = await api<LiveRecord>(base);
        const src = await blobUrl(`${base}/frame`);
        if (!alive) return URL.revokeObjectURL(src);
        if (shown) URL.revokeObjectURL(shown);
        shown = src;
        setState({ live, src, error: null });
      } catch (err) {
        if (alive) setState((s) => ({ ...s, error: err as Error }));
      }
      if (alive) timer = setTimeout(step, everyMs);
    };
    void step();
    return () => {
      alive = false;
      clearTimeout(timer);
      if (shown) URL.revokeObjectURL(shown);
    };
  }, [id, everyMs]);
  return state;
}

export function useClassNames(): (id: string) => string {
  const { data } = useApi<{ classes: ClassInfo[] }>('/v1/classes');
  return (id: string) => {
    const c = data?.classes.find((x) => x.id === id);
    return c ? className(c) : id;
  };
}

export function CameraViewPage({ id }: { id: string }) {
  const cam = useApi<Camera>(`/v1/cameras/${encodeURIComponent(id)}`, 5000);
  const { live, src, error } = useLive(id);
  const name = useClassNames();
  if (!cam.data) return cam.error ? <ErrorBox error={cam.error} /> : <Loading />;
  const c = cam.data;
  const W = live?.sourceWidth ?? 1280;
  const H = live?.sourceHeight ?? 720;
  return (
    <div>
      <div class="toolbar">
        <h1>{c.name ?? c.id}</h1>
        <span class={`state state-${c.live.state}`}>{stateLabel(c.live.state)}</span>
        <a href={`/cameras/${id}/zones`} onClick={(e) => onLink(e, `/cameras/${id}/zones`)}>
          {t('zoneEditor')}
        </a>
        {can('getCameraClasses') && (
          <a href={`/cameras/${id}/classes`} onClick={(e) => onLink(e, `/cameras/${id}/classes`)}>
            {t('classes')}
          </a>
        )}
      </div>
      <div class="split">
        <div class="frame-box">
          {error && !(error instanceof ApiError && error.status === 404) && <ErrorBox error={error} />}
          {/* 404 NO_LIVE_FRAME says why (disabled, no worker, offline with its reason, nothing analysed lately).
              An online camera without a record is not an error: the worker publishes only while someone
              watches, and this page's polling just asked it to; the first record follows in seconds. */}
          {!live && waitingForLive(c, error) && (
            <p class="muted no-live waiting-live" title={error?.message}>
              {t('waitingLive')} <span class="hint">{t('waitingLiveHint')}</span>
            </p>
          )}
          {!live && !waitingForLive(c, error) && <p class="muted no-live">{error ? `${t('noFrame')}: ${error.message}` : t('loading')}</p>}
          <FrameOverlay src={src} width={W} height={H} zones={live?.zones ?? c.config.zones} live={live} />
          {live && (
            <p class="muted live-meta" data-config-version={live.configVersion} data-frame={live.frameIndex}>
              {t('configVersion')} {live.configVersion} · {t('frame')} {live.frameIndex} · t={live.streamTime.toFixed(1)} s ·{' '}
              {fmtTime(live.wallTime)} · {live.detections.length} {t('detections')} · {live.tracks.length} {t('tracks')}
            </p>
          )}
        </div>
        <div class="side">
          <h2>{t('subjects')}</h2>
          <p class="muted">{t('subjectsHint')}</p>
          {live && live.subjects.length === 0 && <p class="muted">{t('noSubjects')}</p>}
          <ul class="subjects">
            {live?.subjects.map((s) => (
              <li class={`subject subject-${s.status}`} data-zone={s.zoneId ?? ''} data-class={s.classId} data-status={s.status}>
                <strong>
                  {s.trackId !== null ? `#${s.trackId}` : s.subject} {s.label ?? ''} → {name(s.classId)}
                </strong>{' '}
                <span class={`badge badge-${s.status}`}>{t(s.status as TKey)}</span>
                {s.zoneId && (
                  <span class="muted">
                    {' '}
                    · {t('zone')} {s.zoneId}
                  </span>
                )}
                {(s.rule || s.detail) && (
                  <div class="why">
                    {s.rule && <code title={s.rule}>{ruleName(s.rule)}</code>} {s.detail}
                  </div>
                )}
              </li>
            ))}
          </ul>
          <h2>{t('state')}</h2>
          <p class="live-state">
            {[
              stateLabel(c.live.state),
              c.live.reason,
              c.live.analysedFps != null ? `${c.live.analysedFps.toFixed(2)} fps` : null,
              c.live.decode ? `${t('decode')}: ${c.live.decode}` : null,
            ]
              .filter(Boolean)
              .join(' · ')}
          </p>
        </div>
      </div>
    </div>
  );
}
