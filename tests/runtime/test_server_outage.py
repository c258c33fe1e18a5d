"""The outage state on a manual clock, and its log filters on records as Prefect and the runtime log them:
the failed calls of an outage are one WARNING, the server's return one INFO with the outage's length, and
every other record passes untouched."""

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import httpx
import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_LOGGING_INTERNAL_LEVEL,
    get_current_settings,
    temporary_settings,
)

from flows.runtime import server_outage
from flows.runtime.errors import MissingConcurrencyLimitError
from flows.runtime.limits_api import LimitsApiError, ServerBusy
from flows.runtime.server_outage import AFTERMATH, FAILED_CALLS, OutageFilter, ServerOutage, watched
from tests.support.manual_clock import ManualClock

SERVER = "http://prefect.test/api"
LOG = "tests.outage"


class Server:
    """Answers the outage's probe as told."""

    def __init__(self) -> None:
        self.answering = False

    def answers(self) -> bool:
        return self.answering

    def probe(self) -> nullcontext:  # type: ignore[type-arg]
        return nullcontext(self.answers)


def probe_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "prefect-outage"]


def told(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(record.levelno, record.getMessage()) for record in caplog.records if record.name == LOG]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def outage(clock: ManualClock, server: Server, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger=LOG)
    outage = ServerOutage(SERVER, server.probe, logging.getLogger(LOG), clock=clock)
    yield outage
    outage.stop()


def test_the_failed_calls_of_an_outage_are_one_warning_and_its_end_one_info(outage, server, clock, caplog):
    outage.failed("[Errno 111] Connection refused")
    threads = probe_threads()
    for _ in range(20):  # 10 s of calls failing, two a second
        clock.run_for(0.5, threads)
        outage.failed("[Errno 111] Connection refused")
    assert outage.down
    assert told(caplog) == [
        (
            logging.WARNING,
            f"The Prefect server at {SERVER} does not answer ([Errno 111] Connection refused); the flow run "
            "goes on, its slot requests and events wait for the server. Failed calls are logged at DEBUG "
            "until it is back.",
        )
    ]

    server.answering = True  # at 10 s, as a call under way fails still: the outage goes on a second more
    clock.run_for(0.5, threads)
    assert outage.down
    clock.run_for(0.5, threads)  # 11 s: the probe has its answer, and nothing failed for a second
    assert not outage.down
    assert told(caplog)[1:] == [(logging.INFO, f"The Prefect server at {SERVER} answers again, after 11.0 s")]
    assert not any(thread.is_alive() for thread in threads)  # the probe runs only while the server is out


def test_a_new_outage_is_told_again(outage, server, clock, caplog):
    outage.failed("first")
    server.answering = True
    clock.run_for(2, probe_threads())
    server.answering = False
    outage.failed("second")
    clock.run_for(2, probe_threads())
    assert [level for level, _ in told(caplog)] == [logging.WARNING, logging.INFO, logging.WARNING]
    assert "(second)" in told(caplog)[2][1]


def test_a_watch_that_ends_stops_the_probe_and_tells_no_more(outage, clock, caplog):
    outage.failed("refused")
    threads = probe_threads()
    outage.stop()
    clock.run_for(5, threads)
    assert not any(thread.is_alive() for thread in threads)
    outage.failed("refused")
    assert [level for level, _ in told(caplog)] == [logging.WARNING]


class Failures:
    def __init__(self) -> None:
        self.details: list[str] = []

    def failed(self, detail: str) -> None:
        self.details.append(detail)


def busy() -> ServerBusy:
    request = httpx.Request("POST", f"{SERVER}/v2/concurrency_limits/increment-with-lease")
    return ServerBusy(httpx.Response(503, request=request, text="database is locked"))


def refused(status: int) -> LimitsApiError:
    request = httpx.Request("POST", f"{SERVER}/v2/concurrency_limits/increment-with-lease")
    return LimitsApiError(httpx.Response(status, request=request, text="refused"))


CALL_FAILED = "slot pool %s: Prefect API call failed: %s"
WORKER_FAILED = "Service %r failed to process item %r"
UNCONNECTED = (
    "Unable to connect to %r. Please check your network settings to ensure websocket connections to the API "
    "are allowed. Otherwise event data (including task run data) may be lost. Reason: %s. Set "
    "PREFECT_DEBUG_MODE=1 to see the full error."
)

