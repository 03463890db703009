// The console's copy of the case state machine (it cannot bundle the store, which does I/O) must
// match the store's, or the queue would offer actions the API refuses (or hide allowed ones).
import { describe, expect, it } from 'vitest';
import {
  allowedUpdates,
  CASE_STATES as UI_STATES,
  CASE_TRANSITIONS as UI_TRANSITIONS,
  STATUS_UPDATES as UI_UPDATES,
} from '../../api/console/src/case-states.js';
import { STATUS_UPDATES } from '../../api/routes/cases.js';
import { CASE_STATES, CASE_TRANSITIONS } from '../../infra/stores/case-store.js';

describe('console case states', () => {
  it('match the case store and the status route', () => {
    expect(UI_STATES).toEqual(CASE_STATES);
    expect(UI_TRANSITIONS).toEqual(CASE_TRANSITIONS);
    expect(UI_UPDATES).toEqual(STATUS_UPDATES);
  });
  it('offer only the updates the state allows', () => {
    expect(allowedUpdates('new')).toEqual(['dispatched', 'rejected']);
    expect(allowedUpdates('dispatched')).toEqual(['handled', 'rejected']);
    expect(allowedUpdates('verified')).toEqual(['closed']);
    expect(allowedUpdates('closed')).toEqual([]);
    expect(allowedUpdates('no-such-state')).toEqual([]);
  });
});
