// Outbound webhook: signed JSON POSTs to the city platform. The signature covers the timestamp and
// the exact body (`${t}.${body}`, HMAC-SHA256), so the platform can reject forged and replayed
// requests; the idempotency key lets it drop redeliveries (delivery is at-least-once).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-citywatch-signature';
export const IDEMPOTENCY_HEADER = 'x-idempotency-key';
const EVENT_HEADER = 'x-citywatch-event';

/**
 * Standard Webhooks (standardwebhooks.com), sent next to our own scheme so receivers can use any
 * of its libraries: `webhook-id` (the idempotency key: the same on every retry),
 * `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">`. The key is the base64 part of a `whsec_…` secret, as the spec
 * defines; any other WEBHOOK_SECRET is used as its UTF-8 bytes (libraries take it as a raw key).
 */
const STD_ID_HEADER = 'webhook-id';
const STD_TIMESTAMP_HEADER = 'webhook-timestamp';
const STD_SIGNATURE_HEADER = 'webhook-signature';

export function standardWebhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

export function standardSignature(secret: string, id: string, timestampSec: number, body: string): string {
  return `v1,${createHmac('sha256', standardWebhookKey(secret)).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/** All headers of a signed delivery: ours and Standard Webhooks', over one timestamp. */
export function signedHeaders(secret: string, idempotencyKey: string, body: string, nowMs = Date.now()): Record<string, string> {
  const t = Math.floor(nowMs / 1000);
  return {
    [SIGNATURE_HEADER]: `t=${t},v1=${signature(secret, t, body)}`,
    [STD_ID_HEADER]: idempotencyKey,
    [STD_TIMESTAMP_HEADER]: String(t),
    [STD_SIGNATURE_HEADER]: standardSignature(secret, idempotencyKey, t, body),
  };
}

export function signature(secret: string, timestampSec: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex');
}

/** Header value `t=<unix seconds>,v1=<hex hmac>`. */
export function signatureHeader(secret: string, body: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${signature(secret, t, body)}`;
}

/**
 * Platform-side check (exported so integrators and tests verify the same way): the header parses,
 * the timestamp is within `toleranceSec` and one of the v1 signatures matches.
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  opts: { toleranceSec?: number; nowMs?: number } = {},
): { ok: boolean; reason?: string } {
  if (!header) return { ok: false, reason: 'missing signature header' };
  const parts = header.split(',').map((p) => p.trim().split('=') as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  const sigs = parts.filter(([k]) => k === 'v1').map(([, v]) => v);
  if (!Number.isFinite(t) || sigs.length === 0) return { ok: false, reason: 'malformed signature header' };
  const age = Math.abs((opts.nowMs ?? Date.now()) / 1000 - t);
  if (age > (opts.toleranceSec ?? 300)) return { ok: false, reason: `timestamp outside tolerance (${Math.round(age)} s)` };
  const want = Buffer.from(signature(secret, t, body), 'hex');
  const match = sigs.some((s) => {
    const got = Buffer.from(s, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  });
  return match ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

export interface WebhookTarget {
  url: string;
  secret: string;
  timeoutMs?: number;
}

export class WebhookError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** 4xx other than 408/429 will not get better by retrying. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** One delivery attempt. Resolves with the HTTP status on 2xx; throws WebhookError otherwise. */
export async function postWebhook(target: WebhookTarget, type: string, idempotencyKey: string, body: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signedHeaders(target.secret, idempotencyKey, body),
        [IDEMPOTENCY_HEADER]: idempotencyKey,
        [EVENT_HEADER]: type,
        'user-agent': 'citywatch-webhook/1',
      },
      body,
      signal: AbortSignal.timeout(target.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new WebhookError(`POST ${target.url}: ${(err as Error).message}`, null, false);
  }
  // Drain so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return res.status;
  const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
  throw new WebhookError(`POST ${target.url}: HTTP ${res.status}`, res.status, permanent);
}
