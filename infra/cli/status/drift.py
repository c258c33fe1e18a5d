"""What differs between the stack file and its server, kind by kind (infra/stack_files/prefect_kinds.py):
objects the file declares that the server lacks, and settings changed behind Pulumi's back. Each object is
read with its own provider's `fetch`, so `make status` sees what `pulumi refresh` would, and `make up
STACK=<stack>` (which refreshes first) puts every finding back: that is the command each one names."""

from prefect.client.orchestration import SyncPrefectClient

from infra.cli.status.model import Finding
from infra.field_changes import FieldChange, field_changes, show
from infra.stack_files.prefect_kinds import PrefectKind, declared_objects, stack_file_property
from infra.stack_files.prefect_objects import DeclaredObject
from infra.stack_files.settings import StackSettings
from infra.url_credentials import masked_url


def drift_findings(client: SyncPrefectClient, settings: StackSettings) -> list[Finding]:
    findings = []
    missing: set[str] = set()
    for kind, declared in declared_objects(settings):
        if missing.intersection(declared.after):
            continue  # What it belongs to is missing, and reported: `make up` makes both.
        changes = held_changes(client, kind, declared)
        if changes is None:
            missing.add(declared.resource_name)
            message = f"declared in {settings.source} ({declared.path}), missing on the server"
        elif changes:
            message = "; ".join(describe(change, declared, settings.source) for change in changes)
        else:
            continue
        findings.append(
            Finding(
                kind="drift",
                object=declared.inputs.label(),
                message=message,
                command=f"make up STACK={settings.stack}",
            )
        )
    return findings


def held_changes(
    client: SyncPrefectClient, kind: PrefectKind, declared: DeclaredObject
) -> list[FieldChange] | None:
    """The managed settings the server holds otherwise than the file declares (server -> file); None when
    the server lacks the object."""
    inputs = declared.inputs.normalized()  # As the server holds it once applied: a pool's whole template.
    found = kind.resource.provider_class().fetch(client, inputs)
    if found is None:
        return None
    _id, held = found
    fields = type(inputs).model_fields
    unmanaged = {fields[name].alias or name for name in inputs.unmanaged}
    return [
        change
        for change in field_changes(held.to_props(), inputs.to_props())
        if change.path.partition(".")[0] not in unmanaged
    ]


def describe(change: FieldChange, declared: DeclaredObject, source: str) -> str:
    """Values shown with any credentials written into a URL masked (a job's env may hold the ERP's URL)."""
    key = declared.key(stack_file_property(change.path))
    return masked_url(f"{key} is {show(change.old)} on the server, {show(change.new)} in {source}")
