"""Shared fixtures: a real moto_server on 127.0.0.1, fake AWS credentials, the synthetic data
set a command runs on, and what a test needs from outside the checkout (skipped where missing,
failed there under RIGHTSIZER_CI=1)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import aws_guard
import pytest

from rightsizer import synth

# RIGHTSIZER_CI=1 (set by .ci/run) turns "not in this checkout" skips into failures. Read here,
# at collection: the autouse fixture below clears every RIGHTSIZER_* variable inside a test.
REQUIRE_ALL = os.environ.get("RIGHTSIZER_CI") == "1"

# Real records published by others, read in place beside the project; a user's clone lacks them.
CORPUS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "cloudtrail-real"
CORPUS_MISSING = "the real-record corpus ../shared/corpus is not in this checkout"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the running test for `reason`; fail it instead when REQUIRE_ALL (CI runs it all)."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (RIGHTSIZER_CI=1 requires it)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)  # before pytest's own skip marks, so CI fails an empty parametrize
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `corpus` need CORPUS_DIR: skipped without it, or failed under RIGHTSIZER_CI."""
    if item.get_closest_marker("corpus") is not None and not CORPUS_DIR.is_dir():
        skip_or_fail(CORPUS_MISSING)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    """The synthetic data set over 7 days, once per test module (a module that needs another
    window defines its own)."""
    return synth.generate(tmp_path_factory.mktemp("synth"), days=7)


def dataset_options(ds: synth.SynthDataset) -> list[str]:
    """The options that give `analyze` or `report` a synthetic data set's IAM snapshot, Lambda
    functions and window (its source and database are the test's to give)."""
    return [
        *("--iam-details", str(ds.iam_details), "--lambda-functions", str(ds.lambda_functions)),
        *("--until", ds.until.isoformat(), "--days", str(ds.days)),
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never reach real AWS from a test: fake credentials, no profile files, fixed region."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in list(os.environ):
        if name.startswith("RIGHTSIZER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto_server process on 127.0.0.1 for the whole session; yields its endpoint URL."""
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto_server state for one test, with AWS_ENDPOINT_URL pointing at it."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=5).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


# --- rightsizer never changes AWS (see tests/aws_guard.py) ---------------------------------


@pytest.fixture(scope="session", autouse=True)
def _aws_guard_installed() -> Iterator[None]:
    """Record every AWS operation any botocore session makes while the suite runs."""
    uninstall = aws_guard.install()
    yield
    uninstall()


@pytest.fixture(autouse=True)
def aws_calls(_aws_guard_installed: None) -> Iterator[aws_guard.AwsCalls]:
    """The AWS calls of this test; afterwards, fail on any write that was not test setup."""
    calls = aws_guard.AwsCalls(start=aws_guard.LOG.mark())
    yield calls
    bad = calls.violations()
    if bad:
        pytest.fail(
            "AWS operations outside rightsizer.permissions.ALLOWED_OPERATIONS were called: "
            f"{', '.join(sorted(set(bad)))}; rightsizer must stay read-only (test setup: "
            "use aws_guard.setup_client or aws_guard.allow_writes)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session for the whole test run (starting its JVM costs seconds): two
    cores, a small driver, two shuffle partitions. Skipped without pyspark or Java."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        skip_or_fail("pyspark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        skip_or_fail("Spark needs Java (17 or later) on the PATH or in JAVA_HOME")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("rightsizer-tests")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
