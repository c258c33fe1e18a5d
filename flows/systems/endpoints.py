"""Where the external systems are: environment variables set by the pool's job template (or a developer's
shell), with defaults for local runs against the demo ERP and a SQLite file.

In a flow-run container with host networking, 127.0.0.1 is the Docker host, so the defaults also reach a demo
ERP running on the host; anything else is set per stack in the pool's job variables (`env`).
"""

import os

ERP_API_URL_ENV = "RPA_ERP_API_URL"
LOCAL_ERP_API_URL = "http://127.0.0.1:8765"

# SQLAlchemy URL: sqlite:///path.db (default; one writer at a time) or postgresql+psycopg://user:pw@host/db.
DATABASE_URL_ENV = "RPA_DATABASE_URL"
LOCAL_DATABASE_URL = "sqlite:///rpa-results.db"


def erp_api_url() -> str:
    return os.environ.get(ERP_API_URL_ENV) or LOCAL_ERP_API_URL


def database_url() -> str:
    return os.environ.get(DATABASE_URL_ENV) or LOCAL_DATABASE_URL
