"""The canary for every place the repository relies on Prefect's or Pulumi's internals (private modules and
names, server endpoints and their shapes, setting names, module paths). Upgrading either fails here first,
each assertion saying where the coupling lives and what to update; most run without a server, the few that
pin what a live server answers use the session's.

Pinned elsewhere, with a server of their own: the CSRF protocol (tests/flows/test_limits_api_auth_and_csrf.py)
and the dynamic-provider host's error reporting (tests/contract/test_one_line_errors.py, in full)."""

import importlib
import inspect
import uuid
from datetime import timedelta
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from flows.runtime import unheld_slots
from local_prefect_server import server_settings
from tests.support.prefect_server import PrefectServer

PREFECT = f"Prefect {version('prefect')}"
PULUMI = f"Pulumi {version('pulumi')}"


def broke(where: str, what: str, todo: str) -> str:
    return f"{where} {what}; {PREFECT} changed that: {todo}"


def fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def route(router: Any, method: str, path: str) -> Any:
    for candidate in router.routes:
        if candidate.path == path and method in candidate.methods:
            return candidate
    return None


def body_names(endpoint: Any) -> set[str]:
    return {param.name for param in endpoint.dependant.body_params}


# --- lease storage: flows/runtime/unheld_slots.py, local_prefect_server/server_settings.py -----------------


@pytest.mark.parametrize(
    ("module", "where", "name"),
    [
        (unheld_slots.MEMORY_LEASES, "flows/runtime/unheld_slots.py", "MEMORY_LEASES"),
        (server_settings.FILESYSTEM_LEASES, "local_prefect_server/server_settings.py", "FILESYSTEM_LEASES"),
    ],
)
def test_lease_storage_modules(module: str, where: str, name: str) -> None:
    from prefect.server.concurrency.lease_storage import ConcurrencyLeaseStorageModule

    why = broke(where, f"names Prefect's lease storage module {module!r}", f"update {name}")
    assert find_spec(module) is not None, why
    assert isinstance(importlib.import_module(module), ConcurrencyLeaseStorageModule), why


def test_memory_is_prefects_default_lease_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import Settings

    monkeypatch.delenv(server_settings.LEASE_STORAGE_SETTING, raising=False)
    assert Settings().server.concurrency.lease_storage == unheld_slots.MEMORY_LEASES, broke(
        "flows/runtime/unheld_slots.py and local_prefect_server/server_settings.py",
        "say leases are kept in memory unless told otherwise",
        "revisit why every server the project starts sets LEASE_STORAGE_SETTING, and MEMORY_LEASES",
    )


# --- environment variables the project sets for Prefect, and Prefect settings LimitsApi reads --------------

