"""An outage of the Prefect server, told once per process: one WARNING naming the server when the first call
fails, one INFO with the outage's length once it answers again, and everything in between at DEBUG.

Why it is made so: docs/runtime.md#server-outages-in-detail."""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial

import httpx
from prefect.events.worker import EventsWorker
from prefect.logging import get_logger
from prefect.settings import Settings

from flows.clock import SYSTEM_CLOCK, Clock
from flows.runtime.limits_api import LimitsApiError, ServerBusy
from flows.runtime.prefect_http import api_client, public_url

PROBE_SECONDS = 1.0
_PROBE_TIMEOUT_SECONDS = 5.0  # a health answer takes milliseconds; Prefect's request timeout is 60 s


# Opens a way to ask the server whether it answers, for as long as one outage's probe lasts.
Probe = Callable[[], AbstractContextManager[Callable[[], bool]]]


class ServerOutage:
    """Whether the Prefect server at `server` is out, as the calls that failed tell; `probe` asks it."""

    def __init__(
        self,
        server: str,
        probe: Probe,
        log: logging.Logger,
        *,
        clock: Clock = SYSTEM_CLOCK,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self.server = server
        self._probe = probe
        self._log = log
        self._clock = clock
        self._probe_seconds = probe_seconds
        self._lock = threading.Lock()
        self._stopping = clock.condition(self._lock)
        self._began: float | None = None  # None while the server answers
        self._last_failure = 0.0
        self._stopped = False

    @property
    def down(self) -> bool:
        with self._lock:
            return self._began is not None

    def failed(self, detail: str) -> None:
        """A call to the server failed; `detail` says how. The first of an outage is logged."""
        with self._lock:
            now = self._clock.monotonic()
            self._last_failure = now
            if self._began is not None or self._stopped:
                return
            self._began = now
        self._log.warning(
            "The Prefect server at %s does not answer (%s); the flow run goes on, its slot requests and "
            "events wait for the server. Failed calls are logged at DEBUG until it is back.",
            self.server,
            detail,
        )
        threading.Thread(target=self._probe_until_back, name="prefect-outage", daemon=True).start()

    def stop(self) -> None:
        """No longer watched: a probe ends at its next turn, an outage still going on is left untold."""
        with self._lock:
            self._stopped = True
            self._stopping.notify_all()

    def _probe_until_back(self) -> None:
        with self._probe() as answers:
            lasted = self._lasted_until_answered(answers)
        if lasted is not None:
            self._log.info("The Prefect server at %s answers again, after %.1f s", self.server, lasted)

    def _lasted_until_answered(self, answers: Callable[[], bool]) -> float | None:
        """How long the outage lasted, once the server answers and no call failed for a probe interval (a
        call under way when it came back may still fail: that is the same outage); None if stopped first."""
        answered = False
        while True:
            with self._lock:
                now, began = self._clock.monotonic(), self._began
                if self._stopped or began is None:
                    return None
                if answered and now - self._last_failure >= self._probe_seconds:
                    self._began = None
                    return now - began
                self._stopping.wait(self._probe_seconds)
            answered = answers()


@contextmanager
def health_probe(settings: Settings) -> Iterator[Callable[[], bool]]:
    """`GET /health` on a client of its own (auth and TLS as the runtime's), closed when the probe ends."""
    client, _ = api_client(settings)

    def answers() -> bool:
        try:
            return client.get("/health", timeout=_PROBE_TIMEOUT_SECONDS).status_code == 200
        except httpx.HTTPError:
            return False

    with client:
        yield answers


# What a record of each watched logger says when it reports a failed call to the server: its detail, or None.
Sign = Callable[[logging.LogRecord], str | None]


def server_failure(error: object) -> bool:
    """A call that failed because of the server or the way to it, not because of what it asked."""
    if isinstance(error, httpx.TransportError | ServerBusy):
        return True
    return isinstance(error, LimitsApiError) and error.status_code >= 500


def _runtime_call_failed(record: logging.LogRecord) -> str | None:
    """A slot pool's or rate limiter's `Prefect API call failed: <error>`, told by the error it carries."""
    if record.levelno != logging.WARNING or not isinstance(record.args, tuple):
        return None
    return next((str(arg) for arg in record.args if server_failure(arg)), None)


def _events_client_unconnected(record: logging.LogRecord) -> str | None:
    """`Unable to connect to 'ws://.../events/in' ... Reason: <reason>` (its arguments: URL, reason)."""
    if record.levelno != logging.WARNING or not str(record.msg).startswith("Unable to connect to"):
        return None
    return f"events: {record.args[-1]}" if isinstance(record.args, tuple) and record.args else "events"


def _events_worker_failed(record: logging.LogRecord) -> str | None:
    """The events worker's `Service %r failed to process item %r`, once its client gave up on an event for
    now: the event stays with the client, which sends it again when it has reconnected."""
    if record.levelno != logging.ERROR or not str(record.msg).startswith("Service %r failed to process item"):
        return None
    args = record.args if isinstance(record.args, tuple) else ()
    return "events: an event not sent yet" if args and args[0] == EventsWorker.__name__ else None


def _keepalive_failed(record: logging.LogRecord) -> str | None:
    """The websockets library's `keepalive ping failed` (with its traceback) on the events client's
    connection, which the server's end closed: the client connects again when it next sends."""
    if record.levelno != logging.ERROR or record.msg != "keepalive ping failed":
        return None
    return "events: the connection is closed"


# Records that report a failed call: each is a sign of an outage (the first starts it), told at DEBUG.
FAILED_CALLS: dict[str, Sign] = {
    "flows.runtime.slot_pool": _runtime_call_failed,
    "flows.runtime.rate_limiter": _runtime_call_failed,
    "prefect.events.clients": _events_client_unconnected,
    "prefect._internal.concurrency": _events_worker_failed,
}
# Records about a connection an outage closed, which may come well after the server is back (a keepalive
# ping comes every 20 s): told at DEBUG, and no sign of an outage by themselves.
AFTERMATH: dict[str, Sign] = {"websockets.client": _keepalive_failed}


class OutageFilter(logging.Filter):
    """On `logger`: its records that `sign` recognises go on at DEBUG, and to `outage` unless None."""

    def __init__(self, outage: ServerOutage | None, sign: Sign, logger: logging.Logger) -> None:
        super().__init__()
        self._outage = outage
        self._sign = sign
        self._logger = logger

    def filter(self, record: logging.LogRecord) -> bool:
        detail = self._sign(record)
        if detail is None:
            return True
        if self._outage is not None:
            self._outage.failed(detail)
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        # The logger let it through at its level; at DEBUG it must pass that test again (handlers often
        # have no level of their own: Prefect's console handler shows whatever reaches it).
        return self._logger.isEnabledFor(logging.DEBUG)


_watch_lock = threading.Lock()
_watchers = 0
_current: tuple[ServerOutage, list[tuple[logging.Logger, OutageFilter]]] | None = None


@contextmanager
def watched(settings: Settings) -> Iterator[ServerOutage | None]:
    """The process's outage state of the server `settings` name, while the runtimes of flow runs are open
    in it (nested watches share the first one's). None when no server is named."""
    global _watchers, _current
    if not settings.api.url:
        yield None
        return
    with _watch_lock:
        if _current is None:
            # Prefect's logger (`prefect.flows...`): its INFO lines show where Prefect's do. Not the run
            # logger: that would send them to the server, and a log worker that has never reached it (a run
            # that logged nothing before) gives up on them at once, on stderr.
            log = get_logger(__name__)
            outage = ServerOutage(public_url(settings), partial(health_probe, settings), log)
            signs = [(outage, FAILED_CALLS), (None, AFTERMATH)]
            filters = [
                (logging.getLogger(name), OutageFilter(told, sign, logging.getLogger(name)))
                for told, by_logger in signs
                for name, sign in by_logger.items()
            ]
            for watched_logger, outage_filter in filters:
                watched_logger.addFilter(outage_filter)
            _current = (outage, filters)
        _watchers += 1
        outage = _current[0]
    try:
        yield outage
    finally:
        with _watch_lock:
            _watchers -= 1
            if _watchers == 0 and _current is not None:
                outage, filters = _current
                _current = None
                for watched_logger, outage_filter in filters:
                    watched_logger.removeFilter(outage_filter)
                outage.stop()
