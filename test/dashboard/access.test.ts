/**
 * The dashboard's access rules over real HTTP: a token on every API request,
 * operators only for changes, no cross-site POST, no secrets in answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBody } from '../../src/dashboard/server/http-errors.js';
import { StoreError } from '../../src/errors.js';
import { errorCode, json, OPERATOR, testDashboard, VIEWER, type TestDashboard } from './serve.js';

describe('dashboard access', () => {
  let dash: TestDashboard;
  beforeAll(async () => {
    dash = await testDashboard();
  });
  afterAll(async () => dash.close());

  it('answers /api/me with the token\'s name and role, the store and transport kinds and the version', async () => {
    const me = await json(await dash.call('/api/me'));
    expect(me).toMatchObject({ name: 'alice', role: 'operator', store: 'memory', transport: 'inprocess' });
    expect(typeof me.version).toBe('string');
    expect(await json(await dash.call('/api/me', { token: VIEWER }))).toMatchObject({ name: 'bob', role: 'viewer' });
  });

  it('refuses an API request without a token or with an unknown one: 401 with the error shape', async () => {
    for (const token of [null, 'not-a-token-at-all-1234']) {
      const response = await dash.call('/api/me', { token });
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe('TW_UNAUTHORIZED');
    }
    const basic = await dash.call('/api/runs', { token: null, headers: { authorization: `Basic ${OPERATOR}` } });
    expect(basic.status).toBe(401);
  });

  it('serves the page without a token (it holds no data), never in a frame, its own scripts only', async () => {
    const page = await dash.call('/', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const response = await dash.post('/api/notify', { event: 'e', payload: { big: 'x'.repeat(1024 * 1024) } });
    expect(response.status).toBe(413);
    expect(await errorCode(response)).toBe('TW_TOO_LARGE');
  });

  it('answers an unknown API path with 404 TW_NOT_FOUND, after the token check', async () => {
    expect((await dash.call('/api/nothing', { token: null })).status).toBe(401);
    const response = await dash.call('/api/nothing');
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('TW_NOT_FOUND');
  });

  it('sends no connection URL: /api/me holds only name, role, kinds and version; error messages are scrubbed of passwords', async () => {
    expect(Object.keys(await json(await dash.call('/api/me'))).sort()).toEqual(['name', 'role', 'store', 'transport', 'version']);
    const url = 'postgres://taskwire:S3cret%40pw@db.internal:5432/tw';
    const body = errorBody(new StoreError(`cannot reach ${url} (password S3cret@pw refused)`), [url]);
    expect(body.error.code).toBe('TW_STORE');
    expect(body.error.message).not.toContain('S3cret');
    expect(body.error.message).toContain('db.internal');
  });
});
