"""The real CLI against a Prefect server that has stopped: `pulumi up` and `pulumi preview` stop at the
program's check of the API, and `pulumi refresh` (which runs only the providers) fails resource by resource,
each time with one line naming the API's URL and what to do, never a traceback."""

import re
from contextlib import ExitStack
from pathlib import Path

from tests.support.prefect_server import PrefectServer, free_port
from tests.support.pulumi_cli import PulumiProject, Result, pulumi_cli_or_skip
from tests.support.temp_dirs import temp_dir

# What Pulumi adds under a failed program or deployment: generic, naming no URL.
PULUMI_OWN = ("an unhandled error occurred: program exited with code 1", "update failed", "refresh failed")


def diagnostics(result: Result) -> list[str]:
    """The error lines of the Diagnostics section, each as printed."""
    section = result.stdout.split("Diagnostics:", 1)[-1].split("\nResources:", 1)[0]
    return [
        line.strip().removeprefix("error: ")
        for line in section.splitlines()
        if line.strip().startswith("error:")
    ]


def assert_one_line_errors(result: Result, api_url: str, doing: str) -> list[str]:
    """Every error is one line: ours name the URL and what to do; the rest are Pulumi's own generic ones."""
    assert result.returncode != 0, result.describe()
    for leak in ("Traceback", 'File "', "httpx", "ConnectError"):
        assert leak not in result.output, result.describe()
    ours = [line for line in diagnostics(result) if line not in PULUMI_OWN]
    assert ours, result.describe()
    pattern = (
        rf"(Pulumi\.dev\.yaml: )?cannot reach the Prefect API at {re.escape(api_url)} \([^)]*\) while {doing}: "
        r"start the server \(`make server` for the local one\) or correct rpa-platform:prefectApiUrl"
    )
    for line in ours:
        assert re.fullmatch(pattern, line), f"{line!r} is not the one line expected\n{result.describe()}"
    return ours


def destroyed_on(project: PulumiProject, server: PrefectServer) -> None:
    """What `up` made, destroyed through the server the test stopped: started again for it when it is down."""
    if server.process is None or server.process.poll() is not None:
        server.start()
    project.destroy("dev")


def test_a_stopped_server_is_named_in_one_line(tmp_path: Path) -> None:
    pulumi_cli_or_skip()
    # Each step of the cleanup runs even when one before it raises (a restart or `destroy` failing): the server
    # is stopped and its directory removed whatever happened.
    with ExitStack() as cleanup:
        home = cleanup.enter_context(temp_dir("stopped"))
        server = PrefectServer(home=home / "prefect-home", port=free_port(), log_path=home / "server.log")
        cleanup.callback(server.stop)
        server.start()
        project = PulumiProject.copy(tmp_path, server.api_url)
        cleanup.callback(destroyed_on, project, server)
        project.up("dev")
        server.stop()

        for result in (project.up("dev", expect=None), project.preview("dev", expect=None)):
            ours = assert_one_line_errors(result, server.api_url, "checking it before anything is declared")
            assert len(ours) == 1, result.describe()

        refresh = project.refresh("dev", expect=None)
        ours = assert_one_line_errors(
            refresh, server.api_url, r"reading [a-z -]+'[^']+'( of work pool '[^']+')?"
        )
        print(
            f"refresh: {len(ours)} resources, one line each; {len(refresh.output.splitlines())} lines in all"
        )
