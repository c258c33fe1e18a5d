"""Step-up tuning: start conservative, increase gradually. Each step sets the width Variable and the erp-api
limit to the step's value on the server, runs a shorter load and measures it; the knee is the first step that
gains less than GAIN_THRESHOLD over the one before, or where errors start. The original values are put back
whatever happens, Ctrl-C included."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from tools.loadtest.load import run_load
from tools.loadtest.output import result_stem, write_load
from tools.loadtest.plan import LoadPlan, StepUpRange
from tools.loadtest.result import StepOutcome, StepUpResult
from tools.loadtest.route import Route
from tools.loadtest.stack_objects import (
    erp_api_limit,
    read_stack_limits,
    set_width_and_erp_api,
    width_variable,
)
from tools.loadtest.target import Target

GAIN_THRESHOLD = 0.05
# A few 429s come from transport jitter and are retried harmlessly; beyond this share the limits do not hold.
ERROR_429_SHARE = 0.01


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A second Ctrl-C must not interrupt putting the settings back half-way."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def find_knee(steps: list[StepOutcome]) -> tuple[int | None, str | None, int | None]:
    """(knee value, why, recommended value)."""
    for index, step in enumerate(steps):
        previous = steps[index - 1].value if index else None
        if step.error_rate > 0 or step.share_429 > ERROR_429_SHARE:
            why = (
                f"errors start at {step.value}: {step.error_rate:.1%} items failed, {step.share_429:.1%} 429s"
            )
            return step.value, why, previous
        if step.gain is not None and step.gain < GAIN_THRESHOLD:
            why = f"throughput stops growing at {step.value}: {step.gain:+.1%} over {previous}"
            return step.value, why, previous
    return None, None, steps[-1].value if steps else None


def run_step_up(
    plan: LoadPlan, values: StepUpRange, target: Target, route: Route, console: Console
) -> StepUpResult:
    original = read_stack_limits(target)
    settings = [width_variable(target), erp_api_limit(target)]
    steps: list[StepOutcome] = []
    try:
        for value in values.values():
            console.print(f"step {value}: {settings[0]} = {value}, {settings[1]} = {value}")
            set_width_and_erp_api(target, width=value, erp_api=value)
            result = run_load(plan, target, route, read_stack_limits(target), console)
            path = write_load(result, result_stem(plan.out_dir, target.stack, f"-step{value}"))
            previous = steps[-1].items_per_second if steps else None
            steps.append(
                StepOutcome(
                    value=value,
                    items_per_second=result.throughput.items_per_second,
                    gain=None if not previous else result.throughput.items_per_second / previous - 1,
                    error_rate=result.items.error_rate,
                    share_429=result.erp.share_429,
                    result_file=str(path),
                )
            )
    finally:
        with _ctrl_c_deferred():
            set_width_and_erp_api(target, width=original.max_concurrent_tasks, erp_api=original.erp_api)
        console.print(
            f"restored {settings[0]} = {original.max_concurrent_tasks}, {settings[1]} = {original.erp_api}"
        )
    knee, why, recommended = find_knee(steps)
    return StepUpResult(
        stack=target.stack,
        settings=settings,
        steps=steps,
        knee=knee,
        knee_reason=why,
        recommended=recommended,
        restored={settings[0]: original.max_concurrent_tasks, settings[1]: original.erp_api},
    )
