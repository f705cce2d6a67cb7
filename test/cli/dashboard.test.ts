/**
 * `taskwire dashboard` as a subprocess: it prints its URL, answers /api/me with
 * the token it was given and refuses a request without one, and a generated
 * token when none is given; SIGTERM stops it cleanly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sandbox, startTaskwire, type Sandbox } from './helpers.js';

const TOKEN = 'cli-operator-token-0123456789';

describe('taskwire dashboard', () => {
  let box: Sandbox;
  afterEach(() => box.remove());

  it('prints its URL, answers with the token, refuses without; a signal stops it with code 0', async () => {
    box = sandbox();
    const running = startTaskwire(['dashboard', '--port', '0', '--store', box.store, '--log-format', 'json'], { cwd: box.dir, env: { TASKWIRE_DASHBOARD_TOKEN: TOKEN } });
    await running.waitFor(/dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\/(\S*)/.exec(running.output().stdout)!;
    expect(url[2]).toBe(''); // a configured token is not printed
    const me = await fetch(`${url[1]}/api/me`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await me.json()).toMatchObject({ name: 'operator', role: 'operator', store: 'sqlite', transport: 'inprocess' });
    expect((await fetch(`${url[1]}/api/me`)).status).toBe(401);
    running.child.kill('SIGTERM');
    expect((await running.result).code).toBe(0);
  });

  it('generates an operator token when none is configured and prints it in the URL', async () => {
    box = sandbox();
    const running = startTaskwire(['dashboard', '--port', '0', '--store', box.store, '--log-format', 'json'], { cwd: box.dir });
    await running.waitFor(/#token=\S+/);
    const [, base, token] = /dashboard: (\S+)\/#token=(\S+)/.exec(running.output().stdout)!;
    expect((await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    running.child.kill('SIGINT');
    expect((await running.result).code).toBe(0);
  });
});
