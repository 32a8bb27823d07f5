// OIDC authorization code + PKCE (RFC 7636) in the browser: no client secret, S256 challenge.
import type { OidcConfig } from "../config";

const PENDING = "console.oidc.pending";

export function base64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function randomString(bytes = 32): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

async function discover(cfg: OidcConfig, fetchImpl: typeof fetch): Promise<Discovery> {
  const res = await fetchImpl(`${cfg.issuer}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`OIDC discovery failed: HTTP ${res.status}`);
  return (await res.json()) as Discovery;
}

export function redirectUri(): string {
  return `${window.location.origin}${import.meta.env.BASE_URL}auth/callback`;
}

/** Build the authorization URL and remember verifier + state for the callback. */
export async function beginLogin(cfg: OidcConfig, returnTo: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  const d = await discover(cfg, fetchImpl);
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: cfg.clientId,
    redirect_uri: redirectUri(),
    scope: cfg.scope ?? "openid profile",
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  return `${d.authorization_endpoint}?${q.toString()}`;
}

/** Exchange the code of the callback URL for tokens; returns the access token and where to go. */
export async function completeLogin(
  cfg: OidcConfig, search: string, fetchImpl: typeof fetch = fetch,
): Promise<{ accessToken: string; returnTo: string }> {
  const params = new URLSearchParams(search);
  const pendingRaw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (params.get("error")) throw new Error(params.get("error_description") ?? params.get("error") ?? "error");
  if (!pendingRaw) throw new Error("no login in progress");
  const pending = JSON.parse(pendingRaw) as { verifier: string; state: string; returnTo: string };
  if (params.get("state") !== pending.state) throw new Error("state mismatch");
  const code = params.get("code");
  if (!code) throw new Error("no authorization code");
  const d = await discover(cfg, fetchImpl);
  const res = await fetchImpl(d.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      client_id: cfg.clientId,
      code_verifier: pending.verifier,
    }).toString(),
  });
  if (!res.ok) throw new Error(`token endpoint: HTTP ${res.status}`);
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error("no access_token in the token response");
  return { accessToken: body.access_token, returnTo: pending.returnTo || "/" };
}
