"""An `httpx.Client` for the Prefect API, configured from Prefect's settings the way Prefect's own client
configures its session (Prefect 3.9.1, `SyncPrefectClient.__init__`): the API URL; the basic-auth string, else
the API key as a bearer token; TLS verification (`PREFECT_API_TLS_INSECURE_SKIP_VERIFY`,
`PREFECT_API_SSL_CERT_FILE`); the request timeout; HTTP/2; custom headers; the API-version header.

Credentials written into the URL (`https://user:password@host/api`, which a stack may give its workers) are
taken out of it and sent as basic auth, as httpx would send them: the URL is then safe to log (httpx logs
every request's URL) and to show. Whatever is secret is kept as a `Secrets`, which takes it out of any text
that could be shown (an error echoing the server's answer)."""

import base64
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import certifi
import httpx
import prefect
from prefect.client.constants import SERVER_API_VERSION
from prefect.settings import Settings
from pydantic import SecretStr

MASK = "***"
# Headers Prefect's client will not let custom headers override (they are its own, or the CSRF protocol's).
_PROTECTED_HEADERS = {"user-agent", "prefect-csrf-token", "prefect-csrf-client"}


class NoPrefectApiError(RuntimeError):
    """Prefect's client would fall back to a throwaway in-process server; limits shared between flow runs
    only mean something on the one server they all talk to."""

    def __init__(self) -> None:
        super().__init__(
            "PREFECT_API_URL is not set: the concurrency runtime needs the Prefect server the stack's flow "
            "runs share (set PREFECT_API_URL, as the stack's workers do)"
        )


@dataclass(frozen=True)
class Secrets:
    """Credentials that must never be shown, wrapped so that no repr or dump of this object shows them."""

    values: tuple[SecretStr, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str | None]) -> "Secrets":
        # Longest first: a password inside a masked auth string must not leave a partial match behind.
        kept = sorted({value for value in values if value}, key=len, reverse=True)
        return cls(tuple(SecretStr(value) for value in kept))

    def redact(self, text: str) -> str:
        for secret in self.values:
            text = text.replace(secret.get_secret_value(), MASK)
        return text


def public_url(settings: Settings) -> str:
    """The API URL `settings` name, without the credentials it may hold: safe to log and to show."""
    if not settings.api.url:
        raise NoPrefectApiError()
    return str(httpx.URL(settings.api.url).copy_with(username=None, password=None))


def api_client(settings: Settings) -> tuple[httpx.Client, Secrets]:
    """A client for the API `settings` name (base URL set: send paths such as `/v2/...`), and its secrets."""
    base_url = public_url(settings)  # raises NoPrefectApiError first
    url = httpx.URL(str(settings.api.url))
    headers = {
        "User-Agent": f"rpa-platform prefect/{prefect.__version__} (API {SERVER_API_VERSION})",
        "X-PREFECT-API-VERSION": SERVER_API_VERSION,
    }
    auth_string = settings.api.auth_string.get_secret_value() if settings.api.auth_string else None
    api_key = settings.api.key.get_secret_value() if settings.api.key else None
    encoded = None
    if auth_string:  # before the key, as in Prefect's client; the whole string is encoded, as Prefect does
        encoded = base64.b64encode(auth_string.encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"
    elif api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    # Applied after the credentials, as Prefect's client does, so that a custom Authorization still wins.
    for name, value in settings.client.custom_headers.items():
        if name.lower() not in _PROTECTED_HEADERS:
            headers[name] = value
    auth: httpx.BasicAuth | None = None
    url_credentials = None
    if url.username or url.password:  # httpx would send these instead of the header above: so do we
        auth = httpx.BasicAuth(url.username, url.password)
        url_credentials = (url.password, base64.b64encode(f"{url.username}:{url.password}".encode()).decode())
    password = auth_string.partition(":")[2] if auth_string else None
    secrets = Secrets.of([auth_string, password, encoded, api_key, *(url_credentials or ())])
    timeout = settings.api.request_timeout
    client = httpx.Client(
        base_url=base_url,
        headers=headers,
        auth=auth,
        verify=_tls_context(settings),
        http2=settings.api.enable_http2,
        timeout=httpx.Timeout(timeout),  # connect, read, write and pool alike, as Prefect's client
        # Prefect's client's pool (few connections are steadier against its server than many at once), but
        # idle connections let go before the server closes them: one reused just as the server closes it
        # fails ("Server disconnected without sending a response"), a failed call with the server up.
        limits=httpx.Limits(
            max_connections=16,
            max_keepalive_connections=8,
            keepalive_expiry=idle_connection_seconds(settings),
        ),
        follow_redirects=True,
    )
    return client, secrets


def _tls_context(settings: Settings) -> ssl.SSLContext:
    if settings.api.tls_insecure_skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=settings.api.ssl_cert_file or certifi.where())


def idle_connection_seconds(settings: Settings) -> float:
    """How long an idle connection is kept: under the server's keep-alive timeout (Prefect's
    PREFECT_SERVER_API_KEEPALIVE_TIMEOUT, 5 s by default; a flow-run container has the default too)."""
    return max(settings.server.api.keepalive_timeout - 1, 0.5)
