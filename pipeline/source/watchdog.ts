// Stall judgement for the ffmpeg watchdogs (frame source and recorder), kept pure so its cases are
// unit-tested. A watchdog runs on node's event loop: when node itself was starved (an overloaded
// host, a long synchronous step), its timer fires late, and ffmpeg, blocked on a pipe node did not
// read, made no progress through no fault of the camera. Killing it then opens a new connection to
// the camera and costs a probe and a start-up, making the overload worse (restart storms). So a late
// timer only re-arms: the camera is judged on a window in which node was responsive.

export type StallVerdict = 'ok' | 'stalled' | 'node-lagging';

export interface StallCheck {
  /** Epoch ms now (when the timer callback ran). */
  now: number;
  /** Epoch ms the timer was due. */
  dueAt: number;
  /** Epoch ms of ffmpeg's last progress (bytes of a frame, a frame's info line, a segment). */
  lastProgressAt: number;
  /** No progress for this long means stalled. */
  timeoutMs: number;
  /** A timer later than this (ms) means node was held up; default 1000. */
  maxLateMs?: number;
}

/** 'ok': progress within the timeout; 'node-lagging': the timer ran late, re-arm; else 'stalled'. */
export function stallVerdict(c: StallCheck): StallVerdict {
  if (c.now - c.lastProgressAt <= c.timeoutMs) return 'ok';
  if (c.now - c.dueAt > (c.maxLateMs ?? 1000)) return 'node-lagging';
  return 'stalled';
}
