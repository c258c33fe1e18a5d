"""`python -m infra.cli.status`: a live view of a stack from its Prefect API, checked against its stack file.

collect.py reads the server into the model (model.py), flow_runs.py holds the flow-run queries, stuck.py,
drift.py and offline_workers.py turn the model into findings, render.py draws it, __main__.py is the command
line."""
