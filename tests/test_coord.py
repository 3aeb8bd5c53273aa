"""The transaction coordinator (SPEC section 10, issue 21) on the real
broker: a group's position moves only when everything that read it
succeeded and reached the caller or a committed table; ROLLBACK TO drops
the positions read after the savepoint; a SELECT whose rows SQLite may keep
from the caller (a sorter, a materialized CTE, ...) moves nothing until
kafka_commit(); nothing commits before SQLite's own commit did.

Every test here failed on main before the fix it covers (see the issue)."""

import contextlib
import os
import sqlite3
import tempfile
import time

import kit
from test_group import committed, group_table, produce
from test_produce import kcat_messages, table

B = kit.BROKER


def source(conn, prefix, values=("a", "b", "c"), name="g", brokers=B):
    """A topic holding values, read by group table `name`; its group."""
    topic = kit.create_topic(kit.topic(prefix))
    group = kit.topic(f"{prefix}-g")
    produce(topic, 0, list(values))
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka(brokers='{brokers}', topic='{topic}', "
                 f"group='{group}')")
    return topic, group


@contextlib.contextmanager
def one_group(prefix, values=("a", "b", "c"), brokers=B):
    """A connection with group table g over a new topic holding values;
    the topic is deleted after."""
    kit.need_broker()
    conn = kit.connect()
    src = None
    try:
        src, group = source(conn, prefix, values, brokers=brokers)
        yield conn, src, group
    finally:
        conn.close()
        if src:
            kit.delete_topic(src)


@contextlib.contextmanager
def one_pipeline(prefix, brokers=B):
    """one_group and table o, transactional, over a new output topic."""
    with one_group(prefix, brokers=brokers) as (conn, src, group):
        out = kit.create_topic(kit.topic(f"{prefix}-out"))
        try:
            table(conn, "o", out, transactional_id=out)
            yield conn, src, group, out
        finally:
            kit.delete_topic(out)


def next_read(conn, name="g"):
    """What the group delivers next (a plain SELECT, which moves it)."""
    return [r[0] for r in conn.execute(f"SELECT value FROM {name}")]


def read_committed(topic):
    return sorted(m["payload"] for m in kcat_messages(topic))


def expect(got, want, what):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def test_rollback_to_drops_the_positions_read_after_the_savepoint():
    """Repro 1: the savepoint's positions went into the Kafka transaction
    at COMMIT although the rows they stand for were rolled back."""
    with one_pipeline("co-sp") as (conn, src, group, out):
        conn.execute("CREATE TABLE archive(value)")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO o(value) VALUES ('x')")
        conn.execute("SAVEPOINT a")
        conn.execute("INSERT INTO archive SELECT value FROM g")
        conn.execute("ROLLBACK TO a")
        conn.execute("COMMIT")
        expect(conn.execute("SELECT value FROM archive").fetchall(), [], "archive")
        expect(committed(conn, group), [], "the group's committed offsets")
        expect(read_committed(out), ["x"], "the output, read_committed")
        # Released savepoints keep their positions: they commit with the rest.
        conn.execute("BEGIN")
        conn.execute("INSERT INTO o(value) VALUES ('y')")
        conn.execute("SAVEPOINT b")
        conn.execute("INSERT INTO archive SELECT value FROM g")
        conn.execute("RELEASE b")
        conn.execute("COMMIT")
        expect(conn.execute("SELECT value FROM archive").fetchall(), [("a",), ("b",), ("c",)], "archive")
        expect(committed(conn, group), [(src, 0, 3)], "the group's committed offsets")


def test_positions_of_several_savepoint_levels_commit_the_furthest():
    """The model test (seed 989573276): a SELECT ... LIMIT 1 read to 1,
    then the INSERT (its own statement savepoint level) read to 3; at COMMIT
    each level's position went into the Kafka transaction, the newest first,
    and the older one's offset, sent last, won: the group moved back to 1."""
    with one_pipeline("co-levels") as (conn, src, group, out):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO o(value) VALUES ('x')")
        expect(conn.execute("SELECT value FROM g LIMIT 1").fetchall(), [("a",)], "the first row")
        conn.execute("INSERT INTO o(value) SELECT value FROM g")
        conn.execute("COMMIT")
        expect(committed(conn, group), [(src, 0, 3)], "the group's committed offsets")
        expect(read_committed(out), ["a", "b", "c", "x"], "the output, read_committed")
        expect(next_read(conn), [], "the next read")


