// The console bundles the server's case life cycle (infra/stores/case-states.ts): the action buttons
// it offers are the status updates the route accepts that the state allows.
import { describe, expect, it } from 'vitest';
import { allowedUpdates } from '../../api/console/src/case-states.js';

describe('console case states', () => {
  it('offer only the updates the state allows', () => {
    expect(allowedUpdates('new')).toEqual(['dispatched', 'rejected']);
    expect(allowedUpdates('dispatched')).toEqual(['handled', 'rejected']);
    expect(allowedUpdates('handled')).toEqual([]);
    expect(allowedUpdates('verified')).toEqual(['closed']);
    expect(allowedUpdates('closed')).toEqual([]);
    expect(allowedUpdates('no-such-state')).toEqual([]);
  });
});
