/**
 * What `npm pack` ships: the compiled package with the sources its source maps
 * point at, so that a stack trace through the installed package (with
 * `--enable-source-maps`, or `taskwire --debug`) names files that exist. Runs where
 * the package is built (`.ci/run` builds it and sets TEST_BUILT_CLI=1).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const built = existsSync(join(ROOT, 'dist/cli/main.js'));

describe.skipIf(!built)('the packed package', () => {
  it('ships every source file its source maps name, and the maps of its modules', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as [{ files: { path: string }[] }];
    const shipped = new Set(pack.files.map((f) => f.path));
    const maps = [...shipped].filter((path) => path.endsWith('.js.map'));
    expect(maps).toContain('dist/cli/main.js.map');
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const path = relative(ROOT, normalize(join(ROOT, dirname(map), source)));
        if (!shipped.has(path)) missing.push(`${map} -> ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
