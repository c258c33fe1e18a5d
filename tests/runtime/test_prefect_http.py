"""The runtime's HTTP client against the Prefect API: an idle connection is let go before the server's
keep-alive timeout closes it. One reused just as the server closes it fails with "Server disconnected
without sending a response": a failed call while the server is up, which a flow run would tell as an
outage."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.settings import Settings

from flows.runtime.prefect_http import api_client

SERVER_KEEPALIVE_SECONDS = 1


class CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open between requests, as Prefect's server does
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    CountingHandler.connections = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_an_idle_connection_goes_before_the_server_would_close_it(server_url: str) -> None:
    settings = Settings(
        api={"url": server_url}, server={"api": {"keepalive_timeout": SERVER_KEEPALIVE_SECONDS}}
    )
    client, _ = api_client(settings)
    with client:
        client.get("/health")
        client.get("/health")
        assert CountingHandler.connections == 1  # kept while busy
        time.sleep(SERVER_KEEPALIVE_SECONDS * 0.9)  # idle almost as long as the server keeps it open
        client.get("/health")
    assert CountingHandler.connections == 2
