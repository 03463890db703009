// The case life cycle: states, the transitions the case store allows, and the ones an operator may
// ask for through POST /v1/cases/:id/status. No imports: the operator console bundles this module
// (one source of truth for the store, the status route and the console's action buttons).
export const CASE_STATES = ['new', 'dispatched', 'handled', 'verified', 'reopened', 'closed', 'rejected'] as const;
export type CaseState = (typeof CASE_STATES)[number];

/**
 * Allowed transitions. `rejected` = false positive; kept (not deleted) so thresholds can be tuned
 * against it. `handled` only leads to verified/reopened: the camera decides, not the operator.
 */
export const CASE_TRANSITIONS: Readonly<Record<CaseState, readonly CaseState[]>> = {
  new: ['dispatched', 'rejected'],
  dispatched: ['handled', 'rejected'],
  handled: ['verified', 'reopened'],
  verified: ['closed'],
  reopened: ['dispatched', 'handled', 'rejected'],
  closed: [],
  rejected: [],
};

/** Non-terminal states: every state the life cycle can still leave (a camera's "open cases"). */
export const OPEN_STATES: readonly CaseState[] = CASE_STATES.filter((s) => CASE_TRANSITIONS[s].length > 0);

/** What POST /v1/cases/:id/status accepts (verified/reopened are the camera's verification). */
export const STATUS_UPDATES = ['dispatched', 'handled', 'closed', 'rejected'] as const;

/** The status updates an operator may ask for from a case in state `from` (none for an unknown state). */
export function allowedUpdates(from: string): string[] {
  const next: readonly string[] = CASE_TRANSITIONS[from as CaseState] ?? [];
  return STATUS_UPDATES.filter((s) => next.includes(s));
}
