/** @packageDocumentation The memory store adapter. */
export { MemoryStore } from './memory-store.js';
