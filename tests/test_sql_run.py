"""sql/run.sh: the sql/ scripts on another broker and registry (BROKERS,
REGISTRY) and from any directory (KAFKA_EXT), without editing the files."""

import os
import subprocess
import tempfile

import kit

RUN = str(kit.ROOT / "sql" / "run.sh")
SQL = kit.ROOT / "sql"
TUTORIAL_BROKERS = "'localhost:29092'"
TUTORIAL_REGISTRY = "'http://localhost:8081/apis/ccompat/v7'"


def run_sh(db, script, cwd, **env):
    return subprocess.run([RUN, db, str(SQL / script)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **env))


def test_addresses_become_sql_literals_and_the_load_path_kafka_ext():
    brokers, registry = "b1:9092,it's&|\\x", "http://r:8081/apis/ccompat/v7?a=1&b=|"
    with tempfile.TemporaryDirectory() as tmp:
        capture = f"{tmp}/sqlite3"  # stands for sqlite3: keeps what it was fed
        with open(capture, "w") as f:
            f.write(f'#!/bin/sh\necho "$1" > {tmp}/db\ncat > {tmp}/fed\n')
        os.chmod(capture, 0o755)
        run = run_sh("my.db", "weather-avro.sql", tmp, SQLITE3=capture, BROKERS=brokers,
                     REGISTRY=registry, KAFKA_EXT="/opt/sk/kafka")
        assert run.returncode == 0, run.stderr
        with open(f"{tmp}/fed") as f:
            fed = f.read()
        with open(f"{tmp}/db") as f:
            assert f.read() == "my.db\n"
    want = ((SQL / "weather-avro.sql").read_text()
            .replace(TUTORIAL_BROKERS, "'b1:9092,it''s&|\\x'")
            .replace(TUTORIAL_REGISTRY, "'http://r:8081/apis/ccompat/v7?a=1&b=|'")
            .replace("\n.load ./build/kafka\n", "\n.load '/opt/sk/kafka'\n"))
    assert fed == want, "\n".join(a + " | " + b for a, b in zip(fed.splitlines(), want.splitlines())
                                  if a != b)


def test_every_script_names_only_the_addresses_run_sh_replaces():
    for script in sorted(SQL.glob("*.sql")):
        code = "\n".join(line.split("--")[0] for line in script.read_text().splitlines())
        rest = code.replace(TUTORIAL_BROKERS, "").replace(TUTORIAL_REGISTRY, "")
        for address in ("localhost", "127.0.0.1", ":29092", ":8081"):
            assert address not in rest, f"{script.name} names {address} in another form"
        assert ".load" not in code or "\n.load ./build/kafka\n" in f"\n{code}\n", script.name


def test_weather_on_the_mock_cluster_from_another_directory():
    with tempfile.TemporaryDirectory() as tmp:
        run = run_sh("weather.db", "weather.sql", tmp, BROKERS="mock")
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines()[-1] == "60 samples in kubertron.weather.inbound", run.stdout
        assert os.path.isfile(f"{tmp}/weather.db")


def test_weather_avro_on_the_registry_given():
    kit.need_registry()
    with tempfile.TemporaryDirectory() as tmp:
        run = run_sh("weather.db", "weather-avro.sql", tmp, BROKERS="mock", REGISTRY=kit.REGISTRY)
        assert run.returncode == 0, run.stderr
        assert "consumed 60 samples" in run.stdout and "kubertron.weather.avro-value" in run.stdout, \
            run.stdout


def test_usage():
    run = subprocess.run([RUN, "only-a-db"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "usage: " in run.stderr, run
    run = subprocess.run([RUN, "x.db", "sql/missing.sql"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "no script sql/missing.sql" in run.stderr, run
