// Try before save: the API replays the camera's recent footage with the saved and with the edited
// config (two replays); their would-be cases are drawn on two timelines, then the operator saves.
import { useState } from 'preact/hooks';
import { api, type CameraConfig, type ReplayView } from '../api';
import { className, replayStateName, t } from '../i18n';
import { usePollReplay } from '../replay-poll';
import { ErrorBox } from '../ui';

type Run = ReplayView['result'];

/** Confirmed cases of a replay on a time axis of `span` seconds. */
export function Timeline({ label, run, span, testId }: { label: string; run: Run; span: number; testId: string }) {
  const cases = run?.cases ?? [];
  const W = 800;
  const x = (s: number) => (Math.max(0, Math.min(span, s)) / span) * W;
  return (
    <div class="timeline" data-testid={testId} data-cases={cases.length}>
      <div class="timeline-label">
        {label}: {cases.length} {t('casesCount')}
      </div>
      <svg viewBox={`0 0 ${W} 54`} class="timeline-svg">
        <rect width={W} height={40} fill="#f1f5f9" />
        {Array.from({ length: Math.floor(span / 10) + 1 }, (_, i) => (
          <g>
            <line x1={x(i * 10)} x2={x(i * 10)} y1={0} y2={40} stroke="#cbd5e1" />
            <text x={x(i * 10) + 2} y={51} font-size={9} fill="#64748b">
              {i * 10} s
            </text>
          </g>
        ))}
        {cases.map((c) => (
          <g class="timeline-case">
            <rect x={x(c.start)} y={8} width={Math.max(3, x(c.end ?? span) - x(c.start))} height={24} fill="#ef4444" fill-opacity={0.7}>
              <title>
                {c.nameZh} {c.nameEn} · {c.zoneId ?? ''} · {c.start.toFixed(1)}–{(c.end ?? span).toFixed(1)} s
              </title>
            </rect>
            <line x1={x(c.confirmedAt)} x2={x(c.confirmedAt)} y1={4} y2={36} stroke="#7f1d1d" stroke-width={2} />
          </g>
        ))}
      </svg>
      <ul class="muted">
        {cases.map((c) => (
          <li>
            {className(c)} · {c.zoneId ?? '—'} · {c.start.toFixed(1)}–{c.end !== null ? c.end.toFixed(1) : '…'} s
          </li>
        ))}
        {run && cases.length === 0 && <li>{t('noEvents')}</li>}
      </ul>
    </div>
  );
}

export function TryPanel({
  cameraId,
  config,
  onSave,
  onClose,
}: {
  cameraId: string;
  config: CameraConfig;
  onSave: () => Promise<void> | void;
  onClose: () => void;
}) {
  const [minutes, setMinutes] = useState(2);
  const [ids, setIds] = useState<{ saved: string; edited: string } | null>(null);
  const [clip, setClip] = useState<{ seconds: number; missingSec: number } | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const saved = usePollReplay(ids?.saved ?? null);
  const edited = usePollReplay(ids?.edited ?? null);
  const start = async () => {
    setError(null);
    setIds(null);
    try {
      const r = await api<{ tryId: string; saved: string; edited: string; clip?: { seconds: number; missingSec: number } }>(
        `/v1/cameras/${encodeURIComponent(cameraId)}/try`,
        { method: 'POST', body: { config, minutes } },
      );
      setIds({ saved: r.saved, edited: r.edited });
      setClip(r.clip ?? null);
    } catch (err) {
      setError(err as Error);
    }
  };
  const done = saved?.state === 'completed' && edited?.state === 'completed';
  const span = Math.max(
    10,
    saved?.progress?.duration ?? saved?.progress?.seconds ?? 0,
    edited?.progress?.duration ?? edited?.progress?.seconds ?? 0,
    ...[...(saved?.result?.cases ?? []), ...(edited?.result?.cases ?? [])].map((c) => c.end ?? c.confirmedAt),
  );
  return (
    <section class="panel try-panel" data-done={done ? 'yes' : 'no'}>
      <h2>{t('tryIt')}</h2>
      <p class="muted">{t('tryHint')}</p>
      <label>
        <input
          type="number"
          name="minutes"
          min={1}
          max={10}
          step={1}
          value={minutes}
          onInput={(e) => setMinutes(Number(e.currentTarget.value))}
        />{' '}
        {t('tryMinutes')}
      </label>{' '}
      <button type="button" class="primary" onClick={start}>
        {t('tryIt')}
      </button>{' '}
      <button type="button" onClick={onClose}>
        {t('cancel')}
      </button>
      <ErrorBox error={error} />
      {ids && (
        <>
          {clip && (
            <p class="muted try-clip" data-seconds={clip.seconds}>
              {t('tryClip')}: {clip.seconds.toFixed(1)} s
              {clip.missingSec > 0 ? ` (${clip.missingSec.toFixed(1)} s ${t('tryMissing')})` : ''}
            </p>
          )}
          <p class="muted">
            {t('trySaved')}: {saved ? replayStateName(saved.state) : '…'}{' '}
            {saved?.progress?.percent != null && `${saved.progress.percent.toFixed(0)}%`} · {t('tryEdited')}:{' '}
            {edited ? replayStateName(edited.state) : '…'} {edited?.progress?.percent != null && `${edited.progress.percent.toFixed(0)}%`}
          </p>
          {saved?.error && <div class="error">{saved.error}</div>}
          {edited?.error && <div class="error">{edited.error}</div>}
          <Timeline label={t('trySaved')} run={saved?.result ?? null} span={span} testId="try-saved" />
          <Timeline label={t('tryEdited')} run={edited?.result ?? null} span={span} testId="try-edited" />
          {done && (
            <button type="button" class="primary" onClick={() => void onSave()}>
              {t('save')}
            </button>
          )}
        </>
      )}
    </section>
  );
}
