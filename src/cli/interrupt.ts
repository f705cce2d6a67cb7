/**
 * Ctrl-C (SIGINT), SIGTERM and a closed standard output during `taskwire run`:
 * the first one resolves {@link Interrupt.signalled} (the command then stops
 * taking work, lets the tasks running now finish, and says what became of the
 * run); a second SIGINT or SIGTERM exits at once with 130.
 *
 * @packageDocumentation
 */
import { note } from './print.js';

/** What interrupted a command. */
export type InterruptCause = NodeJS.Signals | 'closed output';

/** Listens for the first interruption until {@link Interrupt.dispose}. */
export class Interrupt {
  /** How many are listening (the CLI's own handler of a closed output then leaves it to them). */
  static listening = 0;
  /** Resolves with the first interruption. */
  readonly signalled: Promise<InterruptCause>;
  private fire!: (cause: InterruptCause) => void;
  private fired = false;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.fired) {
      note(`taskwire: ${signal} again: exiting now`);
      process.exit(130);
    }
    this.trigger(signal);
  };
  private readonly onOutputError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') this.trigger('closed output');
  };

  constructor() {
    this.signalled = new Promise((resolve) => (this.fire = resolve));
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.stdout.prependListener('error', this.onOutputError);
    Interrupt.listening++;
  }

  /** Whether an interruption came. */
  get interrupted(): boolean {
    return this.fired;
  }

  /** Stops listening (signals get their default behaviour back). */
  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.stdout.off('error', this.onOutputError);
    Interrupt.listening--;
  }

  private trigger(cause: InterruptCause): void {
    if (this.fired) return;
    this.fired = true;
    this.fire(cause);
  }
}
