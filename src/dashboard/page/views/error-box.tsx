/**
 * An error as the server or the engine gave it: code, message, the nodes it names.
 *
 * @packageDocumentation
 */
import type { ApiError } from '../api.js';

/** Shows `error` (nothing when undefined). */
export function ErrorBox({ error }: { error: ApiError | undefined }) {
  if (error === undefined) return null;
  return (
    <div class="error" role="alert" data-code={error.code}>
      <code>{error.code}</code> {error.message}
      {error.nodes.length > 0 && (
        <div class="error-nodes">
          nodes: {error.nodes.map((n) => <code key={n}>{n}</code>)}
        </div>
      )}
    </div>
  );
}
