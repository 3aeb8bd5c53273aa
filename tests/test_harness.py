"""Tests of the test kit and runner themselves (no extension needed)."""

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

import kit


def test_topic_names_are_unique_and_valid():
    names = [kit.topic() for _ in range(2000)] + [kit.topic("x.y") for _ in range(10)]
    assert len(set(names)) == len(names)
    for n in names:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,249}", n), n
    assert kit.topic("weather").startswith(f"weather-{os.getpid()}-")


def test_expect_error_matches_on_text():
    conn = sqlite3.connect(":memory:")
    e = kit.expect_error(lambda: conn.execute("SELECT * FROM nope"), "no such table: nope")
    assert isinstance(e, sqlite3.Error)
    for fn, sub in [(lambda: conn.execute("SELECT * FROM nope"), "syntax error"),
                    (lambda: conn.execute("SELECT 1"), "anything")]:
        try:
            kit.expect_error(fn, sub)
        except AssertionError:
            continue
        raise AssertionError("expect_error accepted a wrong or missing error")


def test_eqp_returns_plan_text():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t(a INTEGER PRIMARY KEY, b)")
    assert "SEARCH t USING INTEGER PRIMARY KEY" in kit.eqp(conn, "SELECT * FROM t WHERE a = ?", (1,))
    assert "SCAN t" in kit.eqp(conn, "SELECT * FROM t WHERE b = 1")


def test_runner_reports_pass_fail_skip():
    body = (
        "import kit\n"
        "def test_ok(): pass\n"
        "def test_bad(): assert 1 == 2, 'one is not two'\n"
        "def test_skipped(): raise kit.Skip('not today')\n"
        "def helper(): raise RuntimeError('not a test')\n")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "test_sample.py")
        with open(path, "w") as f:
            f.write(body)
        run = [sys.executable, str(kit.ROOT / "tests" / "run.py")]
        p = subprocess.run(run + [path], capture_output=True, text=True, timeout=60)
        lines = p.stdout.splitlines()
        assert p.returncode == 1, p.stdout
        assert lines[-1] == "1 passed, 1 failed, 1 skipped", p.stdout
        assert re.match(r"PASS test_sample\.test_ok \(\d+\.\d\ds\)$", lines[0]), lines
        assert lines[1] == "FAIL test_sample.test_bad: AssertionError: one is not two", lines
        assert "SKIP test_sample.test_skipped: not today" in lines, lines
        p = subprocess.run(run + ["-k", "test_ok", path], capture_output=True, text=True, timeout=60)
        assert (p.returncode, p.stdout.splitlines()[-1]) == (0, "1 passed, 0 failed, 0 skipped"), p.stdout
        p = subprocess.run(run + ["-k", "nothing", path], capture_output=True, text=True, timeout=60)
        assert (p.returncode, p.stdout.splitlines()[-1]) == (1, "0 passed, 0 failed, 0 skipped"), p.stdout


def test_need_broker_fails_in_ci_and_skips_elsewhere():
    saved = (kit.BROKER, kit._broker_down, dict(os.environ))
    try:
        kit.BROKER, kit._broker_down = "127.0.0.1:1", False  # nothing listens there
        os.environ.pop("KAFKA_REQUIRED", None)
        os.environ["CI"] = "true"
        try:
            kit.need_broker()
            raise RuntimeError("need_broker passed without a broker")
        except AssertionError as e:
            assert "127.0.0.1:1" in str(e)
        del os.environ["CI"]
        try:
            kit.need_broker()
            raise RuntimeError("need_broker passed without a broker")
        except kit.Skip:
            pass
    finally:
        kit.BROKER, kit._broker_down = saved[0], saved[1]
        os.environ.clear()
        os.environ.update(saved[2])


def test_kcat_round_trip():
    kit.need_broker()
    t = kit.create_topic(kit.topic("harness"), partitions=2)
    try:
        kit.kcat("-P", "-t", t, "-p", "1", "-K", ":", input="k1:v1\nk2:v2\n")
        out = kit.kcat("-C", "-t", t, "-e", "-q", "-f", "%p %o %k=%s\\n")
        assert out.decode().splitlines() == ["1 0 k1=v1", "1 1 k2=v2"], out
    finally:
        kit.delete_topic(t)


def test_create_topic_with_config_and_delete():
    kit.need_broker()
    t = kit.create_topic(kit.topic("harness"), partitions=3,
                         config={"cleanup.policy": "compact"})
    meta = kit.kcat("-L", "-t", t).decode()
    assert f'topic "{t}" with 3 partitions' in meta, meta
    kit.delete_topic(t)
    deadline = time.monotonic() + 30
    while f'topic "{t}"' in kit.kcat("-L").decode():
        assert time.monotonic() < deadline, f"{t} still listed after delete"
        time.sleep(0.2)
    kit.delete_topic(t)  # a missing topic is fine
    try:
        kit.kcat("-L", "-t", t, "-m", "1", "-X", "bogus.property=1")
    except kit.CommandError as e:
        assert "bogus.property" in str(e), e  # stderr is in the error
    else:
        raise AssertionError("kcat with a bad property did not fail")


@kit.timeout(180)
def test_console_consumer_via_kafka_sh():
    kit.need_broker()
    t = kit.create_topic(kit.topic("harness"))
    try:
        kit.kcat("-P", "-t", t, input="from-kcat\n")
        out = kit.kafka_sh("run-class", "console-consumer", "--bootstrap-server", kit.BROKER,
                           "--topic", t, "--from-beginning", "--max-messages", "1",
                           "--timeout-ms", "60000", timeout=170)
        assert out.splitlines() == ["from-kcat"], out
    finally:
        kit.delete_topic(t)


def _topics_on_broker():
    return set(kit._with_admin(lambda admin: admin.list_topics()))


def _gone(name, timeout=30):
    """Until the broker's metadata no longer lists name (deletion is
    answered before every broker's metadata catches up)."""
    deadline = time.monotonic() + timeout
    while name in _topics_on_broker():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_the_topics_a_test_named_are_deleted_after_it():
    kit.need_broker()
    made, unmade = kit.topic("cleanup"), kit.topic("cleanup-never-made")
    kit.create_topic(made)
    assert kit.remove_topics_made() == [made], "only the topic that exists is deleted"
    assert _gone(made), f"{made} is still on the broker"
    assert kit.remove_topics_made() == [], "the names are forgotten once removed"
    assert unmade not in _topics_on_broker()


def test_a_failing_test_leaves_no_topic_behind():
    """The runner deletes a test's topics whatever its outcome: a test
    that creates a topic and then fails leaves nothing on the broker."""
    kit.need_broker()
    with tempfile.TemporaryDirectory() as d:
        mark = f"{d}/made.txt"
        path = f"{d}/test_leaves_a_topic.py"
        with open(path, "w") as f:
            f.write(
                "import kit\n"
                "def test_creates_then_fails():\n"
                "    kit.need_broker()\n"
                "    name = kit.topic('leftover')\n"
                "    kit.create_topic(name)\n"
                f"    open({mark!r}, 'w').write(name)\n"
                "    assert False, 'failing on purpose'\n")
        p = subprocess.run([sys.executable, str(kit.ROOT / "tests" / "run.py"), path],
                           capture_output=True, text=True, timeout=120, cwd=kit.ROOT)
        assert "0 passed, 1 failed" in p.stdout, p.stdout + p.stderr
        name = open(mark).read()
    assert _gone(name), f"the failing test's topic {name} is still on the broker"
