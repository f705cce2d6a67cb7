/**
 * Talking to the dashboard server: the token (taken once from `#token=` in the
 * address, kept in sessionStorage, sent as a bearer token on every request),
 * JSON requests whose errors become {@link ApiError}s, and the server-sent
 * history stream, read with fetch so the token travels in a header, never in a URL.
 *
 * @packageDocumentation
 */
import type { ApiErrorBody, HistoryEntry } from './api-types.js';

const TOKEN_KEY = 'taskwire.token';

/** Takes the token out of the address (`#token=...`) into sessionStorage, and returns the one kept. */
export function adoptToken(): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match !== null) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]!));
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** Keeps a token typed in by the user. */
export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** An error answered by the server (or a network failure: status 0, code `TW_NETWORK`). */
export class ApiError extends Error {
  /** The engine's or the server's error code. */
  readonly code: string;
  /** HTTP status. */
  readonly status: number;
  /** The nodes the error is about. */
  readonly nodes: string[];

  /** An error from its body and status. */
  constructor(body: ApiErrorBody, status: number) {
    super(body.message);
    this.name = 'ApiError';
    this.code = body.code;
    this.status = status;
    this.nodes = body.nodes ?? [];
  }
}

function headers(json: boolean): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const all: Record<string, string> = {};
  if (token !== null) all['Authorization'] = `Bearer ${token}`;
  if (json) all['Content-Type'] = 'application/json';
  return all;
}

async function request<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError({ code: 'TW_NETWORK', message: `cannot reach the dashboard server: ${String(error)}` }, 0);
  }
  const body = (await response.json().catch(() => undefined)) as { error?: ApiErrorBody } | undefined;
  if (!response.ok) throw new ApiError(body?.error ?? { code: 'TW_HTTP', message: `${response.status} ${response.statusText}` }, response.status);
  return body as T;
}

/** `GET` a JSON resource. */
export function get<T>(path: string): Promise<T> {
  return request<T>(path, { headers: headers(false) });
}

/** `POST` JSON, read JSON. */
export function post<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, { method: 'POST', headers: headers(true), body: JSON.stringify(body) });
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Follows `/api/stream?run=<run>` (a run id, or `*` for every run), calling
 * `onEntry` with each history entry, and `onOpen` each time it (re)connects
 * (entries may have been missed while it was away). Reconnects after a second
 * when cut; stops when `signal` aborts.
 */
export function followHistory(run: string, signal: AbortSignal, onEntry: (entry: HistoryEntry) => void, onOpen: () => void = () => {}): void {
  const connect = async (): Promise<void> => {
    const response = await fetch(`/api/stream${query({ run })}`, { headers: headers(false), signal });
    if (!response.ok || response.body === null) throw new Error(`stream: ${response.status}`);
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (data !== '' && /^event: ?history$/m.test(block)) onEntry(JSON.parse(data) as HistoryEntry);
      }
    }
  };
  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      await connect().catch(() => undefined);
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  };
  void loop();
}
