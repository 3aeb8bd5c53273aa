"""make install (PREFIX, DESTDIR) and the ways in from outside the repo:
the sqlite3 shell loading the installed file, and C (tests/load_example.c,
compiled here) calling sqlite3_load_extension on it, on the real broker.
"""

import os
import stat
import subprocess
import tempfile

import kit


def make_install(dest, *args):
    subprocess.run(["make", "-s", "install", f"DESTDIR={dest}", *args],
                   cwd=kit.ROOT, check=True, capture_output=True, timeout=300)


def test_install_puts_the_loadable_under_prefix_lib_sqlite3():
    with tempfile.TemporaryDirectory() as dest:
        make_install(dest)
        so = f"{dest}/usr/local/lib/sqlite3/kafka.so"
        assert stat.S_IMODE(os.stat(so).st_mode) == 0o755
        with open(so, "rb") as a, open(kit.EXT + ".so", "rb") as b:
            assert a.read() == b.read()
        assert sorted(os.listdir(dest)) == ["usr"], "nothing outside DESTDIR/PREFIX"
        make_install(dest, "PREFIX=/opt/sk")
        assert os.path.isfile(f"{dest}/opt/sk/lib/sqlite3/kafka.so")
        # The shell loads it by the documented path, without the suffix.
        out = subprocess.run(["sqlite3", ":memory:", f".load {dest}/usr/local/lib/sqlite3/kafka",
                              "SELECT kafka_version()"], capture_output=True, text=True,
                             check=True, timeout=60)
        assert out.stdout.startswith("sqlite-kafka "), out


def test_c_example_loads_the_installed_extension_and_uses_the_broker():
    kit.need_broker()
    topic = kit.topic("c-example")
    with tempfile.TemporaryDirectory() as tmp:
        make_install(tmp)
        binary = f"{tmp}/kafka-example"
        cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "sqlite3"],
                                capture_output=True, text=True, check=True).stdout.split()
        cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", binary,
                             str(kit.ROOT / "tests" / "load_example.c"), *cflags],
                            capture_output=True, text=True, timeout=120)
        assert cc.returncode == 0, cc.stderr
        ext = f"{tmp}/usr/local/lib/sqlite3/kafka"
        run = subprocess.run(
            [binary, ext,
             f"CREATE VIRTUAL TABLE t USING kafka(brokers = '{kit.BROKER}', topic = '{topic}',"
             " partitions = 1)",
             "INSERT INTO t(key, value) VALUES ('from', 'C')",
             "SELECT partition, offset, key, value FROM t"],
            capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "0|0|from|C\n"
        assert kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%k=%s\n") == b"from=C\n"
        # Errors come back as SQLite's error text.
        run = subprocess.run([binary, f"{tmp}/missing"], capture_output=True, text=True)
        assert run.returncode == 1 and "missing" in run.stderr, run
    kit.delete_topic(topic)
