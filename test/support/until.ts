/**
 * Waiting for a condition in tests that talk to real services (RabbitMQ,
 * PostgreSQL): poll until true, with a generous timeout, never a fixed sleep.
 */

/**
 * Polls `probe` every 25 ms until it returns something other than `undefined`
 * or `false`, and returns that; throws naming `what` after `timeoutMs`.
 */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
