"""A real OpenID Connect provider on 127.0.0.1 for the single sign-on tests: discovery, JWKS, an authorization
endpoint that approves at once for the identity the test chose (redirecting with a code), a token endpoint that checks
the code, the client secret and the PKCE verifier and answers an RS256 ID token carrying the nonce, and userinfo."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import authlib.deprecate  # noqa: F401 - first, so its "always show" filter does not outrank the one below
import requests

with warnings.catch_warnings():  # authlib.jose says it will move to joserfc; it signs the same tokens meanwhile
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt

CLIENT_ID = "podcast-analytics"
CLIENT_SECRET = "client-secret-0123456789"


class OidcProvider:
    """`with OidcProvider() as provider:` serves until the block ends. Set `identity` to whom the next sign-in is for
    (claims: sub, email, email_verified, name); `token_requests` lists what the token endpoint was asked."""

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
        self.identity: dict = {"sub": "subject-1", "email": "someone@example.com", "email_verified": True,
                               "name": "Someone"}
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.token_requests: list[dict] = []
        self.id_token_claims: dict = {}  # extra or overriding claims for the next ID tokens
        self.id_token_omits: tuple[str, ...] = ()  # claims left to the userinfo endpoint
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-provider", daemon=True)

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def settings_env(self, name: str = "Acme SSO") -> dict[str, str]:
        return {"OIDC_ISSUER": self.issuer, "OIDC_CLIENT_ID": self.client_id, "OIDC_CLIENT_SECRET": self.client_secret,
                "OIDC_NAME": name, "OIDC_TIMEOUT_SECONDS": "5"}

    def metadata(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks", "response_types_supported": ["code"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict, str]:
        """Approve at once for `identity`: 302 back to the client with a code and the state."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, "unknown client or response type"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, "PKCE (S256) is required"
        if "openid" not in query.get("scope", "").split() or not query.get("nonce") or not query.get("state"):
            return 400, {}, "scope openid, a nonce and a state are required"
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"challenge": query["code_challenge"], "nonce": query["nonce"],
                            "redirect_uri": query["redirect_uri"], "identity": dict(self.identity),
                            "at": time.time()}
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": location}, ""

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        self.token_requests.append(dict(form))
        try:
            scheme, _, encoded = (authorization or "").partition(" ")
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            scheme = client_id = secret = ""
        if scheme != "Basic" or client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None or time.time() - grant["at"] > 60:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = grant["identity"]
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, "nonce": grant["nonce"],
                  **grant["identity"], **self.id_token_claims}
        claims = {k: v for k, v in claims.items() if k not in self.id_token_omits}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key).decode()
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}

    def userinfo(self, authorization: str | None) -> tuple[int, dict]:
        scheme, _, token = (authorization or "").partition(" ")
        identity = self.access_tokens.get(token) if scheme == "Bearer" else None
        return (200, identity) if identity is not None else (401, {"error": "invalid_token"})


def _handler(provider: OidcProvider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: dict | str, headers: dict | None = None):
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._send(200, provider.metadata())
            elif url.path == "/jwks":
                self._send(200, {"keys": [provider.key.as_dict(is_private=False)]})
            elif url.path == "/authorize":
                status, headers, text = provider.authorize(query)
                self._send(status, text, headers)
            elif url.path == "/userinfo":
                self._send(*provider.userinfo(self.headers.get("Authorization")))
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlparse(self.path).path == "/token":
                self._send(*provider.token(form, self.headers.get("Authorization")))
            else:
                self._send(404, {"error": "not_found"})

    return Handler


def sign_in(client, next_url: str | None = None, tamper=None):
    """Press "Sign in with ..." in the Flask test `client`: follow the redirect to the provider over real HTTP, and its
    redirect back to the app's callback. `tamper(query) -> query` may change the callback's query first. Returns the
    callback's response."""
    start = client.get("/login/oidc" + (f"?{urlencode({'next': next_url})}" if next_url else ""))
    assert start.status_code == 302, start.get_data(as_text=True)
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    back = urlparse(approved.headers["Location"])
    assert back.path == "/login/oidc/callback"
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    if tamper is not None:
        query = tamper(query)
    return client.get(f"{back.path}?{urlencode(query)}")
