"""`make loadtest STACK=dev`: many rpa3 flow runs at once against a demo ERP that enforces the stack's limits,
measured from the ERP's side; a JSON result and a picture in loadtest-results/, and a step-up mode that finds
where more width stops paying. Run `python -m tools.loadtest --help`."""
