"""GitOps as make verbs: `make pr-preview` (a pull request's job) and `make merge-apply` (a merge's job), the
same on a laptop as in the GitHub workflows, which only call them and post the summary they write."""
