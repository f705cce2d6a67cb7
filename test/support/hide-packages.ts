/**
 * Makes installed packages look absent to a subprocess, as for a user who did
 * not install an optional dependency: `NODE_OPTIONS` preloading a module that
 * fails every resolution of those names, by `import` (a loader hook) and by
 * `require` (CommonJS resolution), with the errors Node gives for a package
 * that is not there.
 */

/** The resolve hook, run on Node's loader thread; `initialize` receives the names. */
const HOOKS = `
let hidden = new Set();
export function initialize(names) { hidden = new Set(names); }
export async function resolve(specifier, context, next) {
  if (hidden.has(specifier)) throw Object.assign(new Error("Cannot find package '" + specifier + "' (hidden by the test)"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}`;

/** The preloaded module: registers the hook and wraps CommonJS resolution. */
const preload = (names: string[]): string => `
import Module, { register } from 'node:module';
const hidden = new Set(${JSON.stringify(names)});
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)}, { data: [...hidden] });
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.has(request)) throw Object.assign(new Error("Cannot find module '" + request + "' (hidden by the test)"), { code: 'MODULE_NOT_FOUND' });
  return resolveFilename.call(this, request, ...rest);
};`;

/** The environment under which a Node subprocess cannot load `names` (its `NODE_OPTIONS`). */
export function hidePackages(names: string[]): Record<string, string> {
  return { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(preload(names))}` };
}
