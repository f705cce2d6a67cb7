/**
 * The plain-data types that cross the store and the bus.
 *
 * @packageDocumentation
 */

/** A JSON value: what the engine stores and what crosses the bus. */
export type Json = null | boolean | number | string | Json[] | JsonObject;

/** A JSON object. */
export interface JsonObject {
  [key: string]: Json;
}
