"""How sqlite-kafka is versioned and shipped: the version in one place
(VERSION), kafka_debug(), the Python package (pip install . and its sdist,
each in a fresh virtual environment of Debian's /usr/bin/python3) and the
Debian package (make deb, unpacked into a scratch root and loaded from
there).
"""

import importlib.util
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

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
    assert {k: got[k] for k in want} == want, \
        (got, want, "build/kafka.so is from another commit or tree state than the checkout's: run make")
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


# ------------------------------------------------------------- pip --

MOCK_QUERY = r'''
import sqlite3, sys, sqlite_kafka
assert sqlite_kafka.__file__.startswith(sys.prefix), sqlite_kafka.__file__
conn = sqlite3.connect(":memory:", isolation_level=None)
sqlite_kafka.load(conn)
conn.execute("""CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'pkg',
                partitions = 2, value = 'json', columns = 'n INTEGER')""")
conn.executemany("INSERT INTO t(key, n) VALUES (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
print(conn.execute("SELECT count(*), sum(n) FROM t").fetchone())
print(conn.execute("SELECT kafka_debug()").fetchone()[0])
'''


def fresh_venv(tmp):
    """A virtual environment of Debian's python3 (its sqlite3 loads
    extensions); its site packages give setuptools and wheel, so that pip
    builds without reaching PyPI (--no-build-isolation)."""
    venv = f"{tmp}/venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                   check=True, timeout=120)
    return venv


def pip_install(venv, what, env=None):
    return subprocess.run([f"{venv}/bin/pip", "install", "--no-build-isolation",
                           "--disable-pip-version-check", "--no-input", what],
                          capture_output=True, text=True, timeout=600, env=env)


