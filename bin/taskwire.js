#!/usr/bin/env node
// The installed command runs the compiled CLI; in a checkout without dist/, it runs the sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(fileURLToPath(compiled))) {
  const { main } = await import(compiled.href);
  await main(process.argv);
} else {
  const { tsImport } = await import('tsx/esm/api');
  const { main } = await tsImport(new URL('../src/cli/main.ts', import.meta.url).href, import.meta.url);
  await main(process.argv);
}
