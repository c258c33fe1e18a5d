"""Health-check durations are written as pulumi-docker reads them back from Docker (Go's Duration.String()),
so that refresh and preview find nothing to change."""

import pytest

from infra.program.container_healthcheck import go_duration, healthcheck_args
from infra.program.server_spec import server_spec
from infra.stack_files.stack_config import parse_stack_settings
from tests.support.self_hosted_stack import SOURCE, STACK, example_raw


@pytest.mark.parametrize(
    ("seconds", "printed"),
    [
        (0, "0s"),
        (5, "5s"),
        (59, "59s"),
        (60, "1m0s"),
        (90, "1m30s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (3661, "1h1m1s"),
        (90061, "25h1m1s"),
    ],
)
def test_seconds_are_printed_as_go_prints_a_duration(seconds: int, printed: str) -> None:
    assert go_duration(seconds) == printed


def test_the_servers_start_periods_are_written_as_docker_reads_them_back() -> None:
    spec = server_spec(parse_stack_settings(STACK, SOURCE, example_raw()))
    assert spec is not None
    database, server = healthcheck_args(spec.database.healthcheck), healthcheck_args(spec.server.healthcheck)
    assert (database.interval, database.timeout, database.start_period) == ("5s", "5s", "1m0s")
    assert (server.interval, server.timeout, server.start_period) == ("10s", "10s", "5m0s")
