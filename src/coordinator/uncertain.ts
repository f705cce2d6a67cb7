/**
 * Steps whose commit had an unknown outcome: the store call failed, perhaps
 * after the transaction was written (the connection dropped during COMMIT).
 * Their events are stepped again on a fresh load, where event ids make client
 * events no-ops and signals are duplicates; but if the step was written, its
 * commands (dispatches, retries) must still be carried out once, or the nodes
 * it started would stay `running` with nothing executing them (with an outbox
 * the poller would publish them, late; without one nothing would).
 *
 * @packageDocumentation
 */
import type { LiveRun, StepOutput } from '../engine/index.js';
import type { Store } from '../store/port.js';

/** A step whose commit failed: written or not, to be found out on the next load. */
export interface UncertainStep {
  /** The run as stepped (its `rev` is the revision the commit would have written). */
  live: LiveRun;
  /** What the step produced. */
  out: StepOutput;
  /** Found out already (by an earlier batch). */
  settled: boolean;
}

/**
 * Which of `steps` were written after all, judged against the freshly loaded
 * `runs`: a run at or past the step's revision whose history holds the step's
 * first entry (same sequence number, time, type and execution). Marks them all
 * settled, once every history read succeeded (a failed read throws, and they
 * are found out on a later try).
 */
export async function writtenSteps(steps: Iterable<UncertainStep>, runs: ReadonlyMap<string, LiveRun>, store: Store): Promise<UncertainStep[]> {
  const open = [...steps].filter((step) => !step.settled);
  const written: UncertainStep[] = [];
  await Promise.all(
    open.map(async (step) => {
      const id = step.live.state.id;
      const fresh = runs.get(id);
      const first = step.out.history[0];
      if (fresh === undefined || first === undefined || fresh.state.rev < step.live.state.rev) return;
      const [stored] = await store.history(id, { after: first.seq - 1, limit: 1 });
      const same =
        stored !== undefined &&
        stored.seq === first.seq &&
        stored.at === first.at &&
        stored.type === first.type &&
        stored.node === first.node &&
        stored.attempt === first.attempt &&
        stored.activation === first.activation;
      if (same) written.push(step);
    }),
  );
  for (const step of open) step.settled = true;
  return written;
}
