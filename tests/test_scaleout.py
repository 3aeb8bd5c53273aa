"""Groups that scale out (SPEC section 14, issue 28) against the real
broker: topics of many partitions scan with a prefetch sized for them, and
exactly-once pipelines of one group in two processes never both commit."""

import collections
import contextlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

import kit

B = kit.BROKER


def test_a_topic_of_many_partitions_counts_every_message():
    """300 partitions: the scan consumer is made with the larger prefetch
    (client_prefetch_kbytes) at connect and when a second cursor needs its
    own; a user's rdkafka.queued.max.messages.kbytes still wins."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("many"), partitions=300)
    try:
        lines = "".join(f"k{i}\tv{i}\n" for i in range(3000))
        kit.kcat("-P", "-t", topic, "-K", "\t", input=lines)
        conn = kit.connect()
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{B}', topic='{topic}')")
        conn.execute(f"CREATE VIRTUAL TABLE u USING kafka(brokers='{B}', topic='{topic}', "
                     "rdkafka.queued.max.messages.kbytes=2048)")
        got = conn.execute("SELECT count(*), count(DISTINCT value) FROM t").fetchone()
        assert got == (3000, 3000), got
        # two cursors at once: the second makes its own consumer
        pairs = conn.execute("SELECT (SELECT count(*) FROM t), count(*) FROM t").fetchone()
        assert pairs == (3000, 3000), pairs
        got = conn.execute("SELECT count(*), count(DISTINCT partition) FROM u").fetchone()
        assert got[0] == 3000 and got[1] > 250, got
    finally:
        kit.delete_topic(topic)


# A pipeline process: the group's exactly-once pipeline in a loop of random
# LIMITs until its deadline or until idle_exit statements in a row moved
# nothing, half a second apart (0: never); prints "ok failed last-error".
PIPELINE = r"""
import random, sqlite3, sys, time
ext, broker, topic, out, group, txid, seed, seconds, options, idle_exit = sys.argv[1:]
rnd = random.Random(int(seed))
db = sqlite3.connect(":memory:", isolation_level=None)
db.enable_load_extension(True)
db.load_extension(ext)
db.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{broker}', topic='{topic}', group='{group}'{options})")
db.execute(f"CREATE VIRTUAL TABLE o USING kafka(brokers='{broker}', topic='{out}', transactional_id='{txid}')")
end, idle, ok, failed, last = time.monotonic() + float(seconds), 0, 0, 0, ""
while time.monotonic() < end and (idle < int(idle_exit) or not int(idle_exit)):
    try:
        n = db.execute(f"INSERT INTO o(key, value) SELECT key, value FROM g LIMIT {rnd.randint(20, 200)}").rowcount
        ok, idle = ok + 1, (idle + 1 if n == 0 else 0)
        if n == 0:
            time.sleep(0.5)
    except sqlite3.Error as e:
        failed, last = failed + 1, str(e)
        time.sleep(rnd.random() * 0.3)
print(ok, failed, last.replace("\n", " "))
"""


def seed_from_env(name):
    seed = int(os.environ.get(name) or random.randrange(1 << 30))
    print(f"seed: {name}={seed}")
    return seed


def output_keys(topic):
    """The output's keys as an independent read_committed reader sees them."""
    text = kit.kcat("-C", "-e", "-q", "-X", "isolation.level=read_committed", "-t", topic, "-f", "%k\\n")
    return collections.Counter(text.decode().split())


