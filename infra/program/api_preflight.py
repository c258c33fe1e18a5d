"""Before a preview or an update declares anything: the stack's Prefect API answers, and takes the stack's
credentials. Otherwise the program stops with one line naming the API, instead of every resource failing on
its own later (or a preview promising changes that cannot be made)."""

import httpx
import pulumi

from infra.prefect_resources.api_errors import api_failure, response_detail
from infra.prefect_resources.connection import PrefectConnection
from infra.stack_files.settings import StackSettings
from infra.url_credentials import masked_url


def require_api(settings: StackSettings) -> None:
    config = settings.config
    connection = PrefectConnection(config.prefect_api_url, config.prefect_api_key, config.prefect_auth_string)
    doing = "checking it before anything is declared"
    try:
        connection.client().read_work_pools(limit=1)
    except httpx.HTTPError as error:
        message = api_failure(error, connection.api_url, doing)
        if message is None and isinstance(error, httpx.HTTPStatusError):
            message = (
                f"{masked_url(connection.api_url)} answered HTTP {error.response.status_code} "
                f"({response_detail(error.response)}) while {doing}: is it the Prefect API's URL (it "
                "usually ends in /api)?"
            )
        if message is None:
            raise
        raise pulumi.RunError(f"{settings.source}: {message}") from None
