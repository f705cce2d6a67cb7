/**
 * Errors as the dashboard API answers them: `{ error: { code, message, nodes? } }`
 * with an HTTP status chosen by the error's code, secrets scrubbed.
 *
 * @packageDocumentation
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { InvalidChangeError, TaskwireError, UnknownNodeError, ValidationError, type ErrorCode } from '../../errors.js';
import { scrubSecrets } from '../../observability/credentials.js';

/** The body of an error answer. */
export interface ErrorBody {
  /** The error. */
  error: {
    /** A stable `TW_` code. */
    code: string;
    /** What went wrong, without secrets. */
    message: string;
    /** The nodes a refused change or invalid flow is about. */
    nodes?: string[];
  };
}

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  TW_VALIDATION: 400,
  TW_CYCLE: 400,
  TW_UNKNOWN_TASK: 400,
  TW_UNKNOWN_NODE: 400,
  TW_INVALID_CHANGE: 400,
  TW_ENCODE: 400,
  TW_DECODE: 400,
  TW_CONFIG: 400,
  TW_TOO_LARGE: 413,
  TW_UNAUTHORIZED: 401,
  TW_FORBIDDEN: 403,
  TW_NOT_FOUND: 404,
  TW_UNKNOWN_RUN: 404,
  TW_CONFLICT: 409,
  TW_TIMEOUT: 504,
  TW_PARTIAL: 502,
};

/** The HTTP status of an error: by its code; 500 for anything else. */
export function statusOf(error: unknown): ContentfulStatusCode {
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' ? STATUS[code as ErrorCode] : undefined) ?? 500;
}

/** The error body of `error`, with every secret of `secrets` (connection URLs) scrubbed from its message. */
export function errorBody(error: unknown, secrets: readonly string[]): ErrorBody {
  const code = error instanceof TaskwireError || typeof (error as { code?: unknown }).code === 'string' ? String((error as { code: string }).code) : 'TW_INTERNAL';
  let message = error instanceof Error ? error.message : String(error);
  for (const url of secrets) message = scrubSecrets(message, url);
  const body: ErrorBody = { error: { code: code.startsWith('TW_') ? code : 'TW_INTERNAL', message } };
  const nodes = nodesOf(error);
  if (nodes.length > 0) body.error.nodes = nodes;
  return body;
}

/** The nodes an error is about: a validation's problems, an unknown node, the nodes a refused change's message names. */
function nodesOf(error: unknown): string[] {
  if (error instanceof ValidationError) return [...new Set(error.problems.flatMap((p) => p.nodes))];
  if (error instanceof UnknownNodeError) return [error.node];
  // The engine names the nodes of a refused change as `node "id"`, `event "id"` or `listen to "id"`.
  if (error instanceof InvalidChangeError) return [...new Set([...error.message.matchAll(/(?:node|event|listen to|listens to) "([^"]+)"/g)].map((m) => m[1] as string))];
  return [];
}
