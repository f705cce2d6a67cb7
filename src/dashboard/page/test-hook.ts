/**
 * `window.__taskwire`: what browser tests and the benchmark read of a canvas
 * they cannot look into: a node's shown state, where a node is on the page (to
 * click it), and when the graph was first drawn and interactive.
 *
 * @packageDocumentation
 */
import type { ShownState } from './graph/palette.js';

/** The hook's shape. */
export interface TestHook {
  /** The state the open run's node is shown in, if the node is on the graph. */
  nodeState(id: string): ShownState | undefined;
  /** Where the node's center is on the graph shown (client pixels), to click it; undefined when that graph lacks it. */
  nodePoint(id: string): { x: number; y: number } | undefined;
  /** `performance.now()` when the open run's graph was first drawn and accepted input. */
  graphReadyAt?: number;
  /** How long the open run's first layout took (ms). */
  layoutMs?: number;
}

declare global {
  interface Window {
    /** See {@link TestHook}. */
    __taskwire?: TestHook;
  }
}

/** Installs (or replaces) the hook. */
export function setTestHook(hook: TestHook | undefined): void {
  window.__taskwire = hook;
}
