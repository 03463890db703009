// Notices (预警): the warning stage before any case. When the rules engine warns about an episode
// (warnAfterSec), a notice is opened with a grace period (graceSec) in which the subject may leave.
// If it leaves, the notice is resolved and no case ever exists; if the violation is confirmed, the
// notice is escalated and names the case. One notice per episode key (idempotent under replays).
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/db.js';

export const NOTICE_STATES = ['open', 'resolved', 'escalated'] as const;
export type NoticeState = (typeof NOTICE_STATES)[number];

export interface NoticeRecord {
  id: string;
  episodeKey: string;
  cameraId: string;
  classId: string;
  zoneId: string | null;
  state: NoticeState;
  createdAt: number;
  /** Until when the subject may leave without a case. */
  graceUntil: number;
  resolvedAt: number | null;
  caseId: string | null;
  /** Whatever the caller records (names, boxes, reason record of the warning). */
  details: Record<string, unknown>;
}

export interface OpenNoticeInput {
  episodeKey: string;
  cameraId: string;
  classId: string;
  zoneId: string | null;
  graceSec: number;
  details?: Record<string, unknown>;
  now?: number;
}

export function noticeIdFor(episodeKey: string): string {
  return `ntc_${createHash('sha1').update(episodeKey).digest('hex').slice(0, 20)}`;
}

type Row = {
  id: string;
  episode_key: string;
  camera_id: string;
  class_id: string;
  zone_id: string | null;
  state: NoticeState;
  created_at: number;
  grace_until: number;
  resolved_at: number | null;
  case_id: string | null;
  doc: Record<string, unknown>;
};
const toRecord = (r: Row): NoticeRecord => ({
  id: r.id,
  episodeKey: r.episode_key,
  cameraId: r.camera_id,
  classId: r.class_id,
  zoneId: r.zone_id,
  state: r.state,
  createdAt: Number(r.created_at),
  graceUntil: Number(r.grace_until),
  resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
  caseId: r.case_id,
  details: r.doc,
});

export class NoticeStore {
  constructor(private readonly db: Db) {}

  /** Opens the notice of an episode; a replay returns the existing one (`created: false`). */
  async open(input: OpenNoticeInput): Promise<{ notice: NoticeRecord; created: boolean }> {
    const now = input.now ?? Date.now();
    const id = noticeIdFor(input.episodeKey);
    const res = await sql`insert into notices (id, episode_key, camera_id, class_id, zone_id, state, created_at, grace_until, doc)
      values (${id}, ${input.episodeKey}, ${input.cameraId}, ${input.classId}, ${input.zoneId}, 'open', ${now}, ${now + input.graceSec * 1000}, ${JSON.stringify(input.details ?? {})}::jsonb)
      on conflict (episode_key) do nothing`.execute(this.db);
    return { notice: (await this.getByEpisode(input.episodeKey))!, created: Number(res.numAffectedRows ?? 0) > 0 };
  }

  async getByEpisode(episodeKey: string): Promise<NoticeRecord | null> {
    const { rows } = await sql<Row>`select * from notices where episode_key = ${episodeKey}`.execute(this.db);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The subject left within the grace period: resolved, no case. Only an open notice changes. */
  async resolve(episodeKey: string, now = Date.now()): Promise<NoticeRecord | null> {
    const { rows } =
      await sql<Row>`update notices set state = 'resolved', resolved_at = ${now} where episode_key = ${episodeKey} and state = 'open' returning *`.execute(
        this.db,
      );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The violation was confirmed: the notice names its case. Only an open notice changes. */
  async escalate(episodeKey: string, caseId: string, now = Date.now()): Promise<NoticeRecord | null> {
    const { rows } =
      await sql<Row>`update notices set state = 'escalated', resolved_at = ${now}, case_id = ${caseId} where episode_key = ${episodeKey} and state = 'open' returning *`.execute(
        this.db,
      );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(q: { state?: NoticeState; cameraId?: string; limit?: number } = {}): Promise<NoticeRecord[]> {
    const conds = [sql`true`];
    if (q.state) conds.push(sql`state = ${q.state}`);
    if (q.cameraId) conds.push(sql`camera_id = ${q.cameraId}`);
    const { rows } =
      await sql<Row>`select * from notices where ${sql.join(conds, sql` and `)} order by created_at desc, id desc limit ${Math.min(Math.max(q.limit ?? 50, 1), 500)}`.execute(
        this.db,
      );
    return rows.map(toRecord);
  }
}
