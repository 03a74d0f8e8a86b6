// Sign-in where the server wants a token (AUTH_JWT_SECRET is set): a JWT its operator issued.
import { useState } from 'react';
import { saveToken } from '../auth';

export function TokenForm({ refused }: { refused: boolean }) {
  const [token, setToken] = useState('');
  return (
    <main className="sign-in">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          saveToken(token);
          window.location.reload();
        }}
      >
        <h1>Sign in</h1>
        <p>This server wants a token. It is kept for this browser tab only.</p>
        {refused && <p role="alert">That token was refused.</p>}
        <label>
          Token
          <textarea value={token} required rows={4} onChange={(e) => setToken(e.target.value)} />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
