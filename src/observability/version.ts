/**
 * The package's version, as the CLI prints it and workers report it in their
 * heartbeats.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package's version, from its package.json (two folders up from `src/observability/` and from `dist/observability/`); read once. */
export function packageVersion(): string {
  return (cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
}
