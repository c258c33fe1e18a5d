"""Latency of each provider operation, through the real provider protocol, against the same raw Prefect
client call, measured in the same run on the same local server.

    python -m tests.bench.provider_latency [--rounds N] [--out bench-results]

The provider path is what `pulumi up` pays: gRPC to `python -m pulumi.dynamic`, property (de)serialisation,
input validation, then the client call. The baseline is the bare client call on a warm, reused client.
Writes `provider-latency.json` and prints a table (median milliseconds and the ratio; goal <= 1.2x).
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    VariableCreate,
    VariableUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from pulumi.runtime.proto import provider_pb2

from infra import config_keys
from infra.prefect_resources.global_concurrency_limit import GlobalConcurrencyLimitProvider
from infra.prefect_resources.variable import VariableProvider
from infra.prefect_resources.work_pool import WorkPoolProvider
from tests.bench.processes import exit_on_sigterm
from tests.support.prefect_server import PrefectServer, free_port
from tests.support.provider_protocol import DynamicProviderProcess, EngineStack, to_struct

VERBS = ("create", "read", "update", "delete")


Prepared = Callable[[], Callable[[], Any]]
"""Prepares one operation (untimed) and returns the call to time."""


def timed_ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def ready(call: Callable[[], Any]) -> Prepared:
    return lambda: call


class Raw:
    """The same operations with the Prefect client alone, sending the same payloads."""

    def __init__(self, client: SyncPrefectClient) -> None:
        self.client = client

    def work_pool(self, checked: dict[str, Any]) -> dict[str, Prepared]:
        name, template = checked["name"], checked["baseJobTemplate"]
        create = WorkPoolCreate(name=name, type="process", concurrency_limit=3, base_job_template=template)
        update = WorkPoolUpdate(
            concurrency_limit=4, is_paused=False, description=None, base_job_template=template
        )
        return {
            "create": ready(lambda: self.client.create_work_pool(create)),
            "read": ready(lambda: self.client.read_work_pool(name)),
            "update": ready(lambda: self.client.update_work_pool(name, update)),
            "delete": ready(lambda: self.client.delete_work_pool(name)),
        }

    def variable(self, checked: dict[str, Any]) -> dict[str, Prepared]:
        name = checked["name"]
        return {
            "create": ready(lambda: self.client.create_variable(VariableCreate(name=name, value=15))),
            "read": ready(lambda: self.client.read_variable_by_name(name)),
            "update": ready(
                lambda: self.client.update_variable(VariableUpdate(name=name, value=16, tags=[]))
            ),
            "delete": ready(lambda: self.client.delete_variable_by_name(name)),
        }

    def limit(self, checked: dict[str, Any]) -> dict[str, Prepared]:
        name = checked["name"]
        create = GlobalConcurrencyLimitCreate(name=name, limit=10, active=True, slot_decay_per_second=0)
        update = GlobalConcurrencyLimitUpdate(limit=11, active=True, slot_decay_per_second=0)
        return {
            "create": ready(lambda: self.client.create_global_concurrency_limit(create)),
            "read": ready(lambda: self.client.read_global_concurrency_limit_by_name(name)),
            "update": ready(lambda: self.client.update_global_concurrency_limit(name, update)),
            "delete": ready(lambda: self.client.delete_global_concurrency_limit_by_name(name)),
        }


def provider_ops(stack: EngineStack, news: dict[str, Any], updated: dict[str, Any]) -> dict[str, Prepared]:
    """The provider's RPCs, their requests serialised before the clock starts: the engine (Go) does that part,
    so what is timed is what the provider process adds."""
    stub, urn = stack.provider.stub, stack.urn
    assert stub is not None
    state: dict[str, Any] = {}

    def create() -> Callable[[], Any]:
        request = provider_pb2.CreateRequest(urn=urn, properties=to_struct(news))

        def call() -> None:
            response = stub.Create(request)
            state["id"], state["outputs"] = response.id, response.properties

        return call

    def read() -> Callable[[], Any]:
        request = provider_pb2.ReadRequest(
            id=state["id"], urn=urn, properties=state["outputs"], inputs=to_struct(news)
        )
        return lambda: stub.Read(request)

    def update() -> Callable[[], Any]:
        request = provider_pb2.UpdateRequest(
            id=state["id"], urn=urn, olds=state["outputs"], news=to_struct(updated)
        )

        def call() -> None:
            state["outputs"] = stub.Update(request).properties

        return call

    def delete() -> Callable[[], Any]:
        request = provider_pb2.DeleteRequest(id=state["id"], urn=urn, properties=state["outputs"])
        return lambda: stub.Delete(request)

    return {"create": create, "read": read, "update": update, "delete": delete}


def measure(rounds: int, out: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="rpa-bench-providers-"))
    server = PrefectServer(home=workdir / "home", port=free_port(), log_path=workdir / "server.log")
    server.start()
    process = DynamicProviderProcess(log_path=workdir / "provider.log")
    try:
        process.start()
        process.configure({config_keys.qualified(config_keys.API_URL): server.api_url})
        samples: dict[tuple[str, str, str], list[float]] = {}
        with SyncPrefectClient(server.api_url) as client:
            raw = Raw(client)
            cases = {
                "WorkPool": (
                    WorkPoolProvider(),
                    raw.work_pool,
                    {"type": "process", "concurrencyLimit": 3},
                    {"concurrencyLimit": 4},
                ),
                "Variable": (VariableProvider(), raw.variable, {"value": 15}, {"value": 16}),
                "GlobalConcurrencyLimit": (
                    GlobalConcurrencyLimitProvider(),
                    raw.limit,
                    {"limit": 10},
                    {"limit": 11},
                ),
            }
            for round_number in range(rounds + 1):  # Round 0 warms both paths up and is not counted.
                for resource, (provider, raw_ops, inputs, change) in cases.items():
                    # Alternate the order so that neither path always runs on a warmer server.
                    for path in ["raw", "provider"] if round_number % 2 else ["provider", "raw"]:
                        stack = EngineStack(process, resource, "bench", provider)
                        name = f"bench_{uuid.uuid4().hex[:10]}"
                        news, _ = process.check(stack.urn, {}, stack.program_inputs({"name": name, **inputs}))
                        updated, _ = process.check(
                            stack.urn, news, stack.program_inputs({"name": name, **inputs, **change})
                        )
                        ops = raw_ops(news) if path == "raw" else provider_ops(stack, news, updated)
                        for verb in VERBS:
                            elapsed = timed_ms(ops[verb]())
                            if round_number:
                                samples.setdefault((resource, verb, path), []).append(elapsed)
            # The floor of the provider path: one gRPC round trip to the provider process doing nothing.
            assert process.stub is not None
            floor = [timed_ms(lambda: process.stub.GetPluginInfo(empty_pb2.Empty())) for _ in range(200)]
    finally:
        process.stop()
        server.stop()

    rows = []
    for resource in ("WorkPool", "Variable", "GlobalConcurrencyLimit"):
        for verb in VERBS:
            raw_ms = statistics.median(samples[(resource, verb, "raw")])
            provider_ms = statistics.median(samples[(resource, verb, "provider")])
            rows.append(
                {
                    "resource": resource,
                    "operation": verb,
                    "raw_ms": round(raw_ms, 2),
                    "provider_ms": round(provider_ms, 2),
                    "ratio": round(provider_ms / raw_ms, 2),
                }
            )
    result = {
        "rounds": rounds,
        "statistic": "median",
        "protocol_round_trip_ms": round(statistics.median(floor), 2),
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "provider-latency.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    result = measure(args.rounds, args.out)
    print(f"{'resource':24} {'operation':9} {'raw ms':>8} {'provider ms':>12} {'ratio':>6}")
    for row in result["rows"]:
        print(
            f"{row['resource']:24} {row['operation']:9} {row['raw_ms']:8.2f} {row['provider_ms']:12.2f} "
            f"{row['ratio']:5.2f}x"
        )
    print(
        f"gRPC round trip to the provider process, doing nothing: {result['protocol_round_trip_ms']:.2f} ms"
    )
    print(f"written to {args.out / 'provider-latency.json'}")


if __name__ == "__main__":
    exit_on_sigterm()
    main()
