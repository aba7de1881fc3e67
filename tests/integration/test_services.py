"""The suite's own servers: a test whose server is missing skips on a user's machine and fails
in CI; and no server outlives a test run that dies, even by SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.paths import ROOT
from tests.harness.processes import alive
from tests.harness.waiting import wait_for
from tests.services.availability import INSTALL_COMMAND, unavailable
from tests.services.kafka import KafkaCluster
from tests.services.mosquitto import MosquittoBroker
from tests.services.postgres import PostgresServer


def test_a_missing_server_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI installs it with"):
        unavailable("PostgreSQL is not installed")


def test_a_missing_server_skips_elsewhere_naming_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=INSTALL_COMMAND):
        unavailable("PostgreSQL is not installed")


# A test run, as far as its servers know: a process that starts them and is then killed.
STARTER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.services.kafka import KafkaCluster
from tests.services.mosquitto import MosquittoBroker
from tests.services.postgres import PostgresServer
from tests.harness.paths import ROOT
pg, mqtt = PostgresServer().start(), MosquittoBroker().start()
kafka = KafkaCluster(Path(sys.argv[2])).start()
print(pg.pid, mqtt.pid, *kafka.pids, flush=True)
print(pg.base, mqtt.base, kafka.base, flush=True)
time.sleep(600)  # until the test kills it
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_server_outlives_a_killed_test_run(
    how: signal.Signals,
    kafka_home: Path,
    postgres: PostgresServer,
    mosquitto: MosquittoBroker,
    apache_kafka: KafkaCluster,
) -> None:
    # The session's own servers are there (installed), so a failure to start is a failure.
    run = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(ROOT), str(kafka_home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    leftovers: list[Path] = []
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        assert line, run.stderr.read() if run.stderr else ""
        pids = [int(p) for p in line.split()]
        # The killed run cannot remove its servers' directories; the test does.
        leftovers = [Path(d) for d in run.stdout.readline().split()]
        assert len(pids) == 3
        assert all(map(alive, pids))
        os.kill(run.pid, how)
        run.wait(30)
        wait_for(lambda: not any(map(alive, pids)), 60, "every server to stop")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for directory in leftovers:
            shutil.rmtree(directory, ignore_errors=True)
