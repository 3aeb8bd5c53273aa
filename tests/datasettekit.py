"""Datasette with the sqlite-kafka plugin, as a subprocess (stdlib only:
tests/test_datasette_ui.py and the bench use it).

Until the package is installed (its entry point registers the plugin),
Datasette finds the plugin through --plugins-dir: a one-line shim module
importing it, with the repository on PYTHONPATH; installed, the shim
imports the same module.
"""

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASETTE = ROOT / "build" / "venv" / "bin" / "datasette"
SHIM = "from sqlite_kafka.datasette_plugin import *  # noqa: F401,F403 (the plugin, by --plugins-dir)\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(plugin_config, *databases):
    """Datasette serving databases with the plugin configured by
    plugin_config (the `sqlite-kafka` entry of its metadata); yields the
    base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        plugins = os.path.join(tmp, "plugins")
        os.mkdir(plugins)
        with open(os.path.join(plugins, "sqlite_kafka_shim.py"), "w") as f:
            f.write(SHIM)
        metadata = os.path.join(tmp, "metadata.json")
        with open(metadata, "w") as f:
            json.dump({"plugins": {"sqlite-kafka": plugin_config}}, f)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with running([*databases, "--plugins-dir", plugins, "-m", metadata], tmp, env) as base:
            yield base


@contextlib.contextmanager
def running(args, workdir, env=None):
    """`datasette serve ARGS` on a free loopback port, its log in workdir;
    yields the base URL once it answers. Stopped by the PID it was started
    with."""
    port = free_port()
    with open(os.path.join(workdir, "datasette.log"), "w+b") as log:
        proc = subprocess.Popen([str(DATASETTE), "serve", *args, "-h", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=workdir, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, proc, log)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_serving(base, proc, log):
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=5).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError("datasette did not start: " + log.read().decode(errors="replace"))
            time.sleep(0.2)
