/** @packageDocumentation The in-process transport adapter. */
export { ANY_QUEUE, InProcessTransport } from './inprocess-transport.js';
