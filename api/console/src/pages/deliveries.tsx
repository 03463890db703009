// Webhook deliveries that exhausted their retries, with redelivery; a redelivered event is followed
// (GET /v1/deliveries/:key) until the platform accepts it or it is dead again.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { fmtTime, t, type TKey } from '../i18n';
import { can } from '../session';
import { ErrorBox, Loading, useApi } from '../ui';

interface Delivery {
  idempotencyKey: string;
  type: string;
  status: 'pending' | 'delivered' | 'dead' | 'skipped';
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: number;
  deliveredAt: number | null;
  redeliveries: number;
}

/** The redelivered event, polled while it is pending. */
function Redelivered({ deliveryKey }: { deliveryKey: string }) {
  const [every, setEvery] = useState<number | undefined>(1000);
  const d = useApi<Delivery>(`/v1/deliveries/${encodeURIComponent(deliveryKey)}`, every);
  const status = d.data?.status;
  useEffect(() => {
    if (status && status !== 'pending') setEvery(undefined);
  }, [status]);
  return (
    <p class={status === 'dead' ? 'error' : 'ok'} data-key={deliveryKey} data-status={status ?? 'pending'}>
      {t('redelivered')}: <code>{deliveryKey}</code> — {t(`delivery_${status ?? 'pending'}` as TKey)}
      {status === 'delivered' && d.data?.deliveredAt ? ` ${fmtTime(d.data.deliveredAt)}` : ''}
      {status === 'dead' && d.data?.lastError ? ` (${d.data.lastError})` : ''}
    </p>
  );
}

export function DeliveriesPage() {
  const list = useApi<{ items: Delivery[] }>('/v1/deliveries/dead-letters', 10_000);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<string[]>([]);
  const redeliver = async (key: string) => {
    setError(null);
    try {
      await api(`/v1/deliveries/${encodeURIComponent(key)}/redeliver`, { method: 'POST' });
      setDone([key, ...done.filter((k) => k !== key)]);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <div>
      <h1>{t('deadLetters')}</h1>
      <p class="muted">{t('deadLettersHint')}</p>
      <ErrorBox error={list.error ?? error} />
      {done.map((k) => (
        <Redelivered key={k} deliveryKey={k} />
      ))}
      {!list.data && !list.error && <Loading />}
      {list.data && list.data.items.length === 0 && <p class="muted">{t('none')}</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>{t('event')}</th>
              <th>{t('attempts')}</th>
              <th>{t('lastError')}</th>
              <th>{t('created')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((d) => (
              <tr data-key={d.idempotencyKey}>
                <td>
                  <code>{d.idempotencyKey}</code>
                  <div class="muted">{d.type}</div>
                </td>
                <td class="num">
                  {d.attempts}
                  {d.redeliveries > 0 ? ` (${t('redeliver')} ×${d.redeliveries})` : ''}
                </td>
                <td class="muted last-status">
                  {d.lastStatus !== null ? `HTTP ${d.lastStatus}` : ''} {d.lastError ?? ''}
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
      )}
    </div>
  );
}
