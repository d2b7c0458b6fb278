"""One local SparkSession for the Spark tests; skipped only without Java.

``local[2,2]``: two executor threads, and a failed task is tried once more (plain
``local[2]`` never retries a task, so the retried-task idempotency test needs this).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spark_canaries import CLIENT_SECRET_CANARY, CLIENT_SECRET_ENV, TOKEN_CANARY, TOKEN_ENV

# Without the 'spark' extra there is nothing to test here (CI installs it with '.[test]').
if importlib.util.find_spec("pyspark") is None:
    collect_ignore_glob = ["test_*.py"]

MASTER = "local[2,2]"


def _java_missing() -> bool:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return False
    return shutil.which("java") is None


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark with two executor threads; the hiveframe.http source is registered."""
    if _java_missing():
        pytest.skip("Spark tests need Java 17+ (no java on PATH and no JAVA_HOME)")
    from pyspark.sql import SparkSession

    from hiveframe.spark import register

    # Workers must run this interpreter (the venv with hiveframe), not "python3" on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != MASTER:
        active.stop()  # e.g. one a docs snippet started: these tests need task retries
    session = (
        SparkSession.builder.master(MASTER)
        .appName("hiveframe-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config(f"spark.executorEnv.{TOKEN_ENV}", TOKEN_CANARY)
        .config(f"spark.executorEnv.{CLIENT_SECRET_ENV}", CLIENT_SECRET_CANARY)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    register(session)
    yield session
    session.stop()
