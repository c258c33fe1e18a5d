"""The results database: SQLite by default, PostgreSQL when given its URL. Every write transaction holds a
slot of the stack's `db-write` limit (1 for SQLite, which has a single writer), across all flow runs."""

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, Table, create_engine, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement

from flows.runtime import Deadline, SlotPool
from flows.systems.tables import metadata, write_log

_ROWS_PER_TRANSACTION = 500


class ResultsDatabase:
    def __init__(self, url: str, write_slots: SlotPool, timeout_seconds: float, writer: str) -> None:
        # SQLite's busy timeout only matters for readers here: writers queue on the db-write limit instead.
        connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
        self._engine: Engine = create_engine(url, connect_args=connect_args)
        self._write_slots = write_slots
        self._timeout_seconds = timeout_seconds
        self._writer = writer

    def create_tables(self) -> None:
        with self._write_slots.slot(Deadline.after(self._timeout_seconds)):
            metadata.create_all(self._engine)

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows, replacing those with the same primary key; idempotent, so a rerun is harmless."""
        for first in range(0, len(rows), _ROWS_PER_TRANSACTION):
            self._write(table, rows[first : first + _ROWS_PER_TRANSACTION])
        return len(rows)

    def close(self) -> None:
        self._engine.dispose()

    def _write(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        with self._write_slots.slot(Deadline.after(self._timeout_seconds)):
            started_at = time.time()
            with self._engine.begin() as connection:
                connection.execute(self._upsert_statement(table), list(rows))
                connection.execute(
                    insert(write_log).values(
                        writer=self._writer,
                        table_name=table.name,
                        row_count=len(rows),
                        started_at=started_at,
                        finished_at=time.time(),
                    )
                )

    def _upsert_statement(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return _UPSERTS[self._engine.dialect.name](table)


# INSERT ... ON CONFLICT DO UPDATE, once per dialect: `excluded` and `on_conflict_do_update` are on each
# dialect's own `Insert`, not on the base both share.


def _sqlite_upsert(table: Table) -> sqlite.Insert:
    statement = sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=_key_names(table), set_=_updates(table, statement.excluded)
    )


def _postgresql_upsert(table: Table) -> postgresql.Insert:
    statement = postgresql.insert(table)
    return statement.on_conflict_do_update(
        index_elements=_key_names(table), set_=_updates(table, statement.excluded)
    )


def _key_names(table: Table) -> list[str]:
    return [column.name for column in table.primary_key.columns]


def _updates(
    table: Table, excluded: ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]
) -> dict[str, KeyedColumnElement[Any]]:
    """Every column but the key's, set to the value the conflicting row would have inserted."""
    keys = _key_names(table)
    return {column.name: excluded[column.name] for column in table.columns if column.name not in keys}


_UPSERTS: dict[str, Callable[[Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": _sqlite_upsert,
    "postgresql": _postgresql_upsert,
}
