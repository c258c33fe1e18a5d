"""Where the external systems are: `RPA_ERP_API_URL` and `RPA_DATABASE_URL`, read with every other `RPA_*`
setting by `FlowEnvironment` (set by the pool's job template or a developer's shell; its defaults are the demo
ERP and a SQLite file, for local runs)."""

from flows.runtime import FlowEnvironment
from rpa_naming import ENV_PREFIX

# The variables' names, for whoever starts a flow run with its environment (tests, tools/loadtest).
ERP_API_URL_ENV = f"{ENV_PREFIX}ERP_API_URL"
DATABASE_URL_ENV = f"{ENV_PREFIX}DATABASE_URL"


def erp_api_url() -> str:
    return FlowEnvironment.read().erp_api_url


def database_url() -> str:
    return FlowEnvironment.read().database_url
