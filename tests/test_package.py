"""How sqlite-kafka is versioned and shipped: the version in one place
(VERSION), kafka_debug(), the Python package (pip install . and its sdist,
each in a fresh virtual environment of Debian's /usr/bin/python3) and the
Debian package (make deb, unpacked into a scratch root and loaded from
there).
"""

import sqlite3
import subprocess

import kit

VERSION = (kit.ROOT / "VERSION").read_text().strip()


def git(*args):
    return subprocess.run(["git", *args], cwd=kit.ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def debug_lines(text):
    """kafka_debug()'s `Name: value` lines as a dict."""
    return dict(line.split(": ", 1) for line in text.splitlines())


def test_kafka_debug_tells_version_commit_libraries_and_codecs():
    conn = kit.connect()
    got = debug_lines(conn.execute("SELECT kafka_debug()").fetchone()[0])
    assert list(got) == ["Version", "Commit", "SQLite", "librdkafka", "librdkafka features",
                         "Codecs", "Built with"], got
    dirty = "" if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=kit.ROOT).returncode == 0 \
        else "-dirty"
    want = {"Version": VERSION, "Commit": git("rev-parse", "--short=12", "HEAD") + dirty,
            "SQLite": sqlite3.sqlite_version}
    assert {k: got[k] for k in want} == want, (got, want)
    assert conn.execute("SELECT kafka_version()").fetchone()[0] == \
        f"sqlite-kafka {VERSION}, librdkafka {got['librdkafka']}"
    # Debian's librdkafka has these; the tests of SASL and TLS rely on them.
    features = got["librdkafka features"].split(",")
    assert {"ssl", "sasl_plain", "sasl_scram", "zstd"} <= set(features), features
    codecs = got["Codecs"].split(", ")
    assert codecs[:3] == ["text", "blob", "json"] and \
        {"avro", "jsonschema", "protobuf"} <= set(codecs), codecs
    built = dict(lib.rsplit(" ", 1) for lib in got["Built with"].split(", "))
    assert built["rdkafka"] == got["librdkafka"] and built["sqlite3"] == sqlite3.sqlite_version, built
    kit.expect_error(lambda: conn.execute("SELECT kafka_debug(1)"), "wrong number of arguments")