def test_a_statement_failing_after_a_materialized_scan_leaves_the_group():
    """Repro 2: the CTE's scan ended, then json() failed in the outer query:
    the group moved past all three rows."""
    with one_group("co-cte", ['{"n": 1}', "not json", '{"n": 3}']) as (conn, src, group):
        kit.expect_error(lambda: conn.execute(
            "WITH m AS MATERIALIZED (SELECT value FROM g) SELECT json(value) FROM m").fetchall(),
            "malformed JSON")
        expect(committed(conn, group), [], "the group's committed offsets")
        expect(next_read(conn), ['{"n": 1}', "not json", '{"n": 3}'], "the next read")


def test_a_sorted_select_finalized_after_one_row_leaves_the_group():
    """Repro 2: ORDER BY sorts every row before the first reaches the caller;
    closing the cursor after one row committed all three."""
    with one_group("co-sort") as (conn, src, group):
        cur = conn.execute("SELECT value FROM g ORDER BY value DESC")
        expect(cur.fetchone(), ("c",), "the first row")
        cur.close()
        expect(committed(conn, group), [], "the group's committed offsets")
        expect(next_read(conn), ["a", "b", "c"], "the next read")


def test_kafka_commit_moves_the_group_past_a_buffered_select():
    """The explicit commit: a SELECT SQLite may keep rows of moves nothing
    by itself; kafka_commit('g') commits the position it read, as a Kafka
    consumer with auto commit off does."""
    with one_group("co-explicit") as (conn, src, group):
        expect(conn.execute("SELECT count(*), max(value) FROM g").fetchone(), (3, "c"), "the aggregate")
        expect(committed(conn, group), [], "after the aggregate")
        expect(conn.execute("SELECT kafka_commit('g')").fetchone(), (1,), "kafka_commit's partitions")
        expect(committed(conn, group), [(src, 0, 3)], "after kafka_commit")
        expect(next_read(conn), [], "the next read")
        expect(conn.execute("SELECT kafka_commit('g')").fetchone(), (0,), "a second kafka_commit")
        kit.expect_error(lambda: conn.execute("SELECT kafka_commit('nope')").fetchone(),
                         "kafka_commit: no kafka table with a group named 'nope'")


def test_a_failing_group_commit_after_the_file_commit_loses_nothing():
    """Repro 3: two groups in one statement committed one by one in the
    commit hook; when the second failed (a member is active in it), SQLite
    rolled the rows back while the first group had moved: its rows were
    lost. Now the positions commit after the file did: the failing group's
    rows come again (at least once), the other's are in the table."""
    kit.need_broker()
    from kafka import KafkaConsumer
    conn = kit.connect()
    topics, consumer = [], None
    try:
        src1, group1 = source(conn, "co-two1", ["1a", "1b"], name="g1")
        src2, group2 = source(conn, "co-two2", ["2a", "2b"], name="g2")
        topics += [src1, src2]
        consumer = KafkaConsumer(src2, bootstrap_servers=B, group_id=group2, enable_auto_commit=False,
                                 auto_offset_reset="latest", session_timeout_ms=30000)
        for _ in range(40):  # until it is an active member of group2
            consumer.poll(timeout_ms=250)
            if consumer.assignment():
                break
        assert consumer.assignment(), "the kafka-python consumer never joined group2"
        conn.execute("CREATE TABLE archive(value)")
        conn.execute("INSERT INTO archive SELECT value FROM g1 UNION ALL SELECT value FROM g2")
        archived = sorted(r[0] for r in conn.execute("SELECT value FROM archive"))
        expect(archived, ["1a", "1b", "2a", "2b"], "archive")
        expect(committed(conn, group1), [(src1, 0, 2)], "group1")
        expect(next_read(conn, "g1"), [], "group1's next read")
        # group2's commit failed: its rows come again (at least once).
        expect(committed(conn, group2), [], "group2")
        expect(next_read(conn, "g2"), ["2a", "2b"], "group2's next read")
    finally:
        if consumer:
            consumer.close()
        conn.close()
        for t in topics:
            kit.delete_topic(t)