SERVER_ENVIRONMENT = [
    # (variable, value, settings attribute path, value read, where it is set)
    (
        server_settings.LEASE_STORAGE_SETTING,
        server_settings.FILESYSTEM_LEASES,
        "server.concurrency.lease_storage",
        server_settings.FILESYSTEM_LEASES,
        "local_prefect_server/server_settings.py (LEASE_STORAGE_SETTING)",
    ),
    (
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "false",
        "server.analytics_enabled",
        False,
        "local_prefect_server/server_settings.py (OFFLINE)",
    ),
    (
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS",
        server_settings.LEASE_SETTINGS["PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS"],
        "server.services.repossessor.loop_seconds",
        2.0,
        "local_prefect_server/server_settings.py (LEASE_SETTINGS)",
    ),
    (
        server_settings.DEPLOYMENT_SLOT_WAIT_SETTING,
        str(server_settings.DEPLOYMENT_SLOT_WAIT_SECONDS),
        "server.deployments.concurrency_slot_wait_seconds",
        float(server_settings.DEPLOYMENT_SLOT_WAIT_SECONDS),
        "local_prefect_server/server_settings.py (SERVICE_SETTINGS) and infra/program/server_spec.py",
    ),
    (
        "PREFECT_SERVER_API_AUTH_STRING",
        "admin:pw",
        "server.api.auth_string",
        "admin:pw",
        "tests/support/prefect_server.py (PrefectServer.environment)",
    ),
    (
        "PREFECT_SERVER_CSRF_PROTECTION_ENABLED",
        "true",
        "server.api.csrf_protection_enabled",
        True,
        "tests/flows/test_limits_api_auth_and_csrf.py (CsrfServer)",
    ),
    (
        "PREFECT_SERVER_CSRF_TOKEN_EXPIRATION",
        "PT3S",
        "server.api.csrf_token_expiration",
        timedelta(seconds=3),
        "tests/flows/test_limits_api_auth_and_csrf.py (CsrfServer)",
    ),
]
CLIENT_SETTINGS = [
    # What flows/runtime/prefect_http.py and limits_api.py read to connect as Prefect's client would.
    ("PREFECT_API_URL", "http://example.invalid/api", "api.url", "http://example.invalid/api"),
    ("PREFECT_API_KEY", "key", "api.key", "key"),
    ("PREFECT_API_AUTH_STRING", "admin:pw", "api.auth_string", "admin:pw"),
    ("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "true", "api.tls_insecure_skip_verify", True),
    ("PREFECT_API_SSL_CERT_FILE", "/etc/ssl/cert.pem", "api.ssl_cert_file", "/etc/ssl/cert.pem"),
    ("PREFECT_API_REQUEST_TIMEOUT", "7", "api.request_timeout", 7.0),
    ("PREFECT_API_ENABLE_HTTP2", "true", "api.enable_http2", True),
    ("PREFECT_CLIENT_CUSTOM_HEADERS", '{"X-Test": "1"}', "client.custom_headers", {"X-Test": "1"}),
    ("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", "false", "client.csrf_support_enabled", False),
    ("PREFECT_SERVER_API_KEEPALIVE_TIMEOUT", "9", "server.api.keepalive_timeout", 9),  # idle connections
]


def setting(variable: str, value: str, path: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """What Prefect's settings hold at `path` with `variable` set to `value`."""
    from prefect.settings import Settings

    monkeypatch.setenv(variable, value)
    held: Any = Settings()
    for part in path.split("."):
        held = getattr(held, part)
    return held.get_secret_value() if hasattr(held, "get_secret_value") else held


@pytest.mark.parametrize(("variable", "value", "path", "read", "where"), SERVER_ENVIRONMENT)
def test_server_environment_variables(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, path: str, read: object, where: str
) -> None:
    why = broke(where, f"sets {variable} for `prefect server start` (settings.{path})", "rename the variable")
    assert setting(variable, value, path, monkeypatch) == read, why


@pytest.mark.parametrize(("variable", "value", "path", "read"), CLIENT_SETTINGS)
def test_client_settings_limits_api_reads(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, path: str, read: object
) -> None:
    why = broke(
        "flows/runtime/prefect_http.py",
        f"configures the limits API's HTTP client from {variable} (settings.{path}), as Prefect's client does",
        "follow the setting's new name there, and see what else SyncPrefectClient.__init__ now configures",
    )
    assert setting(variable, value, path, monkeypatch) == read, why


def test_runs_queued_behind_a_deployment_limit_wait_for_the_slot_wait_setting() -> None:
    """The server puts a run denied its deployment's slot back to Scheduled, due after the setting that
    server_settings.py shortens, and nothing but a worker's poll (of runs due within its prefetch) retries it."""
    import prefect.server.models  # noqa: F401  (core_policy cannot be imported first: a cycle)
    from prefect.server.orchestration.core_policy import SecureFlowConcurrencySlots
    from prefect.workers.base import BaseWorker

    where = "local_prefect_server/server_settings.py (DEPLOYMENT_SLOT_WAIT_SETTING)"
    denied = inspect.getsource(SecureFlowConcurrencySlots.before_transition)
    why = broke(
        where,
        "shortens the wait of a run denied its deployment's slot (AwaitingConcurrencySlot)",
        "find what reschedules such a run now, and the setting that says when",
    )
    assert '"AwaitingConcurrencySlot"' in denied and "deployments.concurrency_slot_wait_seconds" in denied, (
        why
    )
    polled = inspect.getsource(BaseWorker._get_scheduled_flow_runs)
    why = broke(where, "relies on workers taking runs due within their prefetch", "revisit the wait's value")
    assert "scheduled_before" in polled and "_prefetch_seconds" in polled, why


def test_api_version_header() -> None:
    from prefect.client.constants import SERVER_API_VERSION

    assert isinstance(SERVER_API_VERSION, str) and SERVER_API_VERSION.count(".") == 2, broke(
        "flows/runtime/prefect_http.py", "sends X-PREFECT-API-VERSION from SERVER_API_VERSION", "update it"
    )


# --- endpoints and shapes: flows/runtime/limits_api.py, operations/free_slots.py --------------------------------

LIMITS_API = "flows/runtime/limits_api.py"
# What the code sends: (method, route path, body keys, where).
ENDPOINTS = [
    ("GET", "/v2/concurrency_limits/{id_or_name}", set(), f"{LIMITS_API} (read)"),
    (
        "POST",
        "/v2/concurrency_limits/increment-with-lease",
        {"names", "slots", "mode", "lease_duration", "holder"},
        f"{LIMITS_API} (lease_slots)",
    ),
    ("POST", "/v2/concurrency_limits/leases/{lease_id}/renew", {"lease_duration"}, f"{LIMITS_API} (renew)"),
    ("POST", "/v2/concurrency_limits/decrement-with-lease", {"lease_id"}, f"{LIMITS_API} (release)"),
    (
        "POST",
        "/v2/concurrency_limits/increment",
        {"names", "slots", "mode"},
        f"{LIMITS_API} (take_rate_tokens)",
    ),
    ("POST", "/v2/concurrency_limits/decrement", {"names", "slots"}, "operations/free_slots.py"),
]


@pytest.mark.parametrize(("method", "path", "body", "where"), ENDPOINTS)
def test_concurrency_limit_endpoints(method: str, path: str, body: set[str], where: str) -> None:
    from prefect.server.api.concurrency_limits_v2 import router

    endpoint = route(router, method, path)
    assert endpoint is not None, broke(where, f"calls {method} {path}", "find the endpoint's new path")
    sent_but_unknown = body - body_names(endpoint)
    assert not sent_but_unknown, broke(
        where, f"sends {sorted(body)} to {path}", f"{sent_but_unknown} are gone"
    )
    required = {p.name for p in endpoint.dependant.body_params if p.field_info.is_required()}
    assert required <= body, broke(
        where, f"sends {sorted(body)} to {path}", f"it now requires {required - body}"
    )


def test_response_shapes() -> None:
    """The client's schemas parse the server's answers: the fields read must be in what the server sends."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder, CsrfToken
    from prefect.client.schemas.responses import (
        ConcurrencyLimitWithLeaseResponse,
        GlobalConcurrencyLimitResponse,
    )
    from prefect.server import schemas
    from prefect.server.api.concurrency_limits_v2 import router

    read = {"name", "limit", "active_slots", "active", "slot_decay_per_second", "updated"}
    answer = route(router, "GET", "/v2/concurrency_limits/{id_or_name}").response_model
    why = broke(
        LIMITS_API, f"reads {sorted(read)} of a limit (LimitsApi.read)", "update LimitState and read()"
    )
    assert read <= fields(GlobalConcurrencyLimitResponse) & fields(answer), why
    lease = route(router, "POST", "/v2/concurrency_limits/increment-with-lease").response_model
    why = broke(LIMITS_API, "reads lease_id from increment-with-lease", "update lease_slots()")
    assert "lease_id" in fields(ConcurrencyLimitWithLeaseResponse) & fields(lease), why
    why = broke(LIMITS_API, "parses /csrf-token answers (token, expiration)", "update _fetch_csrf_token()")
    assert {"token", "expiration"} <= fields(CsrfToken) & fields(schemas.core.CsrfToken), why
    why = broke(
        "flows/runtime/flow_runtime.py", "names flow runs as lease holders", "update _flow_run_holder()"
    )
    assert ConcurrencyLeaseHolder(type="flow_run", id=uuid.uuid4()).type == "flow_run", why


def test_csrf_token_endpoint_and_middleware() -> None:
    from prefect.server.api.csrf_token import router
    from prefect.server.api.middleware import CsrfMiddleware

    endpoint = route(router, "GET", "/csrf-token")
    why = broke(LIMITS_API, "fetches a token with GET /csrf-token?client=<id>", "update _fetch_csrf_token()")
    assert endpoint is not None and {p.name for p in endpoint.dependant.query_params} == {"client"}, why
    source = inspect.getsource(CsrfMiddleware)
    why = broke(LIMITS_API, "sends Prefect-Csrf-Token and Prefect-Csrf-Client", "update CSRF_*_HEADER")
    assert '"Prefect-Csrf-Token"' in source and '"Prefect-Csrf-Client"' in source, why
    why = broke(LIMITS_API, "recognises a CSRF refusal by 403 and 'CSRF' in its text", "_asks_for_csrf_token")
    assert source.count("CSRF token") >= 2 and "HTTP_403_FORBIDDEN" in source, why


def test_what_the_session_server_answers(prefect_server: PrefectServer) -> None:
    """The answers LimitsApi tells apart by status (423 full, 410 lease gone, 204 released, 422 no CSRF) and
    the settings it reads from /admin/settings, on the session's server (leases on disk, no CSRF)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from flows.runtime.limits_api import LimitsApi

    name = f"canary-{uuid.uuid4().hex[:8]}"
    with SyncPrefectClient(prefect_server.api_url) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    with LimitsApi(None) as api:
        why = broke(
            LIMITS_API, "reads server.concurrency.lease_storage from GET /admin/settings", "lease_storage()"
        )
        assert api.lease_storage() == server_settings.FILESYSTEM_LEASES, why
        lease = api.lease_slots(name, 1, 60)
        why = broke(
            LIMITS_API, "asks for a CSRF token once; 422 means the server wants none", "_fetch_csrf_token"
        )
        assert lease is not None and api.calls == 3, why  # settings, token refused (422), lease
        why = broke(LIMITS_API, "takes HTTP 423 for 'the limit is full'", "update lease_slots()")
        assert api.lease_slots(name, 1, 60) is None, why
        assert api.renew(lease, 60), broke(LIMITS_API, "takes HTTP 204 for 'renewed'", "update renew()")
        api.release(lease)
        why = broke(LIMITS_API, "takes HTTP 404/410 for 'the lease is gone'", "update renew()")
        assert not api.renew(lease, 60), why
        api.release(lease)  # a lease released twice: 204 again, nothing to give back


# --- other Prefect internals ----------------------------------------------------------------------------


def test_prefect_yaml_models() -> None:
    """infra/stack_files/deployment_check.py reads prefect.yaml with Prefect's own (private) models."""
    from prefect.cli.deploy import _models

    where = "infra/stack_files/deployment_check.py"
    expected = {
        "PrefectYamlModel": {"deployments"},
        "DeploymentConfig": {"name", "entrypoint", "work_pool", "concurrency_limit"},
        "WorkPoolConfig": {"name", "work_queue_name"},
        "ConcurrencyLimitSpec": {"limit", "collision_strategy"},
    }
    for model, used in expected.items():
        why = broke(where, f"imports prefect.cli.deploy._models.{model} and reads {sorted(used)}", "adapt it")
        assert used <= fields(getattr(_models, model)), why


def test_banned_name_characters() -> None:
    """infra/prefect_resources/inputs.py recognises Prefect's refusal of a name by the pattern it reports."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.types.names import BANNED_CHARACTERS, WITHOUT_BANNED_CHARACTERS

    with pytest.raises(ValidationError) as refused:
        WorkPoolCreate(name="a/b", type="process")
    patterns = [item.get("ctx", {}).get("pattern") for item in refused.value.errors()]
    why = broke(
        "infra/prefect_resources/inputs.py (describe_error)",
        "turns a name refused for WITHOUT_BANNED_CHARACTERS into 'must not contain any of ...'",
        "match the new error",
    )
    assert WITHOUT_BANNED_CHARACTERS in patterns and "/" in BANNED_CHARACTERS, why


def test_worker_types_and_job_template_validation() -> None:
    from prefect.utilities.schema_tools.validation import validate
    from prefect.workers.base import BaseWorker

    where = "infra/prefect_resources/work_pool.py"
    why = broke(where, "computes default job templates from BaseWorker's worker types", "adapt it")
    assert "process" in BaseWorker.get_all_available_worker_types(), why
    worker = BaseWorker.get_worker_class_from_type("process")
    assert worker is not None and "variables" in worker.get_default_base_job_template(), why
    why = broke(where, "checks job defaults with validate(raise_on_error=, ignore_required=)", "adapt it")
    assert {"raise_on_error", "ignore_required"} <= set(inspect.signature(validate).parameters), why


# --- Pulumi internals -----------------------------------------------------------------------------------

PULUMI = (
    "Pulumi " + importlib.import_module("pulumi").__version__
    if hasattr(importlib.import_module("pulumi"), "__version__")
    else "Pulumi"
)


def pulumi_broke(where: str, what: str, todo: str) -> str:
    return f"{where} {what}; {PULUMI} changed that: {todo}"


def test_dynamic_provider_host() -> None:
    from infra.prefect_resources import one_line_errors

    spec = find_spec(one_line_errors.HOST_MODULE)
    why = pulumi_broke(
        "infra/prefect_resources/one_line_errors.py",
        f"patches `traceback` in {one_line_errors.HOST_MODULE}, whose _abort_with_traceback reports errors",
        "see tests/contract/test_one_line_errors.py",
    )
    assert spec is not None and spec.origin is not None, why
    assert "def _abort_with_traceback(" in Path(spec.origin).read_text(), why


def test_provider_protocol_internals() -> None:
    """tests/support/provider_protocol.py drives `python -m pulumi.dynamic` as the engine does."""
    from pulumi.dynamic.dynamic import serialize_provider
    from pulumi.runtime import rpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    where = "tests/support/provider_protocol.py"
    assert callable(serialize_provider), pulumi_broke(
        where, "pickles providers with serialize_provider", "adapt"
    )
    why = pulumi_broke(
        where, "marshals secrets with rpc._special_sig_key / _special_secret_sig", "adapt secret()"
    )
    assert isinstance(rpc._special_sig_key, str) and isinstance(rpc._special_secret_sig, str), why
    why = pulumi_broke(
        where, "(de)serialises properties with keep_unknowns", "adapt to_struct()/from_struct()"
    )
    assert inspect.iscoroutinefunction(rpc.serialize_properties), why
    assert "keep_unknowns" in inspect.signature(rpc.deserialize_properties).parameters, why
    why = pulumi_broke(where, "speaks ResourceProvider over gRPC", "adapt DynamicProviderProcess")
    assert hasattr(provider_pb2_grpc, "ResourceProviderStub") and hasattr(provider_pb2, "CreateRequest"), why


def test_preview_unknowns() -> None:
    """infra/prefect_resources/provider.py (has_unknown) spots values a preview has not computed."""
    import asyncio

    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    struct = asyncio.new_event_loop().run_until_complete(rpc.serialize_properties({"x": rpc.UNKNOWN}, {}))
    value = rpc.deserialize_properties(struct, keep_unknowns=True)["x"]
    why = pulumi_broke(
        "infra/prefect_resources/provider.py",
        "takes Unknown or rpc.UNKNOWN for 'not computed yet'",
        "has_unknown",
    )
    assert isinstance(value, Unknown) or value == rpc.UNKNOWN, why


def test_program_config_and_mocks() -> None:
    from pulumi.runtime import config
    from pulumi.runtime.settings import reset_options

    why = pulumi_broke(
        "infra/stack_files/stack_config.py",
        "reads config via CONFIG, get_config_env, is_config_secret",
        "adapt",
    )
    assert callable(config.CONFIG.get) and callable(config.get_config_env), why
    assert callable(config.is_config_secret), why
    why = pulumi_broke(
        "tests/support/pulumi_program.py", "calls reset_options(project, stack, preview)", "adapt"
    )
    assert {"project", "stack", "preview"} <= set(inspect.signature(reset_options).parameters), why


# --- events: flows/runtime/runtime_events.py -----------------------------------------------------------------


def test_events_worker_drain() -> None:
    from prefect.events.worker import EventsWorker

    assert callable(getattr(EventsWorker, "instance", None)) and callable(
        getattr(EventsWorker, "wait_until_empty", None)
    ), broke(
        "flows/runtime/runtime_events.py",
        "waits for EventsWorker.instance().wait_until_empty() so a flow run's last events reach the server",
        "find how the events worker is drained now and update `_wait_until_sent`",
    )


# --- an outage told once: flows/runtime/server_outage.py ------------------------------------------------------


def test_what_prefect_logs_while_its_server_is_down() -> None:
    """The records the outage filters recognise, by logger and message, and why the rest needs none."""
    import websockets.asyncio.connection
    from prefect._internal.concurrency import services
    from prefect.client.base import PrefectHttpxSyncClient
    from prefect.events.clients import PrefectEventsClient
    from prefect.logging.handlers import APILogWorker

    where = "flows/runtime/server_outage.py"
    todo = "update its signs (FAILED_CALLS, AFTERMATH) to what is logged now"
    unconnected = inspect.getsource(PrefectEventsClient._log_connection_error)
    assert "logger.warning(" in unconnected and '"Unable to connect to %r. "' in unconnected, broke(
        where, "knows the events client's `Unable to connect to %r ... Reason: %s` WARNING", todo
    )
    assert PrefectEventsClient.__module__ == "prefect.events.clients", broke(
        where, "watches its logger", todo
    )
    failed = inspect.getsource(services.QueueService._main_loop)
    assert '"Service %r failed to process item %r",\n' in failed and "type(self).__name__," in failed, broke(
        where,
        "knows the events worker's `Service %r failed to process item %r` ERROR, named by its class",
        todo,
    )
    assert services.logger.name == "prefect._internal.concurrency", broke(where, "watches that logger", todo)
    keepalive = inspect.getsource(websockets.asyncio.connection.Connection.keepalive)
    assert 'self.logger.error("keepalive ping failed", exc_info=True)' in keepalive, broke(
        where, "knows the websockets client's `keepalive ping failed` ERROR", todo
    )
    retried = inspect.getsource(PrefectHttpxSyncClient._send_with_retry)
    assert retried.index("logger.debug(") < retried.index("Received response with retryable status code"), (
        broke(
            where, "leaves Prefect's client alone: it logs its retries at DEBUG", "watch `prefect.client` too"
        )
    )
    gave_up = inspect.getsource(APILogWorker._handle_batch)
    assert "sys.stderr.write" in gave_up, broke(
        where, "leaves the log worker alone: it writes to stderr, once its client's retries are spent", todo
    )


def test_the_events_client_keeps_what_it_could_not_send() -> None:
    """What makes the events sent during an outage arrive afterwards (tests/flows/test_server_outage.py)."""
    from prefect.events.clients import PrefectEventsClient

    emit = inspect.getsource(PrefectEventsClient._emit)
    reconnect = inspect.getsource(PrefectEventsClient._reconnect)
    kept = emit.index("self._unconfirmed_events.append(event)") < emit.index("await self._websocket.send(")
    assert kept and "events_to_resend = self._unconfirmed_events" in reconnect, broke(
        "flows/runtime/server_outage.py",
        "tells the events worker's failures at DEBUG: the client keeps each event and resends it on reconnect",
        "find what happens to an event the client could not send, and log it as loud as it deserves",
    )
