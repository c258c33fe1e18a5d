"""Drive dynamic providers the way the Pulumi engine does, without the Pulumi CLI.

`DynamicProviderProcess` starts `python -m pulumi.dynamic` (the very process the engine starts for Python
dynamic resources) and talks to it over its gRPC ResourceProvider interface, with properties serialised as
the engine sends them, `__provider` included. `EngineStack` replays the engine's call sequences for
`pulumi up`, `pulumi refresh` and `pulumi destroy` on one resource, keeping its state like a checkpoint.
"""

import asyncio
import json
import os
import selectors
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

PROVIDER_KEY = "__provider"
PORT_BOUND_SECONDS = 120.0  # bounds a hang, not the machine's speed


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


def secret(value: str) -> dict[str, str]:
    """A secret as the engine marshals it (the dynamic provider unwraps it in Configure)."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


class ProviderError(Exception):
    """The provider process answered with an error (the engine would fail the resource with this text)."""


@dataclass
class DynamicProviderProcess:
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    channel: grpc.Channel | None = None
    stub: provider_pb2_grpc.ResourceProviderStub | None = None
    calls: list[str] = field(default_factory=list)

    def start(self, env: dict[str, str] | None = None) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PULUMI_PROJECT": "rpa-platform", **(env or {})},
        )
        assert self.process.stdout is not None
        port = self._port(self.process.stdout)
        # Keep draining stdout into the log so nothing the provider prints blocks it, and every line is
        # searchable for leaked secrets.
        threading.Thread(target=self._drain, args=(self.process.stdout, log), daemon=True).start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def _port(self, stdout: Any) -> int:
        """The port the provider prints first, within a bound on a hang (it prints it within a second or two)."""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=PORT_BOUND_SECONDS)
        line = stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            self.stop()
            raise RuntimeError(
                f"pulumi.dynamic printed no port (got {line!r}); its log:\n{self.log_text()[-4000:]}"
            )
        return int(line)

    @staticmethod
    def _drain(stream: Any, log: Any) -> None:
        for line in stream:
            log.write(line)
            log.flush()

    def stop(self) -> None:
        if self.channel:
            self.channel.close()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a hung provider: it must not outlive the test
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _call(self, method: str, request: Any) -> Any:
        assert self.stub is not None
        self.calls.append(method)
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as error:
            raise ProviderError(error.details()) from None

    # --- the RPCs, as the engine issues them ---------------------------------------------------------------

    def configure(self, config: dict[str, Any]) -> None:
        self._call("Configure", provider_pb2.ConfigureRequest(args=to_struct(config), acceptSecrets=True))

    def check(self, urn: str, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        response = self._call(
            "Check", provider_pb2.CheckRequest(urn=urn, olds=to_struct(olds), news=to_struct(news))
        )
        return from_struct(response.inputs), list(response.failures)

    def diff(
        self, urn: str, id_: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> provider_pb2.DiffResponse:
        return self._call(
            "Diff", provider_pb2.DiffRequest(id=id_, urn=urn, olds=to_struct(olds), news=to_struct(news))
        )

    def create(self, urn: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call("Create", provider_pb2.CreateRequest(urn=urn, properties=to_struct(props)))
        return response.id, from_struct(response.properties)

    def read(
        self, urn: str, id_: str, props: dict[str, Any], inputs: dict[str, Any]
    ) -> provider_pb2.ReadResponse:
        return self._call(
            "Read",
            provider_pb2.ReadRequest(id=id_, urn=urn, properties=to_struct(props), inputs=to_struct(inputs)),
        )

    def update(self, urn: str, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        response = self._call(
            "Update", provider_pb2.UpdateRequest(id=id_, urn=urn, olds=to_struct(olds), news=to_struct(news))
        )
        return from_struct(response.properties)

    def delete(self, urn: str, id_: str, props: dict[str, Any]) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=urn, properties=to_struct(props)))


@dataclass
class ResourceState:
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class EngineStack:
    """One dynamic resource's life under the engine: the checkpoint it keeps and the calls it makes."""

    provider: DynamicProviderProcess
    resource_type: str
    name: str
    provider_object: Any
    state: ResourceState | None = None
    wire_log: list[str] = field(default_factory=list)

    @property
    def urn(self) -> str:
        return (
            f"urn:pulumi:test::rpa-platform::pulumi-python:dynamic/prefect:{self.resource_type}::{self.name}"
        )

    def program_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {**inputs, PROVIDER_KEY: serialize_provider(self.provider_object)}

    def up(self, inputs: dict[str, Any]) -> str:
        """What `pulumi up` does for this resource; returns 'create', 'update', 'replace' or 'same'."""
        news = self.program_inputs(inputs)
        olds = self.state.inputs if self.state else {}
        checked, failures = self.provider.check(self.urn, olds, news)
        self._record(checked)
        if failures:
            raise ProviderError("; ".join(f"{f.property}: {f.reason}" for f in failures))
        if self.state is None:
            id_, outputs = self.provider.create(self.urn, checked)
            self._record(outputs)
            self.state = ResourceState(id_, checked, outputs)
            return "create"
        diff = self.provider.diff(self.urn, self.state.id, self.state.outputs, checked)
        if diff.changes != provider_pb2.DiffResponse.DIFF_SOME:
            return "same"
        if diff.replaces:
            old = self.state
            if diff.deleteBeforeReplace:
                self.provider.delete(self.urn, old.id, old.outputs)
            id_, outputs = self.provider.create(self.urn, checked)
            if not diff.deleteBeforeReplace:
                self.provider.delete(self.urn, old.id, old.outputs)
            self._record(outputs)
            self.state = ResourceState(id_, checked, outputs)
            return "replace"
        outputs = self.provider.update(self.urn, self.state.id, self.state.outputs, checked)
        self._record(outputs)
        self.state = ResourceState(self.state.id, checked, outputs)
        return "update"

    def refresh(self) -> bool:
        """What `pulumi refresh` does; returns False when the provider reports the object gone."""
        assert self.state is not None
        response = self.provider.read(self.urn, self.state.id, self.state.outputs, self.state.inputs)
        if not response.id:
            self.state = None
            return False
        outputs = from_struct(response.properties)
        inputs = from_struct(response.inputs) if response.HasField("inputs") else self.state.inputs
        self._record(outputs)
        self._record(inputs)
        self.state = ResourceState(response.id, inputs, outputs)
        return True

    def preview_diff(self, inputs: dict[str, Any]) -> provider_pb2.DiffResponse:
        """Check + Diff only, as `pulumi preview` does."""
        assert self.state is not None
        checked, failures = self.provider.check(self.urn, self.state.inputs, self.program_inputs(inputs))
        assert not failures, failures
        return self.provider.diff(self.urn, self.state.id, self.state.outputs, checked)

    def destroy(self) -> None:
        if self.state is not None:
            self.provider.delete(self.urn, self.state.id, self.state.outputs)
            self.state = None

    def _record(self, props: dict[str, Any]) -> None:
        """Keep every property bag that crossed the wire, to search it for secrets."""
        self.wire_log.append(json.dumps(props, default=str, sort_keys=True))


def struct_json(struct: struct_pb2.Struct) -> str:
    return json_format.MessageToJson(struct)
