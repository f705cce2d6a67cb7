/**
 * The page's static assets: the built ones shipped in the package
 * (`dist/dashboard/assets/`), else built in memory on first request from the
 * sources with `buildDashboardAssets()` (`src/dashboard/build.ts`; esbuild is a
 * dev dependency, so only in a development checkout), else a placeholder page
 * saying how to build them.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One asset: its bytes and content type. */
export interface Asset {
  /** The bytes. */
  body: Uint8Array;
  /** The `Content-Type`. */
  type: string;
}

/** Where the assets are looked up and built from. */
export type AssetSource = () => Promise<Map<string, Asset>>;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** The built assets' folder: `<package root>/dist/dashboard/assets` (this file is `src/dashboard/server/` or `dist/dashboard/server/`). */
export const BUILT_ASSETS_DIR = fileURLToPath(new URL('../../../dist/dashboard/assets/', import.meta.url));

/** The page served when the assets are neither built nor buildable. */
const PLACEHOLDER = `<!doctype html><html><head><meta charset="utf-8"><title>taskwire dashboard</title></head>
<body><h1>taskwire dashboard</h1><p>The page's assets are not built: run <code>npm run build</code>.
The API answers under <code>/api</code> (docs/dashboard.md).</p></body></html>`;

/** Reads every file of a folder as assets, by file name. */
async function readAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const name of await readdir(dir)) {
    assets.set(name, { body: await readFile(join(dir, name)), type: TYPES[extname(name)] ?? 'application/octet-stream' });
  }
  return assets;
}

/** The signature of `src/dashboard/build.ts`, imported only when there are no built assets. */
interface AssetBuilder {
  buildDashboardAssets: () => Promise<Map<string, Asset>>;
}

/** Builds the assets from the sources; undefined when that cannot be done here (no builder, no esbuild). */
async function buildFromSources(onError: (error: unknown) => void): Promise<Map<string, Asset> | undefined> {
  // A computed specifier: the builder (and esbuild with it) is loaded only here, never by the server's own imports.
  const builder = '../build.js';
  try {
    const { buildDashboardAssets } = (await import(builder)) as AssetBuilder;
    return await buildDashboardAssets();
  } catch (error) {
    onError(error);
    return undefined;
  }
}

/**
 * The package's asset source: the built folder when it exists, else an
 * in-memory build, else the placeholder page. Resolved once, at the first call.
 */
export function packageAssets(options: { dir?: string; onBuildError?: (error: unknown) => void } = {}): AssetSource {
  const dir = options.dir ?? BUILT_ASSETS_DIR;
  let loading: Promise<Map<string, Asset>> | undefined;
  return () =>
    (loading ??= (async () => {
      if (existsSync(join(dir, 'index.html'))) return readAssets(dir);
      const built = await buildFromSources(options.onBuildError ?? (() => undefined));
      return built ?? new Map([['index.html', { body: new TextEncoder().encode(PLACEHOLDER), type: TYPES['.html'] as string }]]);
    })());
}
