"""One stack's report: its status read from the API its stack file names, and the findings on it.

The credentials come from the environment (PREFECT_API_KEY, PREFECT_API_AUTH_STRING): the stack file holds
them encrypted, and this command runs without Pulumi to decrypt them. They are sent only to the stack's
API and never shown; PREFECT_API_URL is ignored, as everywhere in infra: the stack file says where its
objects are."""

import os
from dataclasses import dataclass
from datetime import datetime

import httpx
from prefect.client.orchestration import SyncPrefectClient

from infra.cli.status.collect import collect
from infra.cli.status.drift import drift_findings
from infra.cli.status.model import StackReport
from infra.cli.status.offline_workers import offline_worker_findings
from infra.cli.status.stuck import stuck_findings
from infra.prefect_resources.api_errors import UNAUTHORIZED, api_failure, one_line, response_detail
from infra.stack_files.settings import StackSettings
from infra.url_credentials import masked_url

DOING = "reading the stack's status"


class StackUnavailable(Exception):
    """The stack's API cannot be read; the message is one line naming the stack, its file and the API."""


@dataclass(frozen=True)
class Options:
    runs: int  # how many of the last flow runs to show
    window_minutes: float  # the error rate's window
    stuck_after_seconds: float  # how long a run may be Cancelling or Pending before it is stuck


def stack_report(settings: StackSettings, options: Options, now: datetime) -> StackReport:
    api_url = settings.config.prefect_api_url
    try:
        with stack_client(api_url) as client:
            if (error := client.api_healthcheck()) is not None:
                raise error
            status = collect(
                client, settings, now, options.runs, options.window_minutes, options.stuck_after_seconds
            )
            drift = drift_findings(client, settings)
    except httpx.HTTPError as error:
        raise StackUnavailable(
            f"{settings.stack} ({settings.source}): {unavailable(error, api_url)}"
        ) from None
    findings = stuck_findings(status) + drift + offline_worker_findings(settings, status)
    return StackReport(status=status, findings=findings)


def stack_client(api_url: str) -> SyncPrefectClient:
    return SyncPrefectClient(
        api_url,
        api_key=os.environ.get("PREFECT_API_KEY") or None,
        auth_string=os.environ.get("PREFECT_API_AUTH_STRING") or None,
    )


def unavailable(error: httpx.HTTPError, api_url: str) -> str:
    url = masked_url(api_url)
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        detail = response_detail(error.response)
        if status in UNAUTHORIZED:
            return (
                f"the Prefect API at {url} refused the credentials (HTTP {status}: {detail}) while {DOING}: "
                "set PREFECT_API_KEY or PREFECT_API_AUTH_STRING in the environment"
            )
        if status < httpx.codes.INTERNAL_SERVER_ERROR:
            return (
                f"{url} answered HTTP {status} ({detail}) while {DOING}: is it the Prefect API's URL (it "
                "usually ends in /api)?"
            )
    return (
        api_failure(error, api_url, DOING)
        or f"the Prefect API at {url} failed while {DOING}: {one_line(str(error))}"
    )
