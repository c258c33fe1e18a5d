"""`make check`'s rule across stack files: host-networked workers of different stacks on one Docker host
must not share health ports (each stack file alone cannot see the others)."""

from pathlib import Path

from infra.check import shared_host_port_clashes
from infra.settings import StackSettings
from infra.stack_config import PROJECT_ROOT, from_stack_file

DEV = from_stack_file(PROJECT_ROOT / "Pulumi.dev.yaml")


def staging_with_worker(tmp_path: Path, old: str, new: str) -> StackSettings:
    text = (PROJECT_ROOT / "Pulumi.staging.yaml").read_text()
    assert old in text
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(text.replace(old, new))
    return from_stack_file(path)


def test_the_shipped_stacks_use_separate_ports() -> None:
    stacks = [from_stack_file(PROJECT_ROOT / f"Pulumi.{stack}.yaml") for stack in ("dev", "staging", "prod")]
    assert shared_host_port_clashes(stacks) == []


def test_overlapping_ports_on_one_host_are_named_with_both_files(tmp_path: Path) -> None:
    staging = staging_with_worker(tmp_path, "healthPort: 18200", "healthPort: 18099")
    assert shared_host_port_clashes([DEV, staging]) == [
        "Pulumi.staging.yaml: platform.workers (rpa-docker) healthPort: ports 18100-18100 are also used by "
        "Pulumi.dev.yaml (rpa-docker) on the same Docker host unix:///var/run/docker.sock; choose a free range"
    ]


def test_workers_on_different_hosts_may_share_ports(tmp_path: Path) -> None:
    staging = staging_with_worker(
        tmp_path, "healthPort: 18200", "healthPort: 18100, dockerHost: 'ssh://rpa@staging-host'"
    )
    assert shared_host_port_clashes([DEV, staging]) == []
