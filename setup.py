"""Builds the extension for the Python package (pyproject.toml has the rest).

The loadable is built by the Makefile, against the system's libraries that
pkg-config finds; when some are missing, tests/deps.sh --build-check names
the Debian packages to install (pip never runs apt-get). The wheel ships it
as sqlite_kafka/kafka.so. It holds no Python C extension, so the wheel is
tagged for any Python 3 on this platform (py3-none-<platform>).
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:  # setuptools 70.1 and later
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:
    from wheel.bdist_wheel import bdist_wheel

ROOT = Path(__file__).resolve().parent


class build_py_with_make(build_py):
    def run(self):
        super().run()
        make = ["make", f"-j{os.cpu_count() or 1}", "build/kafka.so", "DEPS=--build-check"]
        if not shutil.which("make"):
            raise SystemExit("sqlite-kafka: building the extension needs make and a C compiler "
                             "(on Debian: sudo apt-get install build-essential)")
        if subprocess.run(make, cwd=ROOT).returncode != 0:
            raise SystemExit(
                "sqlite-kafka: building the extension failed (`make` in "
                f"{ROOT}): see its output above; on Debian, missing build "
                "packages are named there with the apt-get command that installs them")
        self.copy_file(str(ROOT / "build" / "kafka.so"),
                       os.path.join(self.build_lib, "sqlite_kafka", "kafka.so"))


class bdist_wheel_for_platform(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return ("py3", "none", super().get_tag()[2])


setup(
    cmdclass={"build_py": build_py_with_make, "bdist_wheel": bdist_wheel_for_platform},
    # The Makefile's build/ holds the extension: setuptools works below it.
    options={"build": {"build_base": "build/python"}},
)