def test_a_group_read_beside_another_writing_statement_is_refused():
    """Item 5: with two writing statements interleaved in autocommit, the
    one that fails is rolled back alone (a statement savepoint SQLite tells
    a table that only reads nothing of), and its deferred position was
    committed with the other's transaction."""
    with one_group("co-interleave") as (conn, src, group):
        conn.execute("CREATE TABLE t1(x)")
        conn.execute("CREATE TABLE unique_sink(v UNIQUE)")
        writer = conn.cursor()
        writer.execute("INSERT INTO t1 VALUES (1), (2) RETURNING x")
        expect(writer.fetchone(), (1,), "the paused writer's first row")
        kit.expect_error(lambda: conn.execute("INSERT INTO unique_sink SELECT 'same' FROM g ORDER BY value"),
                         "while another statement that writes is running")
        writer.fetchall()
        expect(committed(conn, group), [], "the group's committed offsets")
        expect(next_read(conn), ["a", "b", "c"], "the next read")


def test_localhost_and_127_0_0_1_are_one_cluster():
    """Item 5: "the same cluster" was the brokers text, so a group read
    through localhost and a transactional output through 127.0.0.1 were two
    clusters: the read was refused in a transaction and, in autocommit,
    consume-transform-produce quietly stopped being exactly once."""
    with one_pipeline("co-cluster", brokers=B.replace("127.0.0.1", "localhost")) as (conn, src, group, out):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO o(value) SELECT upper(value) FROM g")
        conn.execute("COMMIT")
        expect(read_committed(out), ["A", "B", "C"], "the output, read_committed")
        expect(committed(conn, group), [(src, 0, 3)], "the group's committed offsets")


class _Sqlite:
    """The C API through ctypes: Python's sqlite3 cannot set a commit hook."""

    def __init__(self):
        import ctypes
        import ctypes.util
        self.c = ctypes
        self.lib = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
        self.lib.sqlite3_errmsg.restype = ctypes.c_char_p
        self.db = ctypes.c_void_p()
        assert self.lib.sqlite3_open(b":memory:", ctypes.byref(self.db)) == 0
        self.lib.sqlite3_enable_load_extension(self.db, 1)
        err = ctypes.c_char_p()
        rc = self.lib.sqlite3_load_extension(self.db, kit.EXT.encode(), None, ctypes.byref(err))
        assert rc == 0, err.value
        self.commit_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
        self.rollback_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        self.lib.sqlite3_commit_hook.restype = ctypes.c_void_p
        self.lib.sqlite3_commit_hook.argtypes = [ctypes.c_void_p, self.commit_type, ctypes.c_void_p]
        self.lib.sqlite3_rollback_hook.restype = ctypes.c_void_p
        self.lib.sqlite3_rollback_hook.argtypes = [ctypes.c_void_p, self.rollback_type, ctypes.c_void_p]

    def hooks(self, calls):
        """Sets the application's hooks (with an argument, as most do)."""
        def on_commit(arg):
            calls.append("commit")
            return 0

        def on_rollback(arg):
            calls.append("rollback")
        self._keep = (self.commit_type(on_commit), self.rollback_type(on_rollback))
        self.lib.sqlite3_commit_hook(self.db, self._keep[0], 1)
        self.lib.sqlite3_rollback_hook(self.db, self._keep[1], 1)

    def exec(self, sql):
        """None, or the error text."""
        if self.lib.sqlite3_exec(self.db, sql.encode(), None, None, None) == 0:
            return None
        return self.lib.sqlite3_errmsg(self.db).decode()

    def close(self):
        self.lib.sqlite3_close_v2(self.db)


