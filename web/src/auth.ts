// The viewer's token. On the embedded default the server needs none (the local user); with
// AUTH_JWT_SECRET set the app asks for one and keeps it for the browser session only.
const KEY = 'chat.token';

export const readToken = (): string | null => sessionStorage.getItem(KEY);

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
