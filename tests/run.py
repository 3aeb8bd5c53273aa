"""A tiny stdlib-only test runner for sqlite-kafka.

    build/venv/bin/python tests/run.py [-k SUBSTRING] [--exclude SUBSTRING]... [FILES...]

Runs every module-level function named test_* of tests/test_*.py (or of the
FILES given), in file order, from the repository root. One line per test:
    PASS name (0.12s) | FAIL name: reason (+ traceback) | SKIP name: reason
The last line is exactly 'N passed, N failed, N skipped'. Exit status 1 when
a test failed or when no test ran, 0 otherwise. See kit.py for the API of
test authors.
"""

import argparse
import faulthandler
import importlib.util
import inspect
import os
import signal
import sys
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
import kit  # noqa: E402  (needs the sys.path entry above)

DEFAULT_TIMEOUT = float(os.environ.get("TEST_TIMEOUT", "300"))
HARD_GRACE = 60  # a test stuck in C code gets this long after its time limit


class TestTimeout(Exception):
    pass


def indent(text, prefix="    "):
    return "".join(prefix + line for line in text.rstrip("\n").splitlines(True)) + "\n"


def load_module(path):
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def tests_of(mod):
    """The module's own test_* functions, in the order of the file."""
    fns = [f for n, f in vars(mod).items()
           if n.startswith("test_") and inspect.isfunction(f)
           and f.__module__ == mod.__name__]
    return sorted(fns, key=lambda f: f.__code__.co_firstlineno)


def call_with_limit(fn):
    """Run fn under its time limit: SIGALRM interrupts Python code; a test
    stuck inside C code is ended, with all stacks, by faulthandler."""
    limit = getattr(fn, "timeout", DEFAULT_TIMEOUT)

    def on_alarm(signum, frame):
        raise TestTimeout(f"time limit of {limit:g} s exceeded")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    faulthandler.dump_traceback_later(limit + HARD_GRACE, exit=True)
    try:
        fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()


def print_broker_log():
    path = kit.broker_log()
    try:
        lines = Path(path).read_text(errors="replace").splitlines()[-40:]
    except OSError:
        print(f"    (no broker log at {path})")
        return
    print(f"    --- last 40 lines of {path}:")
    print(indent("\n".join(lines), "    | "), end="")


def format_tb(e):
    """The traceback without the runner's own frames above the test."""
    tb = e.__traceback__
    while tb and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb))


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.excluded = []  # not run, not counted (--exclude)


def run_test(name, fn, counts):
    kit.state["broker_used"] = False
    t0 = time.monotonic()
    try:
        try:
            call_with_limit(fn)
        finally:
            kit.remove_topics_made()
    except kit.Skip as e:
        counts.skipped += 1
        print(f"SKIP {name}: {e}", flush=True)
        return
    except BaseException as e:  # noqa: BLE001 - every failure is reported
        if isinstance(e, KeyboardInterrupt):
            raise
        counts.failed += 1
        reason = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
        print(f"FAIL {name}: {reason}")
        print(indent(format_tb(e)), end="")
        if kit.state["broker_used"]:
            print_broker_log()
        sys.stdout.flush()
        return
    counts.passed += 1
    print(f"PASS {name} ({time.monotonic() - t0:.2f}s)", flush=True)


def run_file(path, pattern, excludes, counts):
    try:
        mod = load_module(path)
    except kit.Skip as e:
        counts.skipped += 1
        print(f"SKIP {path.name}: {e}", flush=True)
        return
    except Exception as e:  # noqa: BLE001 - a broken file is a failure
        counts.failed += 1
        print(f"FAIL {path.name}: cannot import: {type(e).__name__}: {e}")
        print(indent(traceback.format_exc()), end="", flush=True)
        return
    for fn in tests_of(mod):
        name = f"{path.stem}.{fn.__name__}"
        if pattern and pattern not in name:
            continue
        if any(x in name for x in excludes):
            counts.excluded.append(name)
            continue
        run_test(name, fn, counts)


def find_files(args):
    if not args:
        return sorted(TESTS.glob("test_*.py"))
    files = []
    for a in args:
        p = Path(a)
        if not p.exists():
            p = TESTS / a
        if not p.exists():
            sys.exit(f"run.py: no such test file: {a}")
        files.append(p.resolve())
    return files


def main():
    # A crash in native code (the extension) still names the test it hit.
    faulthandler.enable()
    ap = argparse.ArgumentParser(description="Run the sqlite-kafka tests.")
    ap.add_argument("-k", dest="pattern", default="",
                    help="run only tests whose 'file.test_name' contains this")
    ap.add_argument("--exclude", action="append", default=[],
                    help="do not run (nor count) tests whose name contains this; repeatable")
    ap.add_argument("files", nargs="*", help="test files (default: tests/test_*.py)")
    opts = ap.parse_args()
    files = find_files(opts.files)
    os.chdir(ROOT)
    counts = Counts()
    for path in files:
        run_file(path, opts.pattern, opts.exclude, counts)
    if counts.excluded:
        print(f"run.py: not run (--exclude): {', '.join(counts.excluded)}")
    if counts.passed + counts.failed == 0:
        print("run.py: no test ran")
    print(f"{counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped")
    sys.exit(1 if counts.failed or counts.passed + counts.failed == 0 else 0)


if __name__ == "__main__":
    main()
