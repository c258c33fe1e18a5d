"""pulumi-docker's `docker:index/container:Container` inputs, as the engine hands them to its provider, turned
into the Docker Engine API call that provider makes (as docker-py's `containers.create` keyword arguments).

pulumi-docker's plugin cannot be had on this machine (tools/pulumi/FACTS.md), so tests launch the Containers
the program declares through this converter instead. It follows the provider's own mapping
(kreuzwerker/terraform-provider-docker, resource_docker_container_funcs.go): memory in MB, durations in Go's
syntax, `volumes` as binds with an explicit mode. It refuses any input it has no conversion for, naming it:
an argument added to infra/workers.py must be converted, and so tested, before a test can launch it.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from docker.types import Mount

MEGABYTE = 2**20
GO_DURATION_UNITS = {
    "ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9
}  # fmt: skip
GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class UnconvertedInput(ValueError):
    """A Container input this converter does not know: the test would launch other than what `up` would."""


PROVIDER_SIDE = {"mustRun", "wait", "waitTimeout"}
"""Inputs that are no Docker argument but what the provider does after the start."""
DEFAULT_WAIT_TIMEOUT_SECONDS = 60  # the provider's default for waitTimeout


@dataclass(frozen=True)
class ContainerLaunch:
    """What the provider does for one Container: create it with these arguments, start it, (mustRun) fail
    unless it is running and (wait) fail unless its health check reports healthy within `wait_seconds`."""

    create_kwargs: dict[str, Any]
    must_run: bool
    wait_seconds: int | None = None
    """None: the provider does not wait for health (wait unset or false)."""


def container_launch(inputs: Mapping[str, Any]) -> ContainerLaunch:
    unknown = sorted(set(inputs) - set(CONVERSIONS) - PROVIDER_SIDE)
    if unknown:
        raise UnconvertedInput(
            f"pulumi-docker Container input(s) {unknown} have no conversion in {__name__}: add one (as the "
            "provider maps it to the Docker API) so that tests launch and check what `pulumi up` would"
        )
    create_kwargs: dict[str, Any] = {}
    for name, value in inputs.items():
        if name in CONVERSIONS:
            create_kwargs.update(CONVERSIONS[name](value))
    if inputs.get("wait") and "healthcheck" not in inputs:
        raise UnconvertedInput("wait=true without a healthcheck: the provider refuses it")
    wait_seconds = (
        integer(inputs.get("waitTimeout", DEFAULT_WAIT_TIMEOUT_SECONDS), "waitTimeout")
        if inputs.get("wait")
        else None
    )
    return ContainerLaunch(create_kwargs, bool(inputs.get("mustRun", False)), wait_seconds)


def go_duration_ns(text: str) -> int:
    """'30s', '1m30s', '1.5s', '300ms' -> nanoseconds, as Go's time.ParseDuration reads them. The provider
    ignores a parse error (the duration becomes 0, Docker's default): here it is an error."""
    if text == "0":
        return 0
    parts = GO_DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise UnconvertedInput(f"{text!r} is not a Go duration (e.g. '30s', '1m30s', '500ms')")
    return round(sum(float(number) * GO_DURATION_UNITS[unit] for number, unit in parts))


def integer(value: float, name: str) -> int:
    """The engine sends numbers as floats; the provider's schema takes integers."""
    if value != int(value):
        raise UnconvertedInput(f"{name}={value!r}: pulumi-docker takes an integer here")
    return int(value)


def fields(value: Mapping[str, Any], name: str, known: set[str]) -> Mapping[str, Any]:
    """A nested input block, refused if it holds a field this converter does not convert."""
    unknown = sorted(set(value) - known)
    if unknown:
        raise UnconvertedInput(f"{name}: field(s) {unknown} have no conversion in {__name__}")
    return value


def healthcheck(value: Mapping[str, Any]) -> dict[str, Any]:
    check = fields(value, "healthcheck", {"tests", "interval", "timeout", "startPeriod", "retries"})
    config: dict[str, Any] = {"test": list(check["tests"])}
    for field, key in (("interval", "interval"), ("timeout", "timeout"), ("startPeriod", "start_period")):
        if field in check:
            config[key] = go_duration_ns(check[field])
    if "retries" in check:
        config["retries"] = integer(check["retries"], "healthcheck.retries")
    return {"healthcheck": config}


def bind(volume: Mapping[str, Any]) -> str:
    """A `volumes` entry as the provider binds it: 'source:path:rw|ro' (no anonymous volumes, no
    volumes-from: nothing here declares them)."""
    entry = fields(volume, "volumes[]", {"hostPath", "volumeName", "containerPath", "readOnly"})
    source = entry.get("volumeName") or entry.get("hostPath")
    if not source or not entry.get("containerPath"):
        raise UnconvertedInput(f"volumes[] entry {dict(entry)}: only binds (a source and a path) convert")
    return f"{source}:{entry['containerPath']}:{'ro' if entry.get('readOnly') else 'rw'}"


def mount(value: Mapping[str, Any]) -> Mount:
    entry = fields(value, "mounts[]", {"target", "type", "source", "readOnly"})
    return Mount(
        target=entry["target"],
        source=entry.get("source"),
        type=entry["type"],
        read_only=bool(entry.get("readOnly", False)),
    )


def label_map(labels: list[Mapping[str, Any]]) -> dict[str, str]:
    return {
        entry["label"]: entry["value"]
        for entry in (fields(e, "labels[]", {"label", "value"}) for e in labels)
    }


# pulumi-docker input (camelCase, as the engine sends it) -> docker-py keyword argument(s).
CONVERSIONS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "name": lambda name: {"name": name},
    "image": lambda image: {"image": image},
    "command": lambda command: {"command": list(command)},
    "envs": lambda envs: {"environment": list(envs)},
    "user": lambda user: {"user": user},
    "labels": lambda labels: {"labels": label_map(labels)},
    "networkMode": lambda mode: {"network_mode": mode},
    "hosts": lambda hosts: {
        "extra_hosts": {h["host"]: h["ip"] for h in (fields(h, "hosts[]", {"host", "ip"}) for h in hosts)}
    },
    "restart": lambda policy: {"restart_policy": {"Name": policy}},
    "privileged": lambda privileged: {"privileged": bool(privileged)},
    "memory": lambda megabytes: {"mem_limit": integer(megabytes, "memory") * MEGABYTE},
    "healthcheck": healthcheck,
    "volumes": lambda volumes: {"volumes": [bind(volume) for volume in volumes]},
    "mounts": lambda mounts: {"mounts": [mount(value) for value in mounts]},
    # The provider always sends a log driver (its default: json-file) along with the options.
    "logOpts": lambda options: {"log_config": {"Type": "json-file", "Config": dict(options)}},
}
