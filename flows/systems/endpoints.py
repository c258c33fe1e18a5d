"""The names of the variables that say where the external systems are, for whoever starts a flow run with its
environment (tests, tools/loadtest). A run reads them with every other `RPA_*` setting, once, into its
`RunSettings`."""

from rpa_naming import ENV_PREFIX

ERP_API_URL_ENV = f"{ENV_PREFIX}ERP_API_URL"
DATABASE_URL_ENV = f"{ENV_PREFIX}DATABASE_URL"