# As each watched logger logs them (Prefect 3.9.1; the runtime's slot pools and rate limiters).
OUTAGE_RECORDS = [
    (
        "flows.runtime.slot_pool",
        logging.WARNING,
        CALL_FAILED,
        ("l", httpx.ConnectError("[Errno 111] refused")),
    ),
    ("flows.runtime.rate_limiter", logging.WARNING, CALL_FAILED, ("l", busy())),
    ("flows.runtime.slot_pool", logging.WARNING, CALL_FAILED, ("l", refused(502))),
    ("prefect.events.clients", logging.WARNING, UNCONNECTED, ("ws://x/api/events/in", "Connect call failed")),
    ("prefect._internal.concurrency", logging.ERROR, WORKER_FAILED, ("EventsWorker", object())),
]
OTHER_RECORDS = [
    (
        "flows.runtime.slot_pool",
        logging.WARNING,
        "slot pool %s: lease %s lapsed before renewal",
        ("l", uuid.uuid4()),
    ),
    ("flows.runtime.slot_pool", logging.WARNING, CALL_FAILED, ("l", refused(422))),
    ("flows.runtime.slot_pool", logging.ERROR, "slot pool %s: %s", ("l", MissingConcurrencyLimitError("l"))),
    ("flows.runtime.rate_limiter", logging.WARNING, CALL_FAILED, ("l", ConnectionError("not Prefect's"))),
    ("prefect.events.clients", logging.WARNING, "Attaching only %s of the %s related resources", (1, 2)),
    ("prefect._internal.concurrency", logging.ERROR, WORKER_FAILED, ("APILogWorker", object())),
]


@contextmanager
def debug_logging(name: str) -> Iterator[None]:
    """DEBUG on, for a logger of the runtime's and of Prefect's (its internal loggers follow a setting)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with temporary_settings(updates={PREFECT_LOGGING_INTERNAL_LEVEL: "DEBUG"}):
            yield
    finally:
        logger.setLevel(level)


def record(name: str, level: int, message: str, args: tuple[object, ...]) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


@pytest.mark.parametrize(("name", "level", "message", "args"), OUTAGE_RECORDS)
def test_a_failed_call_goes_to_the_outage_and_on_at_debug(name, level, message, args):
    failures = Failures()
    outage_filter = OutageFilter(failures, FAILED_CALLS[name], logging.getLogger(name))  # type: ignore[arg-type]
    quiet = record(name, level, message, args)

    assert not outage_filter.filter(quiet)  # not shown: its logger does not log DEBUG
    assert (quiet.levelno, quiet.levelname) == (logging.DEBUG, "DEBUG")
    assert len(failures.details) == 1
    with debug_logging(name):
        assert outage_filter.filter(record(name, level, message, args))  # shown where DEBUG is


def test_a_keepalive_that_failed_goes_on_at_debug_and_tells_no_outage():
    """It may come 20 s after the server is back: on a connection the outage closed."""
    name = "websockets.client"
    failed = record(name, logging.ERROR, "keepalive ping failed", ())
    assert not OutageFilter(None, AFTERMATH[name], logging.getLogger(name)).filter(failed)
    assert failed.levelno == logging.DEBUG
    other = record(name, logging.ERROR, "unexpected internal error", ())
    assert OutageFilter(None, AFTERMATH[name], logging.getLogger(name)).filter(other)
    assert other.levelno == logging.ERROR


@pytest.mark.parametrize(("name", "level", "message", "args"), OTHER_RECORDS)
def test_other_records_pass_untouched(name, level, message, args):
    failures = Failures()
    untouched = record(name, level, message, args)
    assert OutageFilter(failures, FAILED_CALLS[name], logging.getLogger(name)).filter(untouched)  # type: ignore[arg-type]
    assert untouched.levelno == level
    assert failures.details == []


def test_the_filters_are_on_while_a_runtime_is_watched_and_shared_by_nested_watches():
    def outage_filters() -> list[logging.Filter]:
        return [
            each
            for name in {*FAILED_CALLS, *AFTERMATH}
            for each in logging.getLogger(name).filters
            if isinstance(each, OutageFilter)
        ]

    watches = len(FAILED_CALLS) + len(AFTERMATH)

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        settings = get_current_settings()
        with watched(settings) as outer:
            assert len(outage_filters()) == watches
            with watched(settings) as inner:
                assert inner is outer
                assert len(outage_filters()) == watches
            assert len(outage_filters()) == watches
        assert outage_filters() == []
        assert server_outage._current is None
