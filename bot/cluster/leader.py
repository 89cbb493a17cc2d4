"""One worker per deployment: `supportbot worker` holds a PostgreSQL advisory lock while it
runs, so a second worker started by mistake (or as a hot standby) waits until the first one's
session ends, then takes over."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

STANDBY_POLL_S = 5.0
WORKER_LOCK = "supportbot-worker"


@contextmanager
def worker_lock(database_url: str, *, poll_s: float = STANDBY_POLL_S) -> Iterator[None]:
    """Hold the deployment's worker lock while the body runs; waits while another worker holds
    it. SQLite means one machine: no lock."""
    if not database_url.startswith("postgresql"):
        yield
        return
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            # Per schema, so deployments sharing a server (and tests) do not stand each other by.
            query = f"SELECT pg_try_advisory_lock(hashtext(current_schema() || ':{WORKER_LOCK}'))"
            waiting = False
            while not connection.exec_driver_sql(query).scalar():
                if not waiting:
                    log.info("another worker holds the worker lock; standing by")
                    waiting = True
                connection.rollback()
                time.sleep(poll_s)
            connection.commit()  # the session lock outlives the transaction
            log.info("holding the worker lock: this process runs the deployment's background work")
            yield
    finally:
        engine.dispose()
