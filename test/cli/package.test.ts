/**
 * What `npm pack` ships: the compiled package with the sources its source maps
 * point at, so that a stack trace through the installed package (with
 * `--enable-source-maps`, or `taskwire --debug`) names files that exist. Runs where
 * the package is built (`.ci/run` builds it and sets TEST_BUILT_CLI=1).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

  it('declares, as dependencies, every module its shipped type declarations import (their @types included)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string>; optionalDependencies: Record<string, string> };
    const declared = { ...manifest.dependencies, ...manifest.optionalDependencies };
    const declarations = (readdirSync(join(ROOT, 'dist'), { recursive: true }) as string[]).filter((path) => path.endsWith('.d.ts'));
    const imported = new Set<string>();
    for (const path of declarations) {
      const text = readFileSync(join(ROOT, 'dist', path), 'utf8');
      for (const [, specifier] of text.matchAll(/^(?:import|export)[^'"\n]*from '([^'.][^']*)'/gm)) {
        const name = (specifier as string).startsWith('@') ? (specifier as string).split('/').slice(0, 2).join('/') : (specifier as string).split('/')[0];
        if (!(name as string).startsWith('node:') && name !== manifest.name) imported.add(name as string);
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    // A module without types of its own needs its @types package installed with taskwire (a user's tsc reads our .d.ts files).
    const shipsTypes = (name: string): boolean => {
      const dir = join(ROOT, 'node_modules', name);
      const own = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { types?: string; typings?: string; exports?: unknown; main?: string };
      const beside = join(dir, (own.main ?? 'index.js').replace(/\.[cm]?js$/, '') + '.d.ts'); // TypeScript looks next to `main` too
      return own.types !== undefined || own.typings !== undefined || JSON.stringify(own.exports ?? {}).includes('"types"') || existsSync(beside);
    };
    const undeclared = [...imported].filter((name) => !(name in declared) || (!shipsTypes(name) && !(`@types/${name}` in manifest.dependencies)));
    expect(undeclared).toEqual([]);
  });
});
