"""Secrets the Spark tests pass by reference (``auth_*_env``).

The session gives them to Spark's Python workers as ``spark.executorEnv.*``, under names
that match Spark's redaction regex, so Spark masks them (and HiveFrame accepts them). A
module of its own: ``from conftest import`` is ambiguous beside ``tests/conftest.py``.
"""

from __future__ import annotations

TOKEN_ENV = "HIVEFRAME_SPARK_TEST_TOKEN"
TOKEN_CANARY = "canary-token-5f2c9d"
CLIENT_SECRET_ENV = "HIVEFRAME_SPARK_TEST_CLIENT_SECRET"
CLIENT_SECRET_CANARY = "canary-client-secret-8e1a7b"
