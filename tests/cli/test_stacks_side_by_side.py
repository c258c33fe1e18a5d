"""dev, staging and prod on one Prefect server (the embedded local default): each converges on its own, and
one stack's destroy leaves the others as they were."""

from prefect.client.orchestration import SyncPrefectClient

from infra.stack_files.stack_config import STACKS, from_stack_file
from tests.support.pulumi_cli import PulumiProject
from tests.support.server_state import declared, held, left_on_server


def test_three_stacks_share_a_server(project: PulumiProject, cli_client: SyncPrefectClient) -> None:
    settings = {stack: from_stack_file(project.stack_file(stack)) for stack in STACKS}
    for stack in STACKS:
        project.up(stack)
    for stack in STACKS:
        assert held(cli_client, settings[stack]) == declared(settings[stack]), stack
        project.preview(stack, "--refresh", "--expect-no-changes")

    project.destroy("dev")
    assert left_on_server(cli_client, settings["dev"]) == []
    for stack in ("staging", "prod"):
        assert held(cli_client, settings[stack]) == declared(settings[stack]), stack