def start_pipeline(topic, out, group, i, seed, seconds, options="", idle_exit=3):
    """Pipeline process i (transactional_id {out}-tx{i})."""
    return subprocess.Popen([sys.executable, "-c", PIPELINE, kit.EXT, B, topic, out, group,
                             f"{out}-tx{i}", str(seed + i), str(seconds), options, str(idle_exit)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_output_once(out, keys, seed, said):
    """Every input key exactly once in the output, read_committed."""
    got = output_keys(out)
    twice = sorted(k for k, c in got.items() if c > 1)
    missing = sorted(set(keys) - set(got))
    assert not twice and not missing, (
        f"seed {seed}: {len(twice)} keys written more than once (e.g. {twice[:5]}), "
        f"{len(missing)} missing (e.g. {missing[:5]}); the processes said {said}")


def run_pipelines(topic, out, group, seed, n):
    """n pipeline processes of one group at once, then one alone to drain
    what they left; returns their printed summaries."""
    def start(i, seconds):
        return start_pipeline(topic, out, group, i, seed, seconds)
    procs = [start(i, 20) for i in range(n)]
    said = [p.communicate(timeout=120) for p in procs]
    said.append(start(n, 30).communicate(timeout=120))
    return [o.strip() or e[-500:] for o, e in said]


@kit.timeout(240)
def test_two_processes_of_one_exactly_once_pipeline_never_both_commit():
    """Issue 28's repro: two processes run INSERT INTO out SELECT key,
    value FROM g (each with its own transactional_id) at once; an
    independent read_committed reader finds every input key once."""
    kit.need_broker()
    seed = seed_from_env("SCALEOUT_SEED")
    topic = kit.create_topic(kit.topic("eos-in"), partitions=4)
    out = kit.create_topic(kit.topic("eos-out"), partitions=1)
    try:
        keys = fill(topic, 20000, 4)
        said = run_pipelines(topic, out, kit.topic("eos-g"), seed, 2)
        print(f"the processes said: {said}")
        check_output_once(out, keys, seed, said)
    finally:
        kit.delete_topic(topic)
        kit.delete_topic(out)


# A member process of a join = 1 group: SELECTs of random LIMITs (slowed
# down per row by `delay` seconds) until its deadline or until three in a
# row read nothing after `min_seconds`; prints each row's "partition key",
# then "done ok failed last-error".
MEMBER = r"""
import random, sqlite3, sys, time
ext, broker, topic, group, seed, seconds, min_seconds, delay = sys.argv[1:]
rnd = random.Random(int(seed))
db = sqlite3.connect(":memory:", isolation_level=None)
db.enable_load_extension(True)
db.load_extension(ext)
db.create_function("slow", 1, lambda x: time.sleep(float(delay)) or x)
db.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{broker}', topic='{topic}', group='{group}', "
           "join=1, rdkafka.heartbeat.interval.ms=300)")
t0 = time.monotonic()
idle, ok, failed, last = 0, 0, 0, ""
while time.monotonic() - t0 < float(seconds) and (idle < 3 or time.monotonic() - t0 < float(min_seconds)):
    try:
        rows = db.execute(f"SELECT partition, slow(key) FROM g LIMIT {rnd.randint(20, 150)}").fetchall()
        for p, k in rows:
            print(p, k)
        ok, idle = ok + 1, (idle + 1 if not rows else 0)
    except sqlite3.Error as e:
        failed, last = failed + 1, str(e)
    sys.stdout.flush()
    time.sleep(rnd.random() * 0.05)
print("done", ok, failed, last.replace("\n", " "))
"""


def start_member(topic, group, seed, seconds, min_seconds, delay=0.0):
    return subprocess.Popen([sys.executable, "-c", MEMBER, kit.EXT, B, topic, group, str(seed),
                             str(seconds), str(min_seconds), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def member_rows(out):
    """(rows as (partition, key), the summary line) of a member's output."""
    lines = out.splitlines()
    rows = [tuple(line.split()) for line in lines if not line.startswith("done")]
    return [(int(p), k) for p, k in rows], next((line for line in lines if line.startswith("done")), "")


def group_assignments(conn, group):
    """{member_id: set of partitions} from kafka_group_members."""
    got = {}
    try:
        rows = conn.execute("SELECT member_id, assignment FROM kafka_group_members(?, ?)", (B, group)).fetchall()
    except sqlite3.Error as e:  # before the first member joined
        if "does not exist" not in str(e):
            raise
        rows = []
    for member, assignment in rows:
        parts = json.loads(assignment or "[]")
        got[member] = {p["partition"] for p in parts} if parts and isinstance(parts[0], dict) else set(parts)
    return got


def check_every_message_once(keys, outputs, seed):
    seen = collections.Counter(k for rows, _ in outputs for _, k in rows)
    twice = sorted(k for k, c in seen.items() if c > 1)
    missing = sorted(set(keys) - set(seen))
    assert not twice and not missing, (
        f"seed {seed}: {len(twice)} messages read twice (e.g. {twice[:5]}), {len(missing)} never "
        f"(e.g. {missing[:5]}); the members said {[s for _, s in outputs]}")


def fill(topic, n, partitions):
    keys = [f"k{i:05d}" for i in range(n)]
    kit.kcat("-P", "-t", topic, "-K", "\t", input="".join(f"{k}\tv\n" for k in keys))
    return keys


@contextlib.contextmanager
def seeded_topic(prefix, partitions, n):
    """A seed (printed), a topic of n keyed messages and a group name; the
    topic is deleted afterwards."""
    kit.need_broker()
    seed = seed_from_env("SCALEOUT_SEED")
    topic = kit.create_topic(kit.topic(prefix), partitions=partitions)
    try:
        yield seed, topic, kit.topic(f"{prefix}-g"), fill(topic, n, partitions)
    finally:
        kit.delete_topic(topic)


@kit.timeout(240)
def test_three_members_share_a_12_partition_topic_and_read_every_message_once():
    """join = 1: three processes are members of one group; while all three
    are in it, kafka_group_members shows disjoint assignments that cover
    the topic; together they read every message exactly once."""
    with seeded_topic("join3", 12, 6000) as (seed, topic, group, keys):
        procs = [start_member(topic, group, seed + i, 90, 15, 0.002) for i in range(3)]
        conn, seen_three = kit.connect(), None
        while any(p.poll() is None for p in procs):
            got = group_assignments(conn, group)
            if len(got) == 3 and all(got.values()):
                seen_three = got
            time.sleep(0.5)
        outputs = [member_rows(p.communicate(timeout=60)[0]) for p in procs]
        assert seen_three, f"seed {seed}: never saw three members with partitions; said {[s for _, s in outputs]}"
        owned = [p for parts in seen_three.values() for p in parts]
        assert sorted(owned) == list(range(12)), f"seed {seed}: assignments {seen_three} overlap or miss"
        check_every_message_once(keys, outputs, seed)
        assert all(rows for rows, _ in outputs), f"seed {seed}: a member read nothing: {[s for _, s in outputs]}"


@kit.timeout(240)
def test_a_member_joining_mid_statement_loses_and_duplicates_nothing():
    """join = 1: a member reads slowly (statements of about a second); two
    more join while its statements run. The rebalance waits for its
    statement's position to commit: every message is read exactly once."""
    with seeded_topic("joinmid", 6, 3000) as (seed, topic, group, keys):
        procs = [start_member(topic, group, seed, 90, 10, 0.01)]
        for i in (1, 2):
            time.sleep(1.5 + random.Random(seed + i).random())
            procs.append(start_member(topic, group, seed + i, 90, 10, 0.001))
        outputs = [member_rows(p.communicate(timeout=120)[0]) for p in procs]
        check_every_message_once(keys, outputs, seed)
        assert all(rows for rows, _ in outputs[1:]), f"seed {seed}: a newcomer read nothing: {[s for _, s in outputs]}"


@kit.timeout(300)
def test_join_pipelines_added_and_killed_at_random_write_every_input_once():
    """join = 1 exactly-once pipelines (each its own transactional_id) on a
    6-partition topic, input arriving all along: for 25 s members are
    started (up to three at once) and killed -9 at random, the survivors
    killed at the end, then one runs alone to the end; a
    read_committed reader finds every input key exactly once."""
    kit.need_broker()
    seed = seed_from_env("SCALEOUT_SEED")
    rnd = random.Random(seed)
    topic = kit.create_topic(kit.topic("joineos-in"), partitions=6)
    out = kit.create_topic(kit.topic("joineos-out"), partitions=1)
    group = kit.topic("joineos-g")
    join = ", join=1, rdkafka.heartbeat.interval.ms=300"
    try:
        keys = fill(topic, 5000, 6)
        procs, said, started, killed = [], [], 0, 0
        end = time.monotonic() + 25
        while time.monotonic() < end:
            more = [f"s{len(keys) + i:06d}" for i in range(1500)]
            kit.kcat("-P", "-t", topic, "-K", "\t", input="".join(f"{k}\tv\n" for k in more))
            keys += more
            alive = [p for p in procs if p.poll() is None]
            if len(alive) < 3 and (not alive or rnd.random() < 0.6):
                procs.append(start_pipeline(topic, out, group, started, seed, 60, join, idle_exit=0))
                started += 1
            elif alive:
                victim = rnd.choice(alive)
                victim.kill()
                killed += 1
            time.sleep(rnd.uniform(0.5, 3))
        for p in procs:
            if p.poll() is None:
                p.kill()
            said.append(p.communicate(timeout=60)[0].strip())
        # Killed members keep their partitions until the broker drops them
        # (session.timeout.ms, 6 s): the last one drains what it is assigned,
        # so it stops only after 15 s with nothing to read, by then all of them.
        last = start_pipeline(topic, out, group, started, seed, 90, ", join=1, timeout_ms=30000",
                              idle_exit=30)
        said.append(last.communicate(timeout=120)[0].strip())
        print(f"started {started}, killed {killed}; they said {said}")
        check_output_once(out, keys, seed, said)
    finally:
        kit.delete_topic(topic)
        kit.delete_topic(out)


def test_join_needs_a_group_and_is_0_or_1():
    conn = kit.connect()
    kit.expect_error(lambda: conn.execute(
        f"CREATE VIRTUAL TABLE a USING kafka(brokers='{B}', topic='x', join=1)"),
        "option join needs option group")
    kit.expect_error(lambda: conn.execute(
        f"CREATE VIRTUAL TABLE b USING kafka(brokers='{B}', topic='x', group='g', join=2)"), "join")


def member_behind_a_holder(topic, group, options):
    """(holder, newcomer): connections with a join = 1 table g; the holder's
    member read the whole 10-message topic and runs no statement since (so
    it takes no part in the rebalance the newcomer starts)."""
    first, second = kit.connect(), kit.connect()
    for conn in (first, second):
        conn.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{B}', topic='{topic}', group='{group}', "
                     f"join=1, {options})")
    assert first.execute("SELECT count(*) FROM g").fetchone() == (10,)
    return first, second


def test_a_join_wait_is_bounded_by_timeout_ms_and_says_why():
    """A member of a group whose other member holds everything and never
    takes part in the rebalance (it runs no statement) waits timeout_ms for
    its assignment, then fails with an error that says why."""
    with seeded_topic("joinwait", 2, 10) as (seed, topic, group, keys):
        holder, second = member_behind_a_holder(topic, group, "timeout_ms=3000, rdkafka.max.poll.interval.ms=60000")
        t0 = time.monotonic()
        kit.expect_error(lambda: second.execute("SELECT count(*) FROM g").fetchone(),
                         "no assignment within timeout_ms (3000 ms)")
        waited = time.monotonic() - t0
        assert 2.5 < waited < 8, f"seed {seed}: waited {waited:.1f} s"


def test_a_join_wait_is_interruptible():
    """sqlite3_interrupt() ends a member's wait for its assignment."""
    with seeded_topic("joinintr", 2, 10) as (seed, topic, group, keys):
        holder, second = member_behind_a_holder(topic, group, "timeout_ms=60000")
        timer = threading.Timer(1.0, second.interrupt)
        timer.start()
        t0 = time.monotonic()
        kit.expect_error(lambda: second.execute("SELECT count(*) FROM g").fetchone(), "interrupted")
        assert time.monotonic() - t0 < 5, f"seed {seed}: the interrupt took {time.monotonic() - t0:.1f} s"


def test_static_membership_with_group_instance_id():
    """rdkafka.group.instance.id makes the member static: kafka_group_members
    shows the instance id beside its partitions."""
    with seeded_topic("joinstatic", 3, 30) as (seed, topic, group, keys):
        conn = kit.connect()
        conn.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{B}', topic='{topic}', group='{group}', "
                     "join=1, rdkafka.group.instance.id='worker-1')")
        assert conn.execute("SELECT count(*) FROM g").fetchone() == (30,)
        rows = conn.execute("SELECT group_instance_id, assignment FROM kafka_group_members(?, ?)",
                            (B, group)).fetchall()
        assert len(rows) == 1 and rows[0][0] == "worker-1", rows
        assert len(json.loads(rows[0][1])) == 3, rows
