"""Bulk loading for generated data (benchmarks, synthetic traffic): many rows of one table in
the session's transaction, as fast as the backend allows. PostgreSQL gets COPY (one stream, no
statement per row); SQLite an executemany of one core INSERT. Rows may leave columns out: every
row is given every column the batch names (None or the column's default), so that a batch is
never split into one statement per differently-shaped row. Flushes nothing else, never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


def uniform(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict]]:
    """The batch's columns, and every row with all of them: a column a row leaves out gets its
    Python-side default (as an INSERT would give it), else None."""
    named: set[str] = set()
    for row in rows:
        unknown = set(row) - set(table.c.keys())
        if unknown:
            raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
        named.update(row)
    scalar: dict[str, Any] = {}
    computed: dict[str, Any] = {}
    for column in table.c:
        default = column.default
        if default is None or getattr(default, "is_sequence", False):
            if column.name in named:
                scalar[column.name] = None
        elif default.is_scalar:
            scalar[column.name] = default.arg
        elif default.is_callable:
            computed[column.name] = default.arg  # SQLAlchemy's wrapper takes the context
    names = [c.name for c in table.c if c.name in named or c.name in scalar or c.name in computed]
    full = []
    for row in rows:
        values = {**scalar, **row}
        for name, make in computed.items():
            if name not in row:
                values[name] = make(None)
        full.append(values)
    return names, full


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert `rows` into `table` in the session's transaction; returns how many."""
    if not rows:
        return 0
    names, full = uniform(table, rows)
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        connection.execute(table.insert(), full)
        return len(full)
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    statement = f"COPY {target} ({columns}) FROM STDIN"
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in full:
            values = []
            for name, process in zip(names, processors, strict=True):
                value = row[name]
                if process is not None and value is not None:
                    value = process(value)
                if isinstance(value, Enum):
                    value = value.value
                values.append(value)
            copy.write_row(values)
    key = table.autoincrement_column
    if key is not None and key.name in names:
        # Explicit ids do not move the sequence: later inserts must not collide with them.
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence(%(table)s, %(column)s), "
            f"(SELECT max({dialect.identifier_preparer.quote(key.name)}) FROM {target}))",
            {"table": table.name, "column": key.name},
        )
    return len(full)
