/**
 * `taskwire/testing`: helpers for testing flows and tasks.
 *
 * @packageDocumentation
 */
export { FakeClock } from './fake-clock.js';
