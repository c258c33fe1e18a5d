"""`pulumi preview`, `up`, `refresh` and `destroy` of the dev stack, for real: the pinned CLI, the Python
language host, the dynamic providers and the policy pack, against a fresh Prefect server."""

import time

from prefect.client.orchestration import SyncPrefectClient

from infra.stack_files.stack_config import from_stack_file
from tests.support.pulumi_cli import PulumiProject
from tests.support.server_state import declared, held, left_on_server

POLICY_PACK = ("--policy-pack", "infra/policies")


def test_preview_up_no_changes_and_destroy(project: PulumiProject, cli_client: SyncPrefectClient) -> None:
    settings = from_stack_file(project.stack_file("dev"))
    expected = declared(settings)

    started = time.monotonic()
    steps = project.preview_steps("dev", *POLICY_PACK)
    preview_seconds = time.monotonic() - started
    prefect_steps = {
        name: op for name, op in steps.items() if name.startswith(("pool-", "queue-", "var", "limit-"))
    }
    assert set(prefect_steps.values()) == {"create"}, steps
    objects = [name for name in prefect_steps if not name.startswith("queue-priorities-")]
    assert len(objects) == len(expected), steps
    assert left_on_server(cli_client, settings) == [], "a preview must not change the server"

    started = time.monotonic()
    project.up("dev", *POLICY_PACK)
    up_seconds = time.monotonic() - started
    assert held(cli_client, settings) == expected

    # No perpetual diff: neither the program's inputs nor what refresh reads back differ from the state.
    started = time.monotonic()
    project.preview("dev", "--expect-no-changes")
    no_op_seconds = time.monotonic() - started
    project.refresh("dev", "--expect-no-changes")
    project.preview("dev", "--expect-no-changes")
    print(f"dev: preview {preview_seconds:.1f} s, up {up_seconds:.1f} s, no-op preview {no_op_seconds:.1f} s")

    project.destroy("dev")
    assert left_on_server(cli_client, settings) == []


def test_a_policy_violation_fails_the_preview_with_the_policys_message(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    # The stack's own validation refuses every violation a stack file can express before any resource is
    # declared; the pack is the net under the program itself. So a program that declares a resource its
    # validation would refuse stands in for a future change to the program that bypasses it.
    program = project.root / "infra" / "__main__.py"
    program.write_text(
        program.read_text()
        + "\nfrom infra.prefect_resources.global_concurrency_limit import (\n"
        + "    GlobalConcurrencyLimit,\n    GlobalConcurrencyLimitInputs,\n)\n\n"
        + 'GlobalConcurrencyLimit("bypass", GlobalConcurrencyLimitInputs(name="staging-bypass", limit=0))\n'
    )
    result = project.preview("staging", *POLICY_PACK, expect=None)
    assert result.returncode != 0, result.describe()
    assert "no-zero-limit-unless-inactive" in result.stdout, result.describe()
    assert "concurrency limit 'staging-bypass' is 0 while active" in result.stdout, result.describe()
    assert left_on_server(cli_client, from_stack_file(project.stack_file("staging"))) == []


def test_a_stack_without_config_gets_the_settings_error_not_a_crash(project: PulumiProject) -> None:
    # The language host gives the SDK no config at all for such a stack (as upstream's does): the program's
    # own validation then names what is missing. Sent `null`, the SDK crashed before the program ran.
    result = project.preview("bare", expect=None)
    assert result.returncode != 0, result.describe()
    assert "rpa-platform:environment: required" in result.output, result.describe()
    assert "AttributeError" not in result.output, result.describe()
    assert "Traceback" not in result.output, result.describe()
