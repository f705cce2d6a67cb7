/**
 * Reading the API's query strings and bodies, refusing bad ones with
 * `TW_VALIDATION` (HTTP 400) naming the parameter.
 *
 * @packageDocumentation
 */
import { RUN_STATUSES, type RunStatus } from '../../engine/state.js';
import { TaskwireError } from '../../errors.js';
import type { RunCursor } from '../../store/port.js';

/** A bad request: a parameter or body field that is not what the API takes. */
export class BadRequestError extends TaskwireError {
  constructor(message: string) {
    super('TW_VALIDATION', message);
  }
}

/** An integer parameter within `[min, max]`, or `fallback` when absent. */
export function intParam(value: string | undefined, name: string, min: number, max: number, fallback?: number): number | undefined {
  if (value === undefined || value === '') return fallback;
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadRequestError(`${name} expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** A comma-separated list of run statuses. */
export function statusParam(value: string | undefined): RunStatus[] | undefined {
  if (value === undefined || value === '') return undefined;
  const list = value.split(',').filter((s) => s !== '');
  for (const status of list) if (!(RUN_STATUSES as readonly string[]).includes(status)) throw new BadRequestError(`status expected some of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  return list as RunStatus[];
}

/** The opaque cursor of a run listing page: its last run. */
export function encodeCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

/** Reads a cursor {@link encodeCursor} made. */
export function decodeCursor(value: string | undefined): RunCursor | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && Number.isSafeInteger(createdAt) && typeof id === 'string') return { createdAt, id };
  } catch {
    // refused below
  }
  throw new BadRequestError('cursor is not one this API gave');
}

/** The JSON body of a request, an object. */
export async function objectBody(request: { json: () => Promise<unknown> }): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new BadRequestError('the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A body field that must be a non-empty list. */
export function listField(body: Record<string, unknown>, name: string): unknown[] {
  const value = body[name];
  if (!Array.isArray(value) || value.length === 0) throw new BadRequestError(`"${name}" must be a non-empty list`);
  return value;
}
