/** @packageDocumentation The in-process transport adapter. */
export { InProcessTransport } from './inprocess-transport.js';
