/**
 * Dashboard tokens: who may use the dashboard, and as what role. From the
 * environment (`TASKWIRE_DASHBOARD_TOKEN`, `TASKWIRE_DASHBOARD_VIEWER_TOKEN`), a
 * JSON file, or generated at start.
 *
 * @packageDocumentation
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseJson } from '../../codec/parse.js';
import { ConfigError } from '../../errors.js';

/** What a token may do: `viewer` reads, `operator` reads and changes. */
export type DashboardRole = 'viewer' | 'operator';

/** A dashboard user: a bearer token, a name (the actor `dashboard:<name>` of the changes it makes) and a role. */
export interface DashboardToken {
  /** The secret sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Who it is. */
  name: string;
  /** What it may do. */
  role: DashboardRole;
}

/** The environment variable holding an operator token. */
export const OPERATOR_TOKEN_ENV = 'TASKWIRE_DASHBOARD_TOKEN';
/** The environment variable holding a viewer token. */
export const VIEWER_TOKEN_ENV = 'TASKWIRE_DASHBOARD_VIEWER_TOKEN';

const MIN_TOKEN_LENGTH = 16;
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

function checked(entry: unknown, where: string): DashboardToken {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`${where}: expected an object { token, name, role }`);
  const { token, name, role } = entry as Record<string, unknown>;
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) throw new ConfigError(`${where}: "token" must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
  if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigError(`${where}: "name" must be 1 to 64 letters, digits or ._@-, got ${JSON.stringify(name)}`);
  if (role !== 'viewer' && role !== 'operator') throw new ConfigError(`${where}: "role" must be "viewer" or "operator", got ${JSON.stringify(role)}`);
  return { token, name, role };
}

/** Reads a tokens file: a JSON list of `{ token, name, role }`. Throws ConfigError naming the file and the entry at fault. */
export function readTokensFile(path: string): DashboardToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read --tokens ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let list: unknown;
  try {
    list = parseJson(text);
  } catch (error) {
    throw new ConfigError(`--tokens ${JSON.stringify(path)} is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(list)) throw new ConfigError(`--tokens ${JSON.stringify(path)}: expected a JSON list of { token, name, role }`);
  return list.map((entry, i) => checked(entry, `--tokens ${JSON.stringify(path)} entry ${i}`));
}

/** The tokens of the environment: an operator named `operator`, a viewer named `viewer`. */
export function environmentTokens(env: NodeJS.ProcessEnv = process.env): DashboardToken[] {
  const tokens: DashboardToken[] = [];
  const operator = env[OPERATOR_TOKEN_ENV] ?? '';
  const viewer = env[VIEWER_TOKEN_ENV] ?? '';
  if (operator !== '') tokens.push(checked({ token: operator, name: 'operator', role: 'operator' }, OPERATOR_TOKEN_ENV));
  if (viewer !== '') tokens.push(checked({ token: viewer, name: 'viewer', role: 'viewer' }, VIEWER_TOKEN_ENV));
  return tokens;
}

/** A random operator token (when none is configured): 32 bytes, URL-safe. */
export function generateToken(): DashboardToken {
  return { token: randomBytes(32).toString('base64url'), name: 'operator', role: 'operator' };
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Finds the user of a bearer token, comparing digests in constant time. */
export class TokenTable {
  private readonly entries: { digest: Buffer; user: DashboardToken }[];

  constructor(tokens: readonly DashboardToken[]) {
    if (tokens.length === 0) throw new ConfigError('the dashboard needs at least one token');
    const names = new Set<string>();
    for (const t of tokens) {
      if (names.has(t.name)) throw new ConfigError(`dashboard token name "${t.name}" is given twice`);
      names.add(t.name);
    }
    this.entries = tokens.map((user) => ({ digest: digest(user.token), user }));
  }

  /** The user whose token is `token`, or undefined. */
  find(token: string): DashboardToken | undefined {
    const presented = digest(token);
    let found: DashboardToken | undefined;
    // Every entry is compared, so the time taken does not tell which one matched.
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, presented)) found = entry.user;
    return found;
  }
}
