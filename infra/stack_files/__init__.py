"""The stack-file layer: the stack files read and validated once (settings models, their rules, the one
reader), the rules between them and against prefect.yaml and the workflows, and the Prefect objects each stack
writes, by kind."""
