/** @packageDocumentation The database's clock. */

/** No parameters. The database's time (epoch ms), one clock for every outbox poller. */
export const clock = (): string => `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now`;
