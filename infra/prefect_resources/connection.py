"""How a dynamic provider reaches the Prefect API.

The connection comes from the stack's config, which the engine sends to the provider process (every stack
config key, secrets decrypted), and is read there, inside the provider. It never travels through resource
inputs, so it is never in state, never pickled with the provider and never in outputs. It deliberately
ignores PREFECT_API_* in the environment: the objects must land on the server the stack names, the one its
workers are pointed at, and a key must never be sent to a server the stack did not name.
"""

import threading
from dataclasses import dataclass

from prefect.client.orchestration import SyncPrefectClient
from pulumi.dynamic import Config
from pydantic import SecretStr

from infra import config_keys


@dataclass(frozen=True)
class PrefectConnection:
    api_url: str = config_keys.DEFAULT_API_URL
    api_key: SecretStr | None = None
    auth_string: SecretStr | None = None

    @classmethod
    def from_provider_config(cls, config: Config) -> "PrefectConnection":
        def secret(key: str) -> SecretStr | None:
            value = config.get(config_keys.qualified(key))
            return SecretStr(str(value)) if value else None

        api_url = config.get(config_keys.qualified(config_keys.API_URL)) or config_keys.DEFAULT_API_URL
        return cls(str(api_url), secret(config_keys.API_KEY), secret(config_keys.AUTH_STRING))

    def client(self) -> SyncPrefectClient:
        """A started client, one per connection and process: building one costs tens of milliseconds of TLS
        setup, more than most API calls, so providers reuse it across operations and threads."""
        with _clients_lock:
            client = _clients.get(self)
            if client is None:
                client = SyncPrefectClient(
                    self.api_url,
                    api_key=self.api_key.get_secret_value() if self.api_key else None,
                    auth_string=self.auth_string.get_secret_value() if self.auth_string else None,
                )
                client.__enter__()
                _clients[self] = client
            return client


_clients: dict[PrefectConnection, SyncPrefectClient] = {}
_clients_lock = threading.Lock()
