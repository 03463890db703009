// Case states and the updates an operator may ask for: the server's own pure module (no I/O), so
// the queue offers exactly the actions the API accepts. The API stays the judge (409 otherwise).
export { allowedUpdates, CASE_STATES, type CaseState } from '../../../infra/stores/case-states.js';
