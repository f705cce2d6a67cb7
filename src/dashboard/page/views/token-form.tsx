/**
 * Asked when the server refuses the page's token (none given, or unknown):
 * the user pastes one.
 *
 * @packageDocumentation
 */
import { useState } from 'preact/hooks';
import type { ApiError } from '../api.js';

/** The token form; `onToken` gets what the user typed. */
export function TokenForm({ error, onToken }: { error: ApiError; onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="token-form"
      onSubmit={(e) => {
        e.preventDefault();
        onToken(token.trim());
      }}
    >
      <h1>taskwire dashboard</h1>
      <p class="error" data-code={error.code}>
        {error.status === 401 ? 'This dashboard needs a token: open the address it printed at start, or paste the token.' : error.message}
      </p>
      <input type="password" placeholder="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} autoFocus />
      <button type="submit">Open</button>
    </form>
  );
}
