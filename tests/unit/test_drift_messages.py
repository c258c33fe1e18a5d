"""How `make status` words a drift: the stack file's key, the server's value and the file's, with
credentials written into a URL masked."""

from infra.cli.status.drift import describe
from infra.field_changes import FieldChange
from infra.prefect_resources.work_pool import WorkPoolInputs
from infra.stack_files.prefect_objects import DeclaredObject


def test_a_drifted_job_default_is_named_by_its_key_and_its_credentials_masked() -> None:
    pool = DeclaredObject("pool-rpa", "platform.pools[0]", WorkPoolInputs(name="dev-rpa", type="docker"))
    change = FieldChange(
        "baseJobTemplate.variables.properties.env.default.RPA_ERP_API_URL",
        "http://erp:hunter2@127.0.0.1:8765",
        "http://127.0.0.1:8765",
    )
    message = describe(change, pool, "Pulumi.dev.yaml")
    assert message == (
        'platform.pools[0].jobDefaults.env.RPA_ERP_API_URL is "http://***@127.0.0.1:8765" on the server, '
        '"http://127.0.0.1:8765" in Pulumi.dev.yaml'
    )
    assert "hunter2" not in message
