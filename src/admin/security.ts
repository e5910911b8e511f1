/**
 * What keeps the admin page's actions in the operator's hands: the
 * Content-Security-Policy every response carries, the CSRF token each page's
 * forms hold, and the Origin check on every POST.
 *
 * CSRF tokens are signed double-submit tokens, stateless on the server: the
 * browser holds a random, HttpOnly, SameSite=Strict cookie; each rendered page
 * gets a fresh token `<nonce>.<HMAC(secret, cookie + nonce)>`. A POST must carry
 * a token that matches its own cookie, which a page on another site can neither
 * read nor forge, and an Origin (or Referer) of the admin's own origin.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** No inline script or style, nothing from another origin, no framing. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Headers on every admin response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

export const CSRF_COOKIE = "trellis_admin_csrf";
export const CSRF_FIELD = "_csrf";

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}

export class Csrf {
  readonly #secret: Buffer;

  constructor(secret?: string) {
    this.#secret = secret ? Buffer.from(secret) : randomBytes(32);
  }

  /** A new value for the CSRF cookie. */
  newCookieValue(): string {
    return randomBytes(18).toString("base64url");
  }

  /** A token for one page, bound to the browser's cookie. */
  tokenFor(cookie: string): string {
    const nonce = randomBytes(12).toString("base64url");
    return `${nonce}.${this.#sign(cookie, nonce)}`;
  }

  /** Whether `token` was issued by {@link tokenFor} for this cookie. */
  verify(cookie: string | undefined, token: string | undefined): boolean {
    if (!cookie || !token) return false;
    const [nonce, mac, extra] = token.split(".");
    if (!nonce || !mac || extra !== undefined) return false;
    const expected = Buffer.from(this.#sign(cookie, nonce));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #sign(cookie: string, nonce: string): string {
    return createHmac("sha256", this.#secret).update(`${cookie}\u0000${nonce}`).digest("base64url");
  }
}

/**
 * Whether a POST comes from a page of the admin itself: its Origin header (or,
 * without one, its Referer) names the origin the request was sent to, or one of
 * the `trusted` origins (a reverse proxy's public address). A request with
 * neither header is refused: every browser sends Origin on a form POST.
 */
export function sameOrigin(request: Request, trusted: readonly string[]): boolean {
  const own = new URL(request.url).origin;
  const origin = request.headers.get("origin") ?? originOf(request.headers.get("referer"));
  if (!origin || origin === "null") return false;
  return origin === own || trusted.includes(origin);
}

function originOf(url: string | null): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