def test_the_applications_hooks_are_never_silently_replaced():
    """Item 4: the extension set its own commit and rollback hooks while a
    position waited and cleared them after: the application's hooks were
    gone without a word. SQLite returns only the previous hook's argument,
    so they cannot be chained: a read that needs them says so."""
    kit.need_broker()
    db = _Sqlite()
    src = kit.create_topic(kit.topic("co-hooks"))
    try:
        produce(src, 0, ["a", "b"])
        expect(db.exec(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{B}', topic='{src}', "
                       f"group='{kit.topic('co-hooks-g')}')"), None, "CREATE")
        expect(db.exec("CREATE TABLE archive(value)"), None, "CREATE TABLE")
        calls = []
        db.hooks(calls)
        # Reads that need no hook leave the application's alone.
        expect(db.exec("SELECT value FROM g WHERE 0"), None, "a SELECT")
        expect(db.exec("INSERT INTO archive VALUES ('x')"), None, "a plain INSERT")
        expect(calls, ["commit"], "the application's hooks after a plain INSERT")
        err = db.exec("INSERT INTO archive SELECT value FROM g")
        assert err and "commit or rollback hook of the application" in err and "kafka_commit" in err, err
        # The extension's hooks are in place now; hooks the application sets
        # later replace them, and the next read that needs them says so.
        expect(db.exec("INSERT INTO archive SELECT value FROM g"), None, "a read with the extension's hooks")
        db.hooks(calls)
        err = db.exec("INSERT INTO archive SELECT value FROM g")
        assert err and "had been given a commit or rollback hook" in err, err
    finally:
        db.close()
        kit.delete_topic(src)


def test_kafka_commit_never_moves_a_group_back():
    """Found by tests/test_txn_model.py (seed 742070643): a SELECT held its
    position, a later INSERT ... SELECT moved the group further, and
    kafka_commit then committed the older held position: the group went
    back and delivered rows again."""
    with one_group("co-back") as (conn, src, group):
        expect([r[0] for r in conn.execute("SELECT value FROM g ORDER BY value")], ["a", "b", "c"], "sorted")
        produce(src, 0, ["d"])
        conn.execute("CREATE TABLE archive(value)")
        conn.execute("INSERT INTO archive SELECT value FROM g")
        expect(committed(conn, group), [(src, 0, 4)], "after the INSERT")
        expect(conn.execute("SELECT kafka_commit('g')").fetchone(), (0,), "kafka_commit's partitions")
        expect(committed(conn, group), [(src, 0, 4)], "after kafka_commit")


def test_kafka_commit_inside_a_kafka_transaction_is_not_undone_by_its_commit():
    """Found by tests/test_txn_model.py (seed 602085032): in a transaction
    with a transactional output, a SELECT ... LIMIT 1 put offset 1 into the
    transaction, kafka_commit() then committed the sorted SELECT's 3, and
    COMMIT's Kafka transaction wrote 1 after it (Kafka keeps the offsets
    written last): the group went back and delivered b and c again."""
    with one_pipeline("co-txback") as (conn, src, group, out):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO o(value) VALUES ('x')")
        expect([r[0] for r in conn.execute("SELECT value FROM g ORDER BY value")], ["a", "b", "c"], "sorted")
        expect(conn.execute("SELECT value FROM g LIMIT 1").fetchall(), [("a",)], "LIMIT 1")
        expect(conn.execute("SELECT kafka_commit('g')").fetchone(), (1,), "kafka_commit's partitions")
        expect(committed(conn, group), [(src, 0, 3)], "after kafka_commit")
        conn.execute("COMMIT")
        expect(committed(conn, group), [(src, 0, 3)], "after COMMIT")
        expect(read_committed(out), ["x"], "the output, read_committed")
        expect(next_read(conn), [], "the next read")


def test_a_deferred_position_never_moves_the_group_back():
    """An INSERT ... SELECT's position waits while another statement is busy
    at its commit hook (a loop over a cursor): that statement might be the
    one whose commit may yet fail. A plain SELECT of the group meanwhile
    committed its further position, and the waiting one, committed once the
    loop's cursor finished, moved the group back to it."""
    with one_group("co-deferred", values=("a", "b")) as (conn, src, group):
        conn.execute("CREATE TABLE archive(value)")
        conn.execute("CREATE TABLE loop(x)")
        conn.execute("INSERT INTO loop VALUES (1), (2), (3)")
        busy = conn.execute("SELECT x FROM loop")
        expect(busy.fetchone(), (1,), "the loop's first row")
        conn.execute("INSERT INTO archive SELECT value FROM g")
        produce(src, 0, ["c"])
        got = next_read(conn)
        assert got[-1:] == ["c"], f"the SELECT beside the loop: got {got!r}, want it to end with 'c'"
        expect(committed(conn, group), [(src, 0, 3)], "after the SELECT")
        expect(busy.fetchall(), [(2,), (3,)], "the rest of the loop")
        expect(next_read(conn), [], "the read after the loop")
        expect(committed(conn, group), [(src, 0, 3)], "after the loop")
        expect(sorted(r[0] for r in conn.execute("SELECT value FROM archive")), ["a", "b"], "the archive")


