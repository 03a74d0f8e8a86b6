// Which browser pages may call this API. A page of the server's own origin always may; a page of another
// origin only when CORS_ORIGINS lists it (or is '*'). Without this, a page anywhere could act as the
// local dev user (no token is needed without AUTH_JWT_SECRET) or send the simple cross-origin POSTs and
// WebSocket upgrades that browsers make without asking first. Clients that are not browsers send no
// Origin and are not concerned.
//
// Without AUTH_JWT_SECRET the server also answers only requests addressed to a loopback name: a page that
// rebinds its own domain name to 127.0.0.1 is then "same origin" with its Host, and would otherwise be
// served as the dev user.

export const ORIGIN_REFUSED = 'Pages of this origin may not use this API: see CORS_ORIGINS';

export type OriginPolicy = {
  /** Whether a request with this Origin header, made to this host, may be served. */
  allows(origin: string | null | undefined, host: string | null | undefined): boolean;
  /** Whether a request addressed to this Host may be served at all. */
  allowsHost(host: string | null | undefined): boolean;
  /** For CORS responses: whether credentials may go with a cross-origin request (not with '*'). */
  anyOrigin: boolean;
};

export function createOriginPolicy(allowed: string[], { loopbackOnly = false }: { loopbackOnly?: boolean } = {}): OriginPolicy {
  const anyOrigin = allowed.includes('*');
  const listed = new Set(allowed);
  return {
    anyOrigin,
    allowsHost: (host) => !loopbackOnly || isLoopback(host),
    allows(origin, host) {
      if (origin === undefined || origin === null) return true; // not a browser page
      if (anyOrigin || listed.has(origin)) return true;
      return host != null && hostOf(origin) === host.toLowerCase();
    },
  };
}

/** `https://app.example.com:8443` → `app.example.com:8443`; "null" and garbage → null. */
function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

/** localhost, *.localhost, 127.x.x.x and ::1, with any port. */
function isLoopback(host: string | null | undefined): boolean {
  if (!host) return false;
  const name = host.toLowerCase().replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(name) || name === '::1';
}
