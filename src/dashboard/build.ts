/**
 * Builds the dashboard page's assets (index.html, app.js, app.css) from
 * `src/dashboard/page` with esbuild: at package build time
 * (`scripts/build-dashboard.ts` writes them to `dist/dashboard/assets/`) and,
 * in a development checkout without a build, by the server on first request.
 * esbuild is a devDependency: it is imported only when a build is asked for.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One built asset: its bytes and its content type. */
export interface DashboardAsset {
  /** The file's bytes. */
  body: Uint8Array;
  /** Its `Content-Type`. */
  type: string;
}

/** The package root: the nearest folder above this file holding a package.json (works from `src/` and from `dist/`). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/** The page's sources: `src/dashboard/page` of the package (shipped in the package). */
export function dashboardPageDir(): string {
  return join(packageRoot(), 'src', 'dashboard', 'page');
}

/**
 * Bundles the page (minified) and returns its assets by file name
 * (`index.html`, `app.js`, `app.css`). Rejects when esbuild is not installed
 * (a production install without the built assets) or the page does not build.
 */
export async function buildDashboardAssets(): Promise<Map<string, DashboardAsset>> {
  const esbuild = await import('esbuild');
  const pageDir = dashboardPageDir();
  const result = await esbuild.build({
    entryPoints: { app: join(pageDir, 'main.tsx') },
    bundle: true,
    minify: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: 'out',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const assets = new Map<string, DashboardAsset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    assets.set(name, { body: file.contents, type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8' });
  }
  const html = await readFile(join(pageDir, 'index.html'));
  assets.set('index.html', { body: new Uint8Array(html), type: 'text/html; charset=utf-8' });
  return assets;
}
