/**
 * A fresh store for each test of a contract suite: made before each test by
 * the adapter's factory, closed and removed after it.
 */
import { afterEach, beforeEach } from 'vitest';
import type { Store } from '../../src/store/port.js';

/** Makes a fresh, empty store for one test, and what removes it afterwards. */
export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/** Registers, in the current `describe`, a fresh store per test, handed to `use` before each one. */
export function freshStore(factory: StoreFactory, use: (store: Store) => void): void {
  let made: Awaited<ReturnType<StoreFactory>> | undefined;
  beforeEach(async () => {
    made = await factory();
    use(made.store);
  });
  afterEach(async () => {
    await made?.store.close();
    await made?.cleanup();
    made = undefined;
  });
}
