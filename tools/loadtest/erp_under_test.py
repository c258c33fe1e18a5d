"""A demo ERP of the load test's own, on a free 127.0.0.1 port, enforcing the stack's limits itself: a call
beyond them is answered 429 and counted, so a limit the flow runs failed to hold shows at the ERP."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tools.demo_erp.admin import DemoErpAdmin
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.launcher import DemoErpProcess
from tools.loadtest.result import StackLimits


@dataclass(frozen=True)
class ErpUnderTest:
    url: str
    admin: DemoErpAdmin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def behaviour_for(limits: StackLimits, latency_seconds: float) -> ErpBehaviour:
    return ErpBehaviour(
        latency_seconds=latency_seconds,
        max_concurrency=limits.erp_api,
        rate_per_second=limits.erp_api_rate_per_second,
        rate_burst=limits.erp_api_rate,
    )


@contextmanager
def erp_under_test(limits: StackLimits, latency_seconds: float) -> Iterator[ErpUnderTest]:
    process = DemoErpProcess(port=free_port(), latency_seconds=latency_seconds)
    try:
        # Inside the try: a Ctrl-C while it comes up must not leave it running.
        admin = process.start()
        try:
            admin.configure(behaviour_for(limits, latency_seconds))
            yield ErpUnderTest(url=process.url, admin=admin)
        finally:
            admin.close()
    finally:
        process.stop()
