// Webhook deliveries that exhausted their retries, with redelivery.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { fmtTime, t } from '../i18n';
import { can } from '../session';
import { ErrorBox, Loading, useApi } from '../ui';

interface DeadLetter {
  idempotencyKey: string;
  type: string;
  status: string;
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: number;
  redeliveries: number;
}

export function DeliveriesPage() {
  const list = useApi<{ items: DeadLetter[] }>('/v1/deliveries/dead-letters', 10_000);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const redeliver = async (key: string) => {
    setError(null);
    try {
      await api(`/v1/deliveries/${encodeURIComponent(key)}/redeliver`, { method: 'POST' });
      setDone(key);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <div>
      <h1>{t('deadLetters')}</h1>
      <ErrorBox error={list.error ?? error} />
      {done && (
        <p class="ok">
          {t('redeliver')}: {done}
        </p>
      )}
      {!list.data && !list.error && <Loading />}
      {list.data && list.data.items.length === 0 && <p class="muted">{t('none')}</p>}
      <table>
        <tbody>
          {list.data?.items.map((d) => (
            <tr data-key={d.idempotencyKey}>
              <td>
                <code>{d.idempotencyKey}</code>
                <div class="muted">{d.type}</div>
              </td>
              <td class="num">{d.attempts}×</td>
              <td class="muted">
                {d.lastStatus ?? ''} {d.lastError ?? ''}
              </td>
              <td class="muted">{fmtTime(d.createdAt)}</td>
              <td>
                {can('redeliver') && (
                  <button type="button" onClick={() => redeliver(d.idempotencyKey)}>
                    {t('redeliver')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
