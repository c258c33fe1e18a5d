"""The Prefect server this project starts on a developer's machine (`make server`), and the settings every
Prefect server it starts shares (the tests' servers too)."""
