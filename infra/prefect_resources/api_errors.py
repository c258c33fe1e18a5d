"""Failures to talk to the Prefect API, in one line a stack author can act on: which API (its credentials
masked), what went wrong, and what to do. The providers and the program's check before a preview or an update
word them the same way."""

import httpx

from infra import config_keys
from infra.url_credentials import masked_url

UNAUTHORIZED = (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN)


def api_failure(error: Exception, api_url: str, doing: str) -> str | None:
    """The message for an unreachable API, refused credentials or a server error met while `doing`
    ('creating work pool ...'); None for any other error (a request Prefect refuses on its merits)."""
    url = masked_url(api_url)
    if isinstance(error, httpx.TransportError):
        reason = one_line(str(error)) or type(error).__name__
        return (
            f"cannot reach the Prefect API at {url} ({reason}) while {doing}: start the server (`make "
            f"server` for the local one) or correct {config_keys.qualified(config_keys.API_URL)}"
        )
    if not isinstance(error, httpx.HTTPStatusError):
        return None
    status = error.response.status_code
    if status in UNAUTHORIZED:
        secrets = " or ".join(config_keys.qualified(key) for key in config_keys.SECRETS)
        return (
            f"the Prefect API at {url} refused the stack's credentials (HTTP {status}: "
            f"{response_detail(error.response)}) while {doing}: set {secrets} with `pulumi config set "
            "--secret`"
        )
    if status >= httpx.codes.INTERNAL_SERVER_ERROR:
        return (
            f"the Prefect API at {url} failed (HTTP {status}: {response_detail(error.response)}) while "
            f"{doing}: see the server's log, then run this again"
        )
    return None


def response_detail(response: httpx.Response, limit: int = 300) -> str:
    """The server's answer, on one line and short (a 500's body can be a page of HTML)."""
    text = one_line(masked_url(response.text))
    return text[:limit] + ("..." if len(text) > limit else "") or "no detail"


def one_line(text: str) -> str:
    return " ".join(text.split())
