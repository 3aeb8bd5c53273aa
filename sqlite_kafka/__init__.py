"""sqlite-kafka from Python: Apache Kafka topics as SQLite tables.

    import sqlite3, sqlite_kafka
    conn = sqlite3.connect(":memory:", isolation_level=None)
    sqlite_kafka.load(conn)

The loadable is the one installed with this package (``kafka.so`` beside
this file); in a source checkout that has not been installed, the one
``make`` built (``build/kafka.so``).

An INSERT into a topic table produces when it runs: the messages are in
Kafka once it returns, whether or not the connection commits (only tables
with a ``transactional_id`` take them back on rollback). Open the
connection with ``isolation_level=None`` (autocommit) so that Python's
sqlite3 does not wrap statements in transactions of its own.
"""

import sqlite3
from pathlib import Path

__all__ = ["load", "loadable_path"]

_HERE = Path(__file__).resolve().parent


def loadable_path():
    """The path of the loadable without its suffix, as
    ``sqlite3.Connection.load_extension`` and ``.load`` take it."""
    for candidate in (_HERE / "kafka.so", _HERE.parent / "build" / "kafka.so"):
        if candidate.is_file():
            return str(candidate.with_suffix(""))
    raise FileNotFoundError(
        f"sqlite_kafka: no kafka.so in {_HERE} (an installed package) or in "
        f"{_HERE.parent / 'build'} (a source checkout: run make)")


def load(conn):
    """Loads the extension into conn, a sqlite3.Connection."""
    if not hasattr(conn, "enable_load_extension"):
        raise RuntimeError(
            "sqlite_kafka: this Python's sqlite3 module cannot load extensions "
            "(it was built without them, as pyenv's and some others are); use "
            "Debian's /usr/bin/python3, or a Python built with "
            "--enable-loadable-sqlite-extensions")
    path = loadable_path()
    conn.enable_load_extension(True)
    try:
        conn.load_extension(path)
    except sqlite3.OperationalError as e:
        if "cannot open shared object file" not in str(e):
            raise
        raise sqlite3.OperationalError(
            f"sqlite_kafka: {path}.so needs a shared library this system lacks "
            f"({e}); `ldd {path}.so` lists each one it cannot find (on Debian: "
            "librdkafka1, libcjson1, libavro23, libcurl4, libprotobuf32)") from e
    finally:
        conn.enable_load_extension(False)
