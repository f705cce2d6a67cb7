/**
 * `--log-format pretty`: pino's JSON lines as lines for people, through the
 * CLI's logger (redaction still applies), errors with their stack.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/pino-logger.js';
import { prettyLine } from '../../src/observability/pretty-lines.js';

describe('pretty log lines', () => {
  it('time, level, message, then the fields; pid and hostname left out; secrets still redacted', () => {
    const lines: string[] = [];
    const logger = createLogger({ format: 'pretty', base: { role: 'worker' }, destination: { write: (text: string) => void lines.push(text) } });
    logger.info({ queues: ['deploy', 'mail'], concurrency: 16, url: 'amqp://u:secret@host', note: 'two words' }, 'worker started');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}worker started role=worker queues=\["deploy","mail"\] concurrency=16 url=\[redacted\] note="two words"\n$/);
    expect(lines[0]).not.toContain('secret');
    expect(lines[0]).not.toContain('pid=');
  });

  it('an error field prints its stack below the line; a line that is not JSON is kept', () => {
    const error = new Error('broker gone');
    const line = prettyLine(JSON.stringify({ level: 50, time: Date.UTC(2026, 0, 1, 12, 4, 5, 123), msg: 'lost the connection', err: { message: error.message, stack: error.stack } }));
    expect(line.split('\n')[0]).toBe('12:04:05.123 ERROR lost the connection');
    expect(line).toContain('\n  Error: broker gone\n      at ');
    expect(prettyLine('not json')).toBe('not json\n');
  });
});
