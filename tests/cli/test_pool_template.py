"""A work pool's base job template under the real engine: `"default": null` entries held by the server (as in
Prefect's own templates, or after an edit outside Pulumi) read as no change at any refresh and are left as
they are; reordered job defaults are no change; an update of another field lists that field alone."""

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate

from tests.support.pulumi_cli import PulumiProject

POOL = "dev-rpa-docker"


def null_defaults(client: SyncPrefectClient) -> list[str]:
    properties = client.read_work_pool(POOL).base_job_template["variables"]["properties"]
    return sorted(
        name for name, schema in properties.items() if "default" in schema and schema["default"] is None
    )


def test_template_nulls_key_order_and_what_an_update_lists(
    project: PulumiProject, cli_client: SyncPrefectClient
) -> None:
    project.up("dev")
    template = cli_client.read_work_pool(POOL).base_job_template
    for schema in template["variables"]["properties"].values():
        schema.setdefault("default", None)
    cli_client.update_work_pool(POOL, WorkPoolUpdate(base_job_template=template))
    nulls = null_defaults(cli_client)
    assert nulls, "the server keeps null defaults"

    project.refresh("dev", "--expect-no-changes")
    project.refresh("dev", "--expect-no-changes")
    project.preview("dev", "--expect-no-changes")
    assert null_defaults(cli_client) == nulls

    def reorder_env(platform: dict) -> None:
        defaults = platform["pools"][0]["jobDefaults"]
        defaults["env"] = dict(reversed(list(defaults["env"].items())))
        platform["pools"][0]["jobDefaults"] = dict(reversed(list(defaults.items())))

    project.edit_platform("dev", reorder_env)
    project.preview("dev", "--expect-no-changes")

    def resize(platform: dict) -> None:
        platform["pools"][0]["concurrencyLimit"] = 3

    project.edit_platform("dev", resize)
    pool_line = next(line for line in project.preview("dev").stdout.splitlines() if "pool-rpa-docker" in line)
    assert pool_line.rstrip().endswith("update [diff: ~concurrencyLimit]"), pool_line
    project.up("dev")
    assert cli_client.read_work_pool(POOL).concurrency_limit == 3
    project.preview("dev", "--expect-no-changes")
