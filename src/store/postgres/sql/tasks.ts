/** @packageDocumentation Reading the task catalog. */

/** No parameters. */
export const tasks = (s: string): string => `
SELECT data FROM ${s}.tasks ORDER BY name COLLATE "C"`;
