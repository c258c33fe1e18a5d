"""The command-line tools over the stack files and the live stacks: `make check` (check), `make list-config`
(list_config), `make status` (status) and the GitOps verbs (gitops)."""
