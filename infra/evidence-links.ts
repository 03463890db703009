// Short-lived download links for evidence in the filesystem store (object stores presign their own).
// A link names the key and its expiry and carries an HMAC of both, so the download route needs no
// API key: the link is the credential, minted only by an authenticated GET /v1/cases/:id/evidence,
// and it stops working at its expiry. The secret is EVIDENCE_LINK_SECRET (shared by all API
// processes behind one load balancer), else random per process (links then die with the process).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The one default lifetime of an evidence URL (presigned or API link), seconds. */
export const DEFAULT_EVIDENCE_URL_TTL_SEC = 900;
export const MAX_EVIDENCE_URL_TTL_SEC = 7 * 24 * 3600;

export class EvidenceLinks {
  private readonly secret: Buffer;
  constructor(secret?: string | null) {
    this.secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  private mac(key: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`${key}\n${exp}`).digest('base64url');
  }

  /** Query string for the download route: key, expiry (unix s) and signature. */
  mint(key: string, ttlSec: number, nowMs = Date.now()): { query: string; expiresAt: number } {
    const exp = Math.floor(nowMs / 1000) + Math.max(1, Math.round(ttlSec));
    return { query: new URLSearchParams({ key, exp: String(exp), sig: this.mac(key, exp) }).toString(), expiresAt: exp * 1000 };
  }

  check(key: string, exp: number, sig: string, nowMs = Date.now()): 'ok' | 'expired' | 'bad signature' {
    const want = Buffer.from(this.mac(key, exp));
    const got = Buffer.from(sig);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return 'bad signature';
    return nowMs / 1000 > exp ? 'expired' : 'ok';
  }
}
