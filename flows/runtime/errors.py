"""Errors the runtime raises: each names the Prefect object or external service involved."""


class RuntimeConfigurationError(RuntimeError):
    """The stack did not provision something the flow needs; fix the stack file, not the flow."""


class FlowEnvironmentError(RuntimeConfigurationError):
    """The run's `RPA_*` environment is missing or invalid: fix prefect.yaml or the pool, not the flow."""


class MissingVariableError(RuntimeConfigurationError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Prefect Variable {name!r} does not exist; the stack must provision it")
        self.name = name


class InvalidVariableError(RuntimeConfigurationError):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"Prefect Variable {name!r}: {problem}")
        self.name = name


class MissingConcurrencyLimitError(RuntimeConfigurationError):
    """Prefect would run the body unguarded with a warning; the runtime refuses instead."""

    def __init__(self, name: str) -> None:
        super().__init__(f"global concurrency limit {name!r} does not exist; the stack must provision it")
        self.name = name


class NotARateLimitError(RuntimeConfigurationError):
    def __init__(self, name: str) -> None:
        super().__init__(f"global concurrency limit {name!r} has no slot decay, so it cannot limit a rate")
        self.name = name


class SlotWaitTimeout(TimeoutError):
    def __init__(self, resource: str, seconds: float, why: str | None = None) -> None:
        super().__init__(f"no slot of {resource!r} within {seconds:g} s" + (f"; {why}" if why else ""))
        self.resource = resource


class CircuitOpenError(RuntimeError):
    """Raised without calling the service: it failed repeatedly and is cooling down."""

    def __init__(self, service: str, retry_in_seconds: float) -> None:
        super().__init__(f"circuit for {service!r} is open; next trial call in {retry_in_seconds:.1f} s")
        self.service = service


class ExternalServiceError(RuntimeError):
    def __init__(self, service: str, detail: str, status_code: int | None = None) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.status_code = status_code
