"""How a dynamic provider reaches the Prefect API.

The connection is read inside the provider process, from the provider configuration the engine sends
(every stack config key, secrets decrypted) or else from the environment. It never travels through resource
inputs, so it is never in state, never pickled with the provider and never in outputs.
"""

import os
import threading
from dataclasses import dataclass
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from pulumi.dynamic import Config
from pydantic import SecretStr

from infra import config_keys


@dataclass(frozen=True)
class PrefectConnection:
    api_url: str
    api_key: SecretStr | None = None
    auth_string: SecretStr | None = None

    @classmethod
    def from_provider_config(cls, config: Config) -> "PrefectConnection":
        def setting(key: str, env_var: str) -> Any:
            value = config.get(config_keys.qualified(key))
            return value if value not in (None, "") else os.environ.get(env_var) or None

        api_url = setting(config_keys.API_URL, "PREFECT_API_URL") or config_keys.DEFAULT_API_URL
        api_key = setting(config_keys.API_KEY, "PREFECT_API_KEY")
        auth_string = setting(config_keys.AUTH_STRING, "PREFECT_API_AUTH_STRING")
        return cls(
            api_url=str(api_url),
            api_key=SecretStr(str(api_key)) if api_key else None,
            auth_string=SecretStr(str(auth_string)) if auth_string else None,
        )

    @classmethod
    def from_environment(cls) -> "PrefectConnection":
        return cls.from_provider_config(Config(raw_config={}, project_name=config_keys.PROJECT))

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
