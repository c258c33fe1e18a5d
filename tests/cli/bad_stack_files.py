"""The bad-input battery: malformed stack files, one per row, made from the shipped dev stack file with one
thing wrong (a type, a bound, a reference, a duplicate, a name, a secret, the YAML itself), for every key the
file has. Each row says what must be named in the refusal.

Secrets are recognizable values that must never be echoed: the stack's credentials, set encrypted (as
`pulumi config set --secret` does) and, in some rows, written in plain text or into the URL by mistake.
"""

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra import config_keys
from infra.stack_files.stack_config import read_stack_document, stack_file

API_KEY_SECRET = f"pnu_battery{uuid.uuid4().hex}"
PASSWORD_SECRET = f"battery-pw-{uuid.uuid4().hex}"
AUTH_STRING_SECRET = f"admin:{PASSWORD_SECRET}"
SECRETS = (API_KEY_SECRET, PASSWORD_SECRET)

URL, API_KEY, AUTH, ENVIRONMENT, PLATFORM = (
    config_keys.qualified(key)
    for key in (
        config_keys.API_URL,
        config_keys.API_KEY,
        config_keys.AUTH_STRING,
        config_keys.ENVIRONMENT,
        config_keys.PLATFORM,
    )
)

Config = dict[str, Any]


@dataclass(frozen=True)
class Encrypted:
    """The credentials as a stack file holds them: the salt and each secret's ciphertext."""

    salt: str
    api_key: str
    auth_string: str


PLACEHOLDERS = Encrypted("v1:placeholder", "v1:placeholder-key", "v1:placeholder-auth")
"""For `make check`, which leaves encrypted values opaque."""


@dataclass(frozen=True)
class BadStackFile:
    name: str
    """Also the stack's name: the file is `Pulumi.<name>.yaml`."""
    kind: str
    key: str
    """What the refusal must name: the key path (or, for a file YAML cannot read, the line)."""
    edit: Callable[[Config], None] | None = None
    text: Callable[[str], str] | None = None
    """For what a mapping cannot hold: an edit of the file's text."""
    pulumi_says: str | None = None
    """Pulumi reads the stack file itself before the program runs, and refuses this with these words (its own
    message names the line, not the file)."""

    def document(self, api_url: str, encrypted: Encrypted) -> str:
        config = base_config(api_url, encrypted)
        if self.edit:
            self.edit(config)
        text = yaml.safe_dump({"config": config, "encryptionsalt": encrypted.salt}, sort_keys=False)
        return self.text(text) if self.text else text

    def write(self, directory: Path, api_url: str, encrypted: Encrypted) -> Path:
        path = directory / f"Pulumi.{self.name}.yaml"
        path.write_text(self.document(api_url, encrypted))
        return path


def base_config(api_url: str, encrypted: Encrypted) -> Config:
    """The shipped dev stack with its workers, the credentials set encrypted and a tag limit: valid."""
    config = read_stack_document(stack_file("dev"))["config"]
    config[URL] = api_url
    config[API_KEY] = {"secure": encrypted.api_key}
    config[AUTH] = {"secure": encrypted.auth_string}
    config[PLATFORM]["tagLimits"] = {"ocr": 2}
    return config


def setting(path: str, value: Any) -> Callable[[Config], None]:
    """Set `platform.<path>` (dots; list indices as numbers) to `value`."""

    def edit(config: Config) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node = config[PLATFORM]
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def removing(path: str) -> Callable[[Config], None]:
    def edit(config: Config) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node = config[PLATFORM]
        for part in parents:
            node = node[part]
        del node[last]

    return edit


def top(key: str, value: Any) -> Callable[[Config], None]:
    def edit(config: Config) -> None:
        config[key] = value

    return edit


def without(key: str) -> Callable[[Config], None]:
    return lambda config: config.pop(key) and None


def appending(path: str, entry: Any) -> Callable[[Config], None]:
    return lambda config: config[PLATFORM][path].append(entry)


def all_of(*edits: Callable[[Config], None]) -> Callable[[Config], None]:
    def edit(config: Config) -> None:
        for one in edits:
            one(config)

    return edit


def renamed_pool(name: str) -> Callable[[Config], None]:
    """The pool renamed everywhere it is referred to, so that only its name is wrong."""
    return all_of(
        setting("pools.0.name", name),
        setting("queues.0.pool", name),
        setting("queues.1.pool", name),
        setting("workers.0.pool", name),
    )