def run_mock_query(venv, tmp):
    """MOCK_QUERY from outside the repository (so sqlite_kafka is the
    installed one): its kafka_debug() lines."""
    run = subprocess.run([f"{venv}/bin/python", "-c", MOCK_QUERY], cwd=tmp,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    first, debug = run.stdout.split("\n", 1)
    assert first == "(3, 6)", run.stdout
    return debug_lines(debug)


def installed(venv, code):
    """What code prints, run by the venv's python outside the repository
    (whose sqlite_kafka.egg-info would answer for the installed one)."""
    return subprocess.run([f"{venv}/bin/python", "-c", code], capture_output=True, text=True,
                          check=True, timeout=60, cwd=venv).stdout.strip()


@kit.timeout(300)
def test_pip_install_dot_in_a_fresh_venv_ships_the_loadable_and_the_datasette_entry_point():
    with tempfile.TemporaryDirectory() as tmp:
        venv = fresh_venv(tmp)
        run = pip_install(venv, str(kit.ROOT))
        assert run.returncode == 0, run.stdout + run.stderr
        debug = run_mock_query(venv, tmp)
        assert debug["Version"] == VERSION and debug["Commit"].startswith(
            git("rev-parse", "--short=12", "HEAD")), debug
        files = installed(venv, "import importlib.metadata as m; "
                          "print(*sorted(str(f) for f in m.files('sqlite-kafka')))").split()
        assert "sqlite_kafka/kafka.so" in files, files
        for plugin_file in ("__init__.py", "reads.py", "templates/kafka_topic.html"):
            assert f"sqlite_kafka/datasette_plugin/{plugin_file}" in files, (plugin_file, files)
        wheel = installed(venv, "import importlib.metadata as m; "
                          "print(m.distribution('sqlite-kafka').read_text('WHEEL'))")
        assert "Root-Is-Purelib: false" in wheel and "Tag: py3-none-linux_" in wheel, wheel
        plugins = installed(venv, "import importlib.metadata as m; print(*[(e.name, e.value) "
                            "for e in m.entry_points(group='datasette')])")
        assert plugins == "('kafka', 'sqlite_kafka.datasette_plugin')", plugins
        extra = installed(venv, "import importlib.metadata as m; d = m.metadata('sqlite-kafka'); "
                          "print(d.get_all('Provides-Extra'), d.get_all('Requires-Dist'))")
        assert re.fullmatch(r"\['datasette'\] \[.datasette \(?>=0\.65\)? ?; extra == .datasette..\]",
                            extra), extra
        assert installed(venv, "import importlib.metadata as m; print(m.version('sqlite-kafka'))") \
            == VERSION


def fake_tools(bin_dir, missing_pkg, apt_marker):
    """Commands that make this system look as if missing_pkg were not
    installed: pkg-config finds nothing, dpkg-query knows every package but
    missing_pkg, apt-get only leaves a marker that it ran."""
    scripts = {
        "pkg-config": 'case " $* " in *" --exists "*) exit 1;; esac\nexec /usr/bin/pkg-config "$@"',
        "dpkg-query": f'[ "${{@: -1}}" = {missing_pkg} ] && exit 1\necho "install ok installed"',
        "apt-get": f"touch {apt_marker}",
    }
    os.makedirs(bin_dir)
    for name, body in scripts.items():
        path = f"{bin_dir}/{name}"
        with open(path, "w") as f:
            f.write(f"#!/bin/bash\n{body}\n")
        os.chmod(path, 0o755)


@kit.timeout(300)
def test_the_sdist_builds_from_scratch_or_names_the_missing_debian_packages():
    with tempfile.TemporaryDirectory() as tmp:
        venv = fresh_venv(tmp)
        subprocess.run([f"{venv}/bin/python", "setup.py", "-q", "sdist", "-d", tmp], cwd=kit.ROOT,
                       check=True, capture_output=True, timeout=120)
        sdist = f"{tmp}/sqlite-kafka-{VERSION}.tar.gz"
        with tarfile.open(sdist) as tar:
            names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        needed = {"Makefile", "VERSION", "LICENSE", "CHANGELOG.md", "tests/deps.sh", "ext/kafka.c",
                  "ext/codec/protobuf.cc", "include/base.h", "sqlite_kafka/__init__.py"}
        assert needed <= names, needed - names
        assert not [n for n in names if n.startswith("tests/test")], sorted(names)

        # Without a build package, pip names it and how to install it, and
        # installs nothing itself.
        marker = f"{tmp}/apt-get-ran"
        fake_tools(f"{tmp}/bin", "libavro-dev", marker)
        env = dict(os.environ, PATH=f"{tmp}/bin:{os.environ['PATH']}")
        run = pip_install(venv, sdist, env=env)
        out = run.stdout + run.stderr
        assert run.returncode != 0 and "missing Debian packages: libavro-dev" in out and \
            "apt-get install -y libavro-dev" in out and "building the extension failed" in out, out
        assert not os.path.exists(marker), "pip install ran apt-get"
        run = pip_install(venv, sdist, env=dict(os.environ, PATH="/nonexistent"))
        assert run.returncode != 0 and "needs make and a C compiler" in run.stdout + run.stderr, \
            run.stdout + run.stderr

        run = pip_install(venv, sdist)
        assert run.returncode == 0, run.stdout + run.stderr
        debug = run_mock_query(venv, tmp)
        # Built outside a git checkout: no commit to tell.
        assert (debug["Version"], debug["Commit"]) == (VERSION, "unknown"), debug


def source_package():
    """The repository's sqlite_kafka, imported from its file."""
    spec = importlib.util.spec_from_file_location(
        "sqlite_kafka_source", kit.ROOT / "sqlite_kafka" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_says_when_pythons_sqlite3_cannot_load_extensions():
    class NoExtensions:  # what sqlite3.connect() gives in a Python built without them
        pass

    try:
        source_package().load(NoExtensions())
    except RuntimeError as e:
        assert "cannot load extensions" in str(e) and "/usr/bin/python3" in str(e), e
    else:
        raise AssertionError("load() accepted a connection that cannot load extensions")


def test_load_names_a_shared_library_the_system_lacks():
    with tempfile.TemporaryDirectory() as tmp:
        pkg = f"{tmp}/pkg/sqlite_kafka"
        os.makedirs(pkg)
        shutil.copy(kit.ROOT / "sqlite_kafka" / "__init__.py", pkg)
        with open(f"{tmp}/stub.c", "w") as f:
            f.write("int sqlite3_kafka_init(void) { return 0; }\n")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", f"{tmp}/libsk_gone.so", f"{tmp}/stub.c"],
                       check=True, timeout=60)
        subprocess.run(["cc", "-shared", "-fPIC", "-o", f"{pkg}/kafka.so", f"{tmp}/stub.c",
                        f"-L{tmp}", "-Wl,--no-as-needed", "-lsk_gone"], check=True, timeout=60)
        os.remove(f"{tmp}/libsk_gone.so")
        run = subprocess.run(
            ["/usr/bin/python3", "-c", "import sqlite3, sqlite_kafka; "
             "sqlite_kafka.load(sqlite3.connect(':memory:'))"],
            env=dict(os.environ, PYTHONPATH=f"{tmp}/pkg"), cwd=tmp, capture_output=True,
            text=True, timeout=60)
        assert run.returncode != 0 and "libsk_gone.so" in run.stderr and \
            f"`ldd {pkg}/kafka.so`" in run.stderr, (run.returncode, run.stdout, run.stderr)


# ------------------------------------------------------------- deb --

@kit.timeout(300)
def test_make_deb_installs_the_loadable_to_usr_lib_sqlite3_with_its_library_depends():
    deb = kit.ROOT / "build" / f"sqlite-kafka_{VERSION}_{dpkg_arch()}.deb"
    run = subprocess.run(["make", "-s", "deb"], cwd=kit.ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0 and deb.is_file(), run.stdout + run.stderr
    fields = {f: subprocess.run(["dpkg-deb", "-f", str(deb), f], capture_output=True, text=True,
                                check=True).stdout.strip()
              for f in ("Package", "Version", "Architecture", "Depends")}
    assert fields["Package"] == "sqlite-kafka" and fields["Version"] == VERSION, fields
    depends = {d.split()[0]: d for d in fields["Depends"].split(", ")}
    # libsqlite3-0 at the oldest SQLite the extension loads into; the rest
    # from what the .so links (dpkg-shlibdeps).
    assert depends.get("libsqlite3-0") == "libsqlite3-0 (>= 3.38.0)", depends
    assert {"librdkafka1", "libcjson1", "libavro23", "libcurl4"} <= set(depends), depends
    with tempfile.TemporaryDirectory() as root:
        subprocess.run(["dpkg", "-x", str(deb), root], check=True, timeout=60)
        files = sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())
        assert files == ["usr/lib/sqlite3/kafka.so", "usr/share/doc/sqlite-kafka/changelog.gz",
                         "usr/share/doc/sqlite-kafka/copyright"], files
        shell = subprocess.run(
            ["sqlite3", ":memory:", f".load {root}/usr/lib/sqlite3/kafka",
             "CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'deb', partitions = 1)",
             "INSERT INTO t(key, value) VALUES ('k', 'from the deb')",
             "SELECT key, value FROM t", "SELECT kafka_version()"],
            capture_output=True, text=True, timeout=60)
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout.splitlines()[0] == "k|from the deb", shell.stdout
        assert shell.stdout.splitlines()[1].startswith(f"sqlite-kafka {VERSION}, "), shell.stdout


def dpkg_arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


# ----------------------------------------------------- make targets --

def test_every_target_that_uses_test_tools_installs_them_first():
    """On a fresh clone, `make bench` (and fuzz, valgrind, kafka-up,
    registry-up) must install the Debian packages and build/venv they use
    before using them, as `make test` does (run-all.sh). Read from make -n:
    nothing runs. BUILD is a fresh folder, as on a fresh clone: with the
    fuzzers already built (CI runs make fuzz before make test), make -n fuzz
    has nothing to compile and shows no clang++."""
    first_use = {"bench": "tests/broker/kafka.sh up", "fuzz": "clang++",
                 "valgrind": "tests/valgrind/run.sh", "kafka-up": "tests/broker/kafka.sh up",
                 "registry-up": "tests/registry/apicurio.sh up"}
    for target, use in first_use.items():
        with tempfile.TemporaryDirectory(prefix="fresh-build-") as fresh:
            lines = subprocess.run(["make", "-n", f"BUILD={fresh}", target], cwd=kit.ROOT,
                                   capture_output=True, text=True, check=True,
                                   timeout=120).stdout.splitlines()
        deps = [i for i, line in enumerate(lines) if line.strip() == "bash tests/deps.sh"]
        uses = [i for i, line in enumerate(lines) if use in line]
        assert deps and uses and deps[0] < uses[0], (target, deps, uses, lines[-10:])
