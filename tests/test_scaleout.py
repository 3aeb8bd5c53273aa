"""Groups that scale out (SPEC section 14, issue 28) against the real
broker: topics of many partitions scan with a prefetch sized for them, and
exactly-once pipelines of one group in two processes never both commit."""

import collections
import os
import random
import subprocess
import sys

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


# A process of the two-process pipeline repro: the group's exactly-once
# pipeline in a loop of random LIMITs until its deadline or until three
# statements in a row moved nothing; prints "ok failed last-error".
PIPELINE = r"""
import random, sqlite3, sys, time
ext, broker, topic, out, group, txid, seed, seconds = sys.argv[1:]
rnd = random.Random(int(seed))
db = sqlite3.connect(":memory:", isolation_level=None)
db.enable_load_extension(True)
db.load_extension(ext)
db.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{broker}', topic='{topic}', group='{group}')")
db.execute(f"CREATE VIRTUAL TABLE o USING kafka(brokers='{broker}', topic='{out}', transactional_id='{txid}')")
end, idle, ok, failed, last = time.monotonic() + float(seconds), 0, 0, 0, ""
while time.monotonic() < end and idle < 3:
    try:
        n = db.execute(f"INSERT INTO o(key, value) SELECT key, value FROM g LIMIT {rnd.randint(20, 200)}").rowcount
        ok, idle = ok + 1, (idle + 1 if n == 0 else 0)
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


def run_pipelines(topic, out, group, seed, n):
    """n pipeline processes of one group at once, then one alone to drain
    what they left; returns their printed summaries."""
    def start(i, seconds):
        return subprocess.Popen([sys.executable, "-c", PIPELINE, kit.EXT, B, topic, out, group,
                                 f"{out}-tx{i}", str(seed + i), str(seconds)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
        keys = [f"k{i:05d}" for i in range(20000)]
        kit.kcat("-P", "-t", topic, "-K", "\t", input="".join(f"{k}\tv\n" for k in keys).encode())
        said = run_pipelines(topic, out, kit.topic("eos-g"), seed, 2)
        print(f"the processes said: {said}")
        got = output_keys(out)
        twice = sorted(k for k, c in got.items() if c > 1)
        missing = sorted(set(keys) - set(got))
        assert not twice and not missing, (
            f"seed {seed}: {len(twice)} keys written more than once (e.g. {twice[:5]}), "
            f"{len(missing)} missing (e.g. {missing[:5]}); the processes said {said}")
    finally:
        kit.delete_topic(topic)
        kit.delete_topic(out)