def duplicating_line(line: str, copy_: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert line in text, line
        return text.replace(line, line + copy_, 1)

    return edit


P = "rpa-platform:platform"
CASES = [
    # --- the file and its YAML -------------------------------------------------------------------------
    BadStackFile(
        "yaml-unclosed",
        "YAML",
        "not valid YAML",
        text=lambda t: t + "  broken: [1, 2\n",
        pulumi_says="invalid YAML",
    ),
    BadStackFile(
        "yaml-tab",
        "YAML",
        "not valid YAML",
        text=lambda t: t.replace("  rpa-platform:environment", "\trpa-platform:environment"),
        pulumi_says="yaml",
    ),
    BadStackFile(
        "duplicate-top-key",
        "duplicates",
        "key 'rpa-platform:environment' is given twice",
        text=duplicating_line(
            "  rpa-platform:environment: development\n", "  rpa-platform:environment: production\n"
        ),
        pulumi_says='mapping key "rpa-platform:environment" already defined',
    ),
    BadStackFile(
        "duplicate-nested-key",
        "duplicates",
        "key 'limit' is given twice",
        text=duplicating_line("    - name: db-write\n      limit: 1\n", "      limit: 10\n"),
        pulumi_says='mapping key "limit" already defined',
    ),
    BadStackFile(
        "config-a-list",
        "YAML structure",
        "`config:` must be a mapping",
        text=lambda t: "config: [1, 2]\n",
        pulumi_says="config",
    ),
    # --- namespaces and keys ---------------------------------------------------------------------------
    BadStackFile(
        "namespace-misspelt",
        "names",
        "rpa-platfrom:prefectApiUrl",
        edit=all_of(without(URL), top("rpa-platfrom:prefectApiUrl", "http://10.0.0.5:4200/api")),
    ),
    BadStackFile("namespace-unknown", "names", "aws:region", edit=top("aws:region", "eu-west-1")),
    BadStackFile(
        "key-unknown",
        "names",
        "rpa-platform:prefectApiUr",
        edit=top("rpa-platform:prefectApiUr", "http://x/api"),
    ),
    BadStackFile(
        "key-without-namespace-unknown",
        "names",
        "rpa-platform:environmnt",
        edit=top("environmnt", "production"),
    ),
    # --- prefectApiUrl -----------------------------------------------------------------------------------
    BadStackFile("url-no-scheme", "types", "rpa-platform:prefectApiUrl", edit=top(URL, "127.0.0.1:4200/api")),
    BadStackFile(
        "url-credentials",
        "secrets",
        "rpa-platform:prefectApiUrl",
        edit=top(URL, f"http://admin:{PASSWORD_SECRET}@127.0.0.1:4200/api"),
    ),
    BadStackFile(
        "url-port-beyond", "bounds", "rpa-platform:prefectApiUrl", edit=top(URL, "http://127.0.0.1:99999/api")
    ),
    BadStackFile("url-a-number", "types", "rpa-platform:prefectApiUrl", edit=top(URL, 4200)),
    # --- the credentials ---------------------------------------------------------------------------------
    BadStackFile(
        "api-key-plaintext", "secrets", "rpa-platform:prefectApiKey", edit=top(API_KEY, API_KEY_SECRET)
    ),
    BadStackFile(
        "auth-string-plaintext",
        "secrets",
        "rpa-platform:prefectAuthString",
        edit=top(AUTH, AUTH_STRING_SECRET),
    ),
    BadStackFile(
        "api-key-plaintext-list", "secrets", "rpa-platform:prefectApiKey", edit=top(API_KEY, [API_KEY_SECRET])
    ),
    BadStackFile(
        "environment-encrypted",
        "secrets",
        "rpa-platform:environment",
        edit=lambda c: c.update({ENVIRONMENT: c[API_KEY]}),
    ),
    # --- environment ------------------------------------------------------------------------------------
    BadStackFile("environment-unknown", "types", "rpa-platform:environment", edit=top(ENVIRONMENT, "prod")),
    BadStackFile("environment-missing", "references", "rpa-platform:environment", edit=without(ENVIRONMENT)),
    BadStackFile(
        "environment-a-list", "types", "rpa-platform:environment", edit=top(ENVIRONMENT, ["production"])
    ),
    # --- platform ----------------------------------------------------------------------------------------
    BadStackFile("platform-a-list", "types", "rpa-platform:platform", edit=top(P, [1, 2])),
    BadStackFile("platform-a-word", "types", "rpa-platform:platform", edit=top(P, "pools")),
    BadStackFile(
        "platform-json-unclosed", "YAML structure", "rpa-platform:platform", edit=top(P, '{"pools": [')
    ),
    BadStackFile(
        "platform-json-duplicate",
        "duplicates",
        "rpa-platform:platform",
        edit=top(P, '{"pools": [], "pools": []}'),
    ),
    BadStackFile(
        "platform-key-unknown", "names", "rpa-platform:platform.workres", edit=setting("workres", [])
    ),
    # --- pools -------------------------------------------------------------------------------------------
    BadStackFile(
        "pool-name-missing",
        "references",
        "rpa-platform:platform.pools[0].name",
        edit=removing("pools.0.name"),
    ),
    BadStackFile(
        "pool-name-banned", "names", "rpa-platform:platform.pools[0].name", edit=renamed_pool("rpa/docker")
    ),
    BadStackFile("pool-name-empty", "names", "rpa-platform:platform.pools[0].name", edit=renamed_pool("")),
    BadStackFile(
        "pool-name-non-ascii",
        "names",
        "rpa-platform:platform.workers[0].pool",
        edit=renamed_pool("rpa-döcker"),
    ),
    BadStackFile(
        "pool-type-unknown",
        "types",
        "rpa-platform:platform.pools[0].type",
        edit=setting("pools.0.type", "kubernetes"),
    ),
    BadStackFile(
        "pool-limit-negative",
        "bounds",
        "rpa-platform:platform.pools[0].concurrencyLimit",
        edit=setting("pools.0.concurrencyLimit", -1),
    ),
    BadStackFile(
        "pool-limit-fraction",
        "types",
        "rpa-platform:platform.pools[0].concurrencyLimit",
        edit=setting("pools.0.concurrencyLimit", 2.5),
    ),
    BadStackFile(
        "pool-limit-text",
        "types",
        "rpa-platform:platform.pools[0].concurrencyLimit",
        edit=setting("pools.0.concurrencyLimit", "4"),
    ),
    BadStackFile(
        "pool-limit-beyond-int64",
        "bounds",
        "rpa-platform:platform.pools[0].concurrencyLimit",
        edit=setting("pools.0.concurrencyLimit", 2**63),
    ),
    BadStackFile(
        "pool-limit-zero-active",
        "bounds",
        "rpa-platform:platform.pools[0].concurrencyLimit",
        edit=setting("pools.0.concurrencyLimit", 0),
    ),
    BadStackFile(
        "pool-paused-text",
        "types",
        "rpa-platform:platform.pools[0].paused",
        edit=setting("pools.0.paused", "yes please"),
    ),
    BadStackFile(
        "pool-description-number",
        "types",
        "rpa-platform:platform.pools[0].description",
        edit=setting("pools.0.description", 5),
    ),
    BadStackFile(
        "pool-job-variable-unknown",
        "names",
        "rpa-platform:platform.pools[0].jobDefaults.memLimt",
        edit=setting("pools.0.jobDefaults.memLimt", "1g"),
    ),
    BadStackFile(
        "pool-pull-policy-unknown",
        "types",
        "rpa-platform:platform.pools[0].jobDefaults.imagePullPolicy",
        edit=setting("pools.0.jobDefaults.imagePullPolicy", "Sometimes"),
    ),
    BadStackFile(
        "pool-job-env-not-a-mapping",
        "types",
        "rpa-platform:platform.pools[0].jobDefaults.env",
        edit=setting("pools.0.jobDefaults.env", "A=1"),
    ),
    BadStackFile(
        "pool-job-memory-below-docker",
        "bounds",
        "rpa-platform:platform.pools[0].jobDefaults.memLimit",
        edit=setting("pools.0.jobDefaults.memLimit", "1k"),
    ),
    BadStackFile(
        "pool-template-a-list",
        "types",
        "rpa-platform:platform.pools[0].baseJobTemplate",
        edit=setting("pools.0.baseJobTemplate", [1]),
    ),
    BadStackFile(
        "pool-duplicate",
        "duplicates",
        "rpa-platform:platform.pools",
        edit=lambda c: c[P]["pools"].append(copy.deepcopy(c[P]["pools"][0])),
    ),
    BadStackFile(
        "pool-key-misspelt",
        "names",
        "rpa-platform:platform.pools[0].concurencyLimit",
        edit=setting("pools.0.concurencyLimit", 4),
    ),
    # --- queues -----------------------------------------------------------------------------------------
    BadStackFile(
        "queue-pool-unknown",
        "references",
        "rpa-platform:platform.queues[0].pool",
        edit=setting("queues.0.pool", "rpa-dockr"),
    ),
    BadStackFile(
        "queue-named-default",
        "names",
        "rpa-platform:platform.queues[0].name",
        edit=setting("queues.0.name", "default"),
    ),
    BadStackFile(
        "queue-name-banned",
        "names",
        "rpa-platform:platform.queues[0].name",
        edit=setting("queues.0.name", "crit&cal"),
    ),
    BadStackFile(
        "queue-priority-zero",
        "bounds",
        "rpa-platform:platform.queues[0].priority",
        edit=setting("queues.0.priority", 0),
    ),
    BadStackFile(
        "queue-priority-beyond",
        "bounds",
        "rpa-platform:platform.queues[0].priority",
        edit=setting("queues.0.priority", 2**31),
    ),
    BadStackFile(
        "queue-priority-shared",
        "duplicates",
        "rpa-platform:platform.queues",
        edit=setting("queues.1.priority", 1),
    ),
    BadStackFile(
        "queue-limit-negative",
        "bounds",
        "rpa-platform:platform.queues[1].concurrencyLimit",
        edit=setting("queues.1.concurrencyLimit", -2),
    ),
    BadStackFile(
        "queue-duplicate",
        "duplicates",
        "rpa-platform:platform.queues",
        edit=lambda c: c[P]["queues"].append(copy.deepcopy(c[P]["queues"][0])),
    ),
    # --- workers ----------------------------------------------------------------------------------------
    BadStackFile(
        "worker-pool-unknown",
        "references",
        "rpa-platform:platform.workers[0].pool",
        edit=setting("workers.0.pool", "ghost"),
    ),
    BadStackFile(
        "worker-queue-unknown",
        "references",
        "rpa-platform:platform.workers[0].queues[0]",
        edit=setting("workers.0.queues", ["bulk"]),
    ),
    BadStackFile(
        "worker-limit-zero",
        "bounds",
        "rpa-platform:platform.workers[0].limit",
        edit=setting("workers.0.limit", 0),
    ),
    BadStackFile(
        "worker-limit-beyond",
        "bounds",
        "rpa-platform:platform.workers[0].limit",
        edit=setting("workers.0.limit", 2**40),
    ),
    BadStackFile(
        "worker-replicas-absurd",
        "bounds",
        "rpa-platform:platform.workers[0].replicas",
        edit=setting("workers.0.replicas", 10**30),
    ),
    BadStackFile(
        "worker-replicas-a-bool",
        "types",
        "rpa-platform:platform.workers[0].replicas",
        edit=setting("workers.0.replicas", True),
    ),
    BadStackFile(
        "worker-docker-host-a-path",
        "types",
        "rpa-platform:platform.workers[0].dockerHost",
        edit=setting("workers.0.dockerHost", "/var/run/docker.sock"),
    ),
    BadStackFile(
        "worker-health-port-set",
        "names",
        "rpa-platform:platform.workers[0].healthPort",
        edit=setting("workers.0.healthPort", 18100),
    ),
    BadStackFile(
        "worker-poll-beyond",
        "bounds",
        "rpa-platform:platform.workers[0].pollSeconds",
        edit=setting("workers.0.pollSeconds", 86400),
    ),
    BadStackFile(
        "worker-memory-words",
        "types",
        "rpa-platform:platform.workers[0].memLimit",
        edit=setting("workers.0.memLimit", "2 GB"),
    ),
    BadStackFile(
        "worker-memory-beyond",
        "bounds",
        "rpa-platform:platform.workers[0].memLimit",
        edit=setting("workers.0.memLimit", "9999999999g"),
    ),
    BadStackFile(
        "worker-env-reserved",
        "names",
        "rpa-platform:platform.workers[0].env.PREFECT_API_URL",
        edit=setting("workers.0.env", {"PREFECT_API_URL": "http://x/api"}),
    ),
    BadStackFile(
        "worker-env-a-number",
        "types",
        "rpa-platform:platform.workers[0].env.RETRIES",
        edit=setting("workers.0.env", {"RETRIES": 3}),
    ),
    BadStackFile(
        "worker-image-missing",
        "references",
        "rpa-platform:platform.workers[0].image",
        edit=removing("pools.0.jobDefaults.image"),
    ),
    # --- variables --------------------------------------------------------------------------------------
    BadStackFile(
        "variable-name-uppercase",
        "names",
        "rpa-platform:platform.variables.RPA3_batch",
        edit=setting("variables.RPA3_batch", 1),
    ),
    BadStackFile(
        "variable-value-too-long",
        "bounds",
        "rpa-platform:platform.variables.rpa3_note",
        edit=setting("variables.rpa3_note", "x" * 5001),
    ),
    BadStackFile(
        "variable-integer-beyond-floats",
        "bounds",
        "rpa-platform:platform.variables.rpa3_batch",
        edit=setting("variables.rpa3_batch", 2**53 + 1),
    ),
    BadStackFile(
        "flow-variable-missing",
        "references",
        "rpa-platform:platform.variables.rpa3_timeout",
        edit=removing("variables.rpa3_timeout"),
    ),
    BadStackFile(
        "flow-variable-text",
        "types",
        "rpa-platform:platform.variables.rpa3_max_concurrent_tasks",
        edit=setting("variables.rpa3_max_concurrent_tasks", "5"),
    ),
    # --- concurrency limits -----------------------------------------------------------------------------
    BadStackFile(
        "limit-negative",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[0].limit",
        edit=setting("concurrencyLimits.0.limit", -1),
    ),
    BadStackFile(
        "limit-beyond-int64",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[0].limit",
        edit=setting("concurrencyLimits.0.limit", 2**63),
    ),
    BadStackFile(
        "limit-zero-active",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[2].limit",
        edit=setting("concurrencyLimits.2.limit", 0),
    ),
    BadStackFile(
        "limit-decay-negative",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[1].slotDecayPerSecond",
        edit=setting("concurrencyLimits.1.slotDecayPerSecond", -1),
    ),
    BadStackFile(
        "limit-decay-beyond",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[1].slotDecayPerSecond",
        edit=setting("concurrencyLimits.1.slotDecayPerSecond", 1e19),
    ),
    BadStackFile(
        "limit-adaptive-floor-above-limit",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[0].adaptive.floor",
        edit=setting("concurrencyLimits.0.adaptive", {"floor": 9}),
    ),
    BadStackFile(
        "limit-adaptive-floor-zero",
        "bounds",
        "rpa-platform:platform.concurrencyLimits[0].adaptive.floor",
        edit=setting("concurrencyLimits.0.adaptive", {"floor": 0}),
    ),
    BadStackFile(
        "limit-adaptive-on-a-database",
        "references",
        "rpa-platform:platform.concurrencyLimits[2].adaptive",
        edit=setting("concurrencyLimits.2.adaptive", {"floor": 1}),
    ),
    BadStackFile(
        "limit-name-banned",
        "names",
        "rpa-platform:platform.concurrencyLimits[0].name",
        edit=setting("concurrencyLimits.0.name", "erp>api"),
    ),
    BadStackFile(
        "limit-active-text",
        "types",
        "rpa-platform:platform.concurrencyLimits[0].active",
        edit=setting("concurrencyLimits.0.active", "true"),
    ),
    BadStackFile(
        "limit-duplicate",
        "duplicates",
        "rpa-platform:platform.concurrencyLimits",
        edit=appending("concurrencyLimits", {"name": "db-write", "limit": 2}),
    ),
    BadStackFile(
        "limit-required-missing",
        "references",
        "rpa-platform:platform.concurrencyLimits",
        edit=lambda c: c[P]["concurrencyLimits"].pop(0) and None,
    ),
    BadStackFile(
        "rate-limit-without-rate",
        "references",
        "rpa-platform:platform.concurrencyLimits",
        edit=removing("concurrencyLimits.1.slotDecayPerSecond"),
    ),
    # --- tag limits and adoption ------------------------------------------------------------------------
    BadStackFile(
        "tag-limit-negative",
        "bounds",
        "rpa-platform:platform.tagLimits.ocr",
        edit=setting("tagLimits.ocr", -1),
    ),
    BadStackFile(
        "tag-limit-zero", "bounds", "rpa-platform:platform.tagLimits.ocr", edit=setting("tagLimits.ocr", 0)
    ),
    BadStackFile(
        "tag-limit-beyond",
        "bounds",
        "rpa-platform:platform.tagLimits.ocr",
        edit=setting("tagLimits.ocr", 2**31),
    ),
    BadStackFile(
        "tag-name-banned",
        "names",
        "rpa-platform:platform.tagLimits.ocr%",
        edit=setting("tagLimits", {"ocr%": 2}),
    ),
    BadStackFile(
        "adopt-existing-text",
        "types",
        "rpa-platform:platform.adoptExisting",
        edit=setting("adoptExisting", "yes"),
    ),
]
