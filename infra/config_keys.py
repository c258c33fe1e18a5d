"""Keys of the stack configuration (`Pulumi.<stack>.yaml`) under the project's namespace."""

from typing import Final

PROJECT: Final = "rpa-platform"

API_URL: Final = "prefectApiUrl"
API_KEY: Final = "prefectApiKey"
AUTH_STRING: Final = "prefectAuthString"
ENVIRONMENT: Final = "environment"
PLATFORM: Final = "platform"
SERVER: Final = "server"
SERVER_DATABASE_PASSWORD: Final = "serverDatabasePassword"

ALL: Final = (API_URL, API_KEY, AUTH_STRING, ENVIRONMENT, PLATFORM, SERVER, SERVER_DATABASE_PASSWORD)
SECRETS: Final = (API_KEY, AUTH_STRING)
"""The Prefect API's credentials."""
ENCRYPTED: Final = (*SECRETS, SERVER_DATABASE_PASSWORD)
"""Every key a stack file must hold encrypted (`pulumi config set --secret`), and no other."""
OBJECTS: Final = (PLATFORM, SERVER)
"""Keys whose value is an object: Pulumi may hand the program either the object or its JSON text."""

DEFAULT_API_URL: Final = "http://127.0.0.1:4200/api"

# Other namespaces a stack file may hold: Pulumi's own settings, and those of the providers this program uses
# (pulumi-docker). Any other namespace is a typo (`rpa-platfrom:`) whose keys nobody would read.
OTHER_NAMESPACES: Final = ("pulumi", "docker")


def qualified(key: str) -> str:
    """`prefectApiUrl` -> `rpa-platform:prefectApiUrl`, the form Pulumi uses in stack files and providers."""
    return f"{PROJECT}:{key}"


def key_path(path: str) -> str:
    """A problem's key path as the stack file writes it: `platform.pools[0].name` is this project's
    (`rpa-platform:platform.pools[0].name`); a key of another namespace, or `(file)`, is shown as it is."""
    if path.startswith("(") or ":" in path.split(".", 1)[0]:
        return path
    return qualified(path)
