/**
 * The deployment check of `connect()`: combinations of broker and store that
 * cannot work are refused before anything connects.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import type { Store } from '../store/port.js';

/** What {@link checkDeployment} judges: how one process of a deployment is wired. */
export interface Deployment {
  /** Whether a broker is given: workers and coordinators may be other processes. */
  distributed: boolean;
  /** The store this process opened (only its `kind` and whether it has `tryLock` matter). */
  store: Pick<Store, 'kind' | 'tryLock'>;
  /** Whether the broker came from the `broker` option (else from `TASKWIRE_BROKER_URL`), for the message. */
  brokerFromOption: boolean;
}

/**
 * Throws a {@link ConfigError} (`TW_CONFIG`) when the deployment is distributed
 * and its store is one only this process can see (memory, SQLite: no
 * `tryLock`): every process would step runs in its own store, and the runs a
 * client starts would stay `running` for ever.
 */
export function checkDeployment({ distributed, store, brokerFromOption }: Deployment): void {
  if (!distributed || store.tryLock !== undefined) return;
  const from = brokerFromOption ? 'a broker is given' : 'TASKWIRE_BROKER_URL is set';
  throw new ConfigError(
    `${from} (distributed mode), but the store is ${store.kind}, which only this process can see: nothing would coordinate the runs. ` +
      'Use a PostgreSQL store (store: "postgres://..." or TASKWIRE_STORE_URL), or unset TASKWIRE_BROKER_URL to run embedded.',
  );
}
