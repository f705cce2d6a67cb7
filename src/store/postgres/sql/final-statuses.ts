/** @packageDocumentation The final run statuses as an SQL list. */
import { FINAL_STATUSES } from '../../port.js';

/**
 * `'succeeded', 'rolled_back', 'cancelled'`: literals, not a parameter, so that
 * the planner can use the partial index `runs_live_idx` (whose predicate lists
 * the same statuses).
 */
export const finalStatusList = (): string => FINAL_STATUSES.map((status) => `'${status}'`).join(', ');