def test_a_file_commit_that_fails_after_the_kafka_transaction_loses_nothing():
    """A transaction writing a database file and a transactional output puts
    the group's offsets into its Kafka transaction, which commits in xSync,
    before the file's commit. Another connection reading the file (rollback
    journal) made that commit fail with 'database is locked', leaving the
    transaction open: after ROLLBACK the archive was empty and the group
    past all 3 messages. Now the rollback puts the group back where the
    transaction's scans started; the message produced stays (at least
    once). A COMMIT retried instead keeps both."""
    with one_pipeline("co-busy") as (conn, src, group, out), tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "pipeline.db")
        conn.execute("ATTACH ? AS f", (path,))
        conn.execute("CREATE TABLE f.archive(value)")
        reader = sqlite3.connect(path, isolation_level=None)
        try:
            for attempt, end, want in (("ROLLBACK", "ROLLBACK", 0), ("a retried COMMIT", "COMMIT", 3)):
                reader.execute("BEGIN")
                reader.execute("SELECT count(*) FROM archive").fetchall()  # holds its SHARED lock
                conn.execute("BEGIN")
                conn.execute("INSERT INTO o(value) VALUES ('x')")
                conn.execute("INSERT INTO f.archive SELECT value FROM g")
                kit.expect_error(lambda: conn.execute("COMMIT"), "database is locked")
                assert conn.in_transaction, f"{attempt}: the failed COMMIT left no transaction open"
                reader.execute("COMMIT")
                conn.execute(end)
                expect(committed(conn, group), [(src, 0, want)], f"the group after {attempt}")
            expect(sorted(r[0] for r in conn.execute("SELECT value FROM f.archive")), ["a", "b", "c"],
                   "the archive")
            expect(next_read(conn), [], "the next read")
            expect(read_committed(out), ["x", "x"], "the output, read_committed")
        finally:
            reader.close()


def test_a_group_moved_by_one_of_two_kafka_transactions_goes_back_when_the_other_fails():
    """Two transactional_ids are two Kafka transactions, committed one after
    the other at COMMIT. The first carried the group's offsets and committed;
    the second failed (a message too large), so SQLite rolled back, but the
    group stayed past rows whose messages to the second output were lost."""
    with one_group("co-twotx") as (conn, src, group):
        good = kit.create_topic(kit.topic("co-twotx-good"))
        bad = kit.create_topic(kit.topic("co-twotx-bad"), config={"max.message.bytes": "10000"})
        try:
            table(conn, "a", good, transactional_id=good)
            table(conn, "b", bad, transactional_id=bad)
            conn.execute("BEGIN")
            conn.execute("INSERT INTO a(value) SELECT value FROM g")
            conn.execute("INSERT INTO b(key, value) SELECT 'big', zeroblob(20000)")
            kit.expect_error(lambda: conn.execute("COMMIT"), f"had already committed the Kafka transaction of "
                             f"topic '{good}'")
            assert not conn.in_transaction
            expect(committed(conn, group), [(src, 0, 0)], "the group after the failed COMMIT")
            expect(read_committed(good), ["a", "b", "c"], "the first output, read_committed")
            expect(next_read(conn), ["a", "b", "c"], "the next read")
        finally:
            kit.delete_topic(good)
            kit.delete_topic(bad)


