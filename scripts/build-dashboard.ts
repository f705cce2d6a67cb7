/**
 * `npm run build`, after tsc: bundles the dashboard page into
 * `dist/dashboard/assets/` (shipped in the package; the server serves them).
 * Prints each asset's size.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDashboardAssets } from '../src/dashboard/build.js';

const out = join(import.meta.dirname, '..', 'dist', 'dashboard', 'assets');
await mkdir(out, { recursive: true });
for (const [name, asset] of await buildDashboardAssets()) {
  await writeFile(join(out, name), asset.body);
  console.log(`dist/dashboard/assets/${name}  ${(asset.body.byteLength / 1024).toFixed(1)} KiB`);
}
