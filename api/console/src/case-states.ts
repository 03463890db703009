// Case states and the transitions an operator may ask for. Mirrors CASE_TRANSITIONS of
// workers/stores/case-store.ts (that module does I/O and cannot be bundled for the browser);
// test/console/case-states.test.ts fails if the two drift. The API stays the judge (409 otherwise).
export const CASE_STATES = ['new', 'dispatched', 'handled', 'verified', 'reopened', 'closed', 'rejected'] as const;
export type CaseState = (typeof CASE_STATES)[number];

export const CASE_TRANSITIONS: Readonly<Record<CaseState, readonly CaseState[]>> = {
  new: ['dispatched', 'rejected'],
  dispatched: ['handled', 'rejected'],
  handled: ['verified', 'reopened'],
  verified: ['closed'],
  reopened: ['dispatched', 'handled', 'rejected'],
  closed: [],
  rejected: [],
};

/** What POST /v1/cases/:id/status accepts (the rest are the camera's verification). */
export const STATUS_UPDATES = ['dispatched', 'handled', 'closed', 'rejected'] as const;

export function allowedUpdates(from: string): string[] {
  const next = CASE_TRANSITIONS[from as CaseState] ?? [];
  return STATUS_UPDATES.filter((s) => next.includes(s));
}