def test_a_failed_topic_check_in_a_shared_producer_leaves_nothing_half_built():
    """Item 5, confirmed: a table joining another's transactional producer
    whose topic check failed left its topic registered half-built in that
    producer, so its next INSERT skipped the check and waited for
    deliveries to a topic that is not there."""
    kit.need_broker()
    conn = kit.connect()
    a = kit.create_topic(kit.topic("co-share-a"))
    b = kit.create_topic(kit.topic("co-share-b"))
    try:
        txn = kit.topic("co-share-txn")
        table(conn, "ta", a, transactional_id=txn, timeout_ms=4000)
        table(conn, "tb", b, transactional_id=txn, timeout_ms=4000)
        conn.execute("INSERT INTO ta(value) VALUES ('a')")
        kit.delete_topic(b)
        for attempt in ("first", "second"):
            e = kit.expect_error(lambda: conn.execute("INSERT INTO tb(value) VALUES ('b')"), "")
            assert "does not exist" in str(e) or "Unknown topic" in str(e), f"{attempt} INSERT: {e}"
            assert "not delivered" not in str(e), f"{attempt} INSERT waited for deliveries: {e}"
    finally:
        conn.close()
        kit.delete_topic(a)
        kit.delete_topic(b)


def test_a_sorted_select_inside_a_kafka_transaction_moves_nothing_by_itself():
    """A SELECT in BEGIN ... COMMIT with a transactional output put its
    position into the Kafka transaction at COMMIT, though SQLite may have
    kept its sorted rows from the caller (closed after one row here)."""
    with one_pipeline("co-txsort") as (conn, src, group, out):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO o(value) VALUES ('x')")
        cur = conn.execute("SELECT value FROM g ORDER BY value")
        expect(cur.fetchone(), ("a",), "the first row")
        cur.close()
        conn.execute("COMMIT")
        expect(committed(conn, group), [], "the group's committed offsets")
        expect(read_committed(out), ["x"], "the output, read_committed")
        expect(next_read(conn), ["a", "b", "c"], "the next read")


def test_insert_or_fail_reading_a_group_is_refused():
    """INSERT OR FAIL over a sorted scan: a conflict on the second row kept
    the first, SQLite committed it, and the group moved past all three."""
    with one_group("co-orfail") as (conn, src, group):
        conn.execute("CREATE TABLE unique_sink(v UNIQUE)")
        kit.expect_error(lambda: conn.execute(
            "INSERT OR FAIL INTO unique_sink SELECT 'same' FROM g ORDER BY value"), "cannot be read by a "
            "statement with OR FAIL")
        expect(committed(conn, group), [], "the group's committed offsets")
        conn.execute("INSERT OR IGNORE INTO unique_sink SELECT 'same' FROM g ORDER BY value")
        expect(committed(conn, group), [(src, 0, 3)], "after OR IGNORE")


@kit.timeout(120)
def test_a_held_select_survives_a_kafka_transaction_that_failed_after_its_offsets():
    """A SELECT's held position was dropped as soon as a transaction's
    offsets of the same group were sent, before that Kafka transaction
    committed: when it then failed (here: open past transaction.timeout.ms,
    aborted by the broker), the group had not moved and kafka_commit() found
    nothing to commit, so the sorted rows the caller had came again."""
    with one_group("co-heldtx") as (conn, src, group):
        out = kit.create_topic(kit.topic("co-heldtx-out"))
        try:
            table(conn, "o", out, transactional_id=out, timeout_ms=2000,
                  **{"rdkafka.transaction.timeout.ms": "3000"})
            expect([r[0] for r in conn.execute("SELECT value FROM g ORDER BY value")], ["a", "b", "c"],
                   "the sorted SELECT")
            conn.execute("BEGIN")
            conn.execute("INSERT INTO o(value) VALUES ('x')")
            conn.execute("INSERT INTO o(value) SELECT value FROM g")
            # The broker aborts a transaction open past its timeout (its
            # check runs every 10 s by default).
            time.sleep(16)
            kit.expect_error(lambda: conn.execute("COMMIT"), f"topic '{out}'")
            assert not conn.in_transaction
            expect(committed(conn, group), [], "the group after the failed COMMIT")
            expect(conn.execute("SELECT kafka_commit('g')").fetchone(), (1,), "kafka_commit's partitions")
            expect(committed(conn, group), [(src, 0, 3)], "the group after kafka_commit")
        finally:
            kit.delete_topic(out)
