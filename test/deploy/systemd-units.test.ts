/**
 * The systemd units of deploy/ work as written: each unit's ExecStart runs, with
 * the example environment file (services, names and paths pointed at this
 * machine's), until "ready", then drains on the unit's KillSignal and exits 0
 * within its TimeoutStopSec; and `systemd-analyze verify` accepts the units
 * where it is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/helpers.js';
import { dropTestSpace, requirePostgres, requireRabbit, servicesSkipped } from '../support/services.js';

/** A unit file's `[Service]` settings (the last value of each key). */
function serviceSettings(file: string): Record<string, string> {
  const settings: Record<string, string> = {};
  let section = '';
  for (const line of readFileSync(join(ROOT, 'deploy', file), 'utf8').split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line.trim());
    if (header !== null) section = header[1] ?? '';
    const setting = /^(\w+)=(.*)$/.exec(line);
    if (section === 'Service' && setting !== null) settings[setting[1] ?? ''] = setting[2] ?? '';
  }
  return settings;
}

/** An environment file's variables (`KEY=value` lines, `#` comments). */
function environmentFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(ROOT, 'deploy', file), 'utf8').split('\n')) {
    const entry = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (entry !== null) env[entry[1] ?? ''] = entry[2] ?? '';
  }
  return env;
}

/** The application directory of the units, with taskwire "installed" (a link to this checkout). */
function appDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-deploy-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/taskwire'));
  return dir;
}

const UNITS = ['taskwire-worker.service', 'taskwire-coordinator.service'];
const app = appDirectory();
/** The units' paths and ports, as on this machine. */
const local = (text: string): string => text.replaceAll('/opt/myapp', app).replaceAll('/usr/bin/node', process.execPath).replace(/^946\d$/, '0');

afterAll(() => rmSync(app, { recursive: true, force: true }));

describe('the systemd units', () => {
  it.each(UNITS)('%s: runs the package bin with node, stops with SIGTERM to it alone, from the example environment file', (unit) => {
    const service = serviceSettings(unit);
    expect(service['ExecStart']).toMatch(/^\/usr\/bin\/node \/opt\/myapp\/node_modules\/taskwire\/bin\/taskwire\.js (worker|coordinator)\b/);
    expect(service['ExecStart']).not.toMatch(/npx|npm/);
    expect(service).toMatchObject({ KillSignal: 'SIGTERM', KillMode: 'mixed', EnvironmentFile: '/etc/taskwire/taskwire.env', WorkingDirectory: '/opt/myapp' });
  });

  it('the worker has time to drain: TimeoutStopSec above the example shutdown grace', () => {
    const grace = Number(environmentFile('taskwire.env.example')['TASKWIRE_SHUTDOWN_GRACE_MS']);
    expect(Number(serviceSettings('taskwire-worker.service')['TimeoutStopSec']) * 1000).toBeGreaterThan(grace + 10_000);
  });

  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  it.skipIf(!analyze)('pass `systemd-analyze verify` (paths made local)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskwire-units-'));
    try {
      const files = UNITS.map((unit) => {
        const text = readFileSync(join(ROOT, 'deploy', unit), 'utf8').split('\n').map(local).join('\n');
        const path = join(dir, unit);
        writeFileSync(path, text.replace('/etc/taskwire/taskwire.env', join(ROOT, 'deploy/taskwire.env.example')).replace(/^User=.*\n^Group=.*\n/m, ''));
        return path;
      });
      const verify = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
      expect(verify.status, verify.stderr).toBe(0);
      expect(verify.stderr.split('\n').filter((line) => line.includes('taskwire-'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(servicesSkipped())('the units ExecStart, run as systemd would', () => {
  const suffix = randomUUID().slice(0, 8);
  const space = { prefix: `twdeploy-${suffix}`, schema: `tw_deploy_${suffix}` };
  afterAll(() => dropTestSpace(space));

  it.each(UNITS)('%s: ready, then SIGTERM: drains and exits 0 within TimeoutStopSec', { timeout: 120_000 }, async (unit) => {
    const service = serviceSettings(unit);
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    for (const [key, value] of Object.entries(environmentFile('taskwire.env.example'))) env[key] = local(value);
    Object.assign(env, { TASKWIRE_BROKER_URL: await requireRabbit(), TASKWIRE_STORE_URL: await requirePostgres(), TASKWIRE_PREFIX: space.prefix, TASKWIRE_SCHEMA: space.schema, TASKWIRE_TASKS: join(ROOT, 'examples/seed.ts') });
    const [command = '', ...args] = (service['ExecStart'] ?? '').split(' ').map(local);
    const child = spawn(command, args, { cwd: local(service['WorkingDirectory'] ?? ''), env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, signal) => done({ code, signal })));
    await new Promise<void>((ready, fail) => {
      child.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('"msg":"ready"')) ready();
      });
      void exited.then(() => fail(new Error(`${unit} exited before ready:\n${log}`)));
    });
    expect(log).toContain('"signing":true');
    const stopping = Date.now();
    child.kill(service['KillSignal'] as NodeJS.Signals);
    expect(await exited, log).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopping).toBeLessThan(Number(service['TimeoutStopSec']) * 1000);
    expect(log).toContain('"msg":"stopped"');
  });
});
