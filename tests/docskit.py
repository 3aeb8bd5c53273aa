"""What the tests of the documentation's SQL share (test_cookbook.py,
test_docs_examples.py): the pages' names replaced with a run's own, and the
groups and registry subjects a run made removed again."""

import sqlite3
import urllib.error
import urllib.request

import kit


def substitute(sql, quoted):
    """sql with each quoted name 'x' of quoted replaced by 'quoted[x]', and
    the shell's .load of the extension pointed at this build."""
    for name, ours in quoted.items():
        sql = sql.replace(f"'{name}'", f"'{ours}'")
    return sql.replace(".load ./build/kafka", f".load {kit.EXT}")


def delete_groups(*groups):
    """Deletes consumer groups; one that was never made is fine."""
    conn = kit.connect()
    try:
        for g in groups:
            try:
                conn.execute("SELECT kafka_delete_group(?, ?)", (kit.BROKER, g))
            except sqlite3.Error as e:
                if "does not exist" not in str(e):
                    raise
    finally:
        conn.close()


def delete_subjects(*subjects):
    """Deletes registry subjects; one that was never made is fine."""
    for subject in subjects:
        request = urllib.request.Request(f"{kit.REGISTRY}/subjects/{subject}", method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
