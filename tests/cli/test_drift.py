"""Changes made behind Pulumi's back, and changes made in the stack file, as the real engine sees them."""

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate, VariableUpdate, WorkPoolUpdate

from infra.stack_files.stack_config import from_stack_file
from tests.support.pulumi_cli import PulumiProject
from tests.support.server_state import declared, held


def test_refresh_shows_out_of_band_edits_and_up_refresh_undoes_them(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    settings = from_stack_file(project.stack_file("dev"))
    project.up("dev")

    cli_client.update_work_pool("dev-rpa-docker", WorkPoolUpdate(concurrency_limit=99))
    cli_client.update_variable(VariableUpdate(name="development_rpa3_max_concurrent_tasks", value=42))
    cli_client.update_global_concurrency_limit("dev-erp-api", GlobalConcurrencyLimitUpdate(limit=77))
    cli_client.delete_global_concurrency_limit_by_name("dev-db-write")
    queue = cli_client.read_work_queue_by_name("batch", work_pool_name="dev-rpa-docker")
    cli_client.delete_work_queue_by_id(queue.id)

    drift = project.refresh("dev", "--expect-no-changes", expect=None)
    assert drift.returncode != 0, drift.describe()
    for resource in (
        "pool-rpa-docker",
        "variable-rpa3_max_concurrent_tasks",
        "limit-erp-api",
        "limit-db-write",
        "queue-rpa-docker-batch",
    ):
        assert resource in drift.stdout, f"refresh does not show {resource}:\n{drift.describe()}"

    project.up("dev", "--refresh")
    assert held(cli_client, settings) == declared(settings)
    project.preview("dev", "--refresh", "--expect-no-changes")


def test_a_variable_or_limit_changed_in_the_stack_file_is_updated_in_place(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    project.up("dev")

    def raise_numbers(platform: dict) -> None:
        platform["variables"]["rpa3_max_concurrent_tasks"] = 7
        platform["concurrencyLimits"][0]["limit"] = 6  # erp-api
        platform["pools"][0]["concurrencyLimit"] = 6
        platform["queues"][1]["concurrencyLimit"] = 3  # batch

    project.edit_platform("dev", raise_numbers)
    steps = project.preview_steps("dev")
    changed = {name: op for name, op in steps.items() if op != "same"}
    assert changed == {
        "variable-rpa3_max_concurrent_tasks": "update",
        "limit-erp-api": "update",
        "pool-rpa-docker": "update",
        "queue-rpa-docker-batch": "update",
    }, steps

    project.up("dev")
    settings = from_stack_file(project.stack_file("dev"))
    assert held(cli_client, settings) == declared(settings)


def test_a_renamed_pool_is_replaced_without_stranding_its_deployments(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    project.up("dev")
    project.deploy("dev")

    def rename(platform: dict) -> None:
        platform["pools"][0]["name"] = "rpa-robots"
        for queue in platform["queues"]:
            queue["pool"] = "rpa-robots"

    project.edit_platform("dev", rename)
    prefect_yaml = project.root / "prefect.yaml"
    prefect_yaml.write_text(prefect_yaml.read_text().replace("dev-rpa-docker", "dev-rpa-robots"))
    try:
        # The new pool and its queues come first; the old ones are not deleted from under the deployments.
        blocked = project.up("dev", expect=None)
        assert blocked.returncode != 0, blocked.describe()
        for queue, deployments in (("critical", "rpa1/dev"), ("batch", "rpa2/dev, rpa3/dev")):
            refusal = f"work queue '{queue}' of work pool 'dev-rpa-docker' is the target of the deployments {deployments}"
            assert refusal in blocked.stdout, blocked.describe()
        assert cli_client.read_work_pool("dev-rpa-docker").name == "dev-rpa-docker"
        assert cli_client.read_work_pool("dev-rpa-robots").name == "dev-rpa-robots"

        project.deploy("dev")  # The deployments move to the new pool ...
        project.up("dev")  # ... and then the old pool goes.
        settings = from_stack_file(project.stack_file("dev"))
        assert held(cli_client, settings) == declared(settings)
        pools = {pool.name for pool in cli_client.read_work_pools()}
        assert "dev-rpa-docker" not in pools
        queues = {queue.id: queue for queue in cli_client.read_work_queues(work_pool_name="dev-rpa-robots")}
        for deployment in cli_client.read_deployments():
            assert deployment.work_pool_name == "dev-rpa-robots", deployment
            assert deployment.work_queue_id in queues, deployment
        project.preview("dev", "--expect-no-changes")
    finally:
        for deployment in cli_client.read_deployments():
            cli_client.delete_deployment(deployment.id)
