"""Keys of the stack configuration (`Pulumi.<stack>.yaml`) under the project's namespace."""

from typing import Final

PROJECT: Final = "rpa-platform"

API_URL: Final = "prefectApiUrl"
API_KEY: Final = "prefectApiKey"
AUTH_STRING: Final = "prefectAuthString"
ENVIRONMENT: Final = "environment"
PLATFORM: Final = "platform"

ALL: Final = (API_URL, API_KEY, AUTH_STRING, ENVIRONMENT, PLATFORM)
SECRETS: Final = (API_KEY, AUTH_STRING)

DEFAULT_API_URL: Final = "http://127.0.0.1:4200/api"


def qualified(key: str) -> str:
    """`prefectApiUrl` -> `rpa-platform:prefectApiUrl`, the form Pulumi uses in stack files and providers."""
    return f"{PROJECT}:{key}"
