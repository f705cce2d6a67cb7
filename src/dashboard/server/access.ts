/**
 * Access control of the dashboard API: a known bearer token on every `/api`
 * request; on a POST, the operator role, a JSON body and no foreign `Origin`.
 *
 * @packageDocumentation
 */
import type { MiddlewareHandler } from 'hono';
import { ForbiddenError, TaskwireError, UnauthorizedError } from '../../errors.js';
import type { DashboardToken, TokenTable } from './tokens.js';

/** The variables the access check sets on a request's context. */
export interface AccessVariables {
  /** The token's user. */
  user: DashboardToken;
}

/** Why a POST whose body is not declared JSON is refused (HTTP 415): an HTML form cannot send `application/json`. */
export class NotJsonError extends TaskwireError {
  constructor() {
    super('TW_VALIDATION', 'a POST must have Content-Type: application/json');
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Checks a request to `/api`: the token (401), then for a POST the role (403),
 * the origin (403) and the content type (415), in that order. Throws; the app's
 * error handler answers.
 */
export function accessCheck(tokens: TokenTable): MiddlewareHandler<{ Variables: AccessVariables }> {
  return async (c, next) => {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    const user = match === null ? undefined : tokens.find(match[1] as string);
    if (user === undefined) throw new UnauthorizedError(match === null ? undefined : 'unknown dashboard token');
    c.set('user', user);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (user.role !== 'operator') throw new ForbiddenError(`"${user.name}" is a viewer: changes need an operator token`);
      const origin = c.req.header('origin');
      const own = new URL(c.req.url).origin;
      if (origin !== undefined && origin !== own) throw new ForbiddenError(`cross-site request refused: Origin ${origin} is not ${own}`);
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') throw new NotJsonError();
    }
    await next();
  };
}
