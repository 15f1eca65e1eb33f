"""The fault runs of ``scripts/chaos.py`` at small size (#7): every fault holds.

Each run starts its own throwaway PostgreSQL cluster (never the shared server), the
provider simulator, the webhook app and two worker processes, all on loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alertsvc.testing.pgcluster import pg_bin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["kill", "pg", "sim-down", "errors", "webhook"])
def test_chaos_fault_holds_at_small_size(fault: str) -> None:
    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    res = subprocess.run(
        [sys.executable, "scripts/chaos.py", "--faults", fault, "--n", "8", "--kills", "4",
         "--down-seconds", "4", "--pg-down", "2", "--webhook-restarts", "2", "--ack-wait", "1",
         "--max-seconds", "240", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    doc = json.loads(res.stdout)
    [r] = doc["faults"]
    assert r["fault"] == fault
    assert r["not_terminal"] == 0 and not r["timed_out"]
    assert r["duplicates_not_unknown"] == 0
    assert r["lost"] == 0 and r["verify_ok"], r["violations"]
    assert r["planned"] == 32  # 8 people x (push, SMS, voice, supporter SMS)
    # every row recorded as accepted was seen accepted by the provider
    st = r["states"]
    assert r["accepted_by_provider"] >= sum(
        st.get(k, 0) for k in ("sent", "delivered", "acknowledged")
    )
    if fault == "kill":
        assert r["kills"] >= 1
    assert res.returncode == 0 and doc["ok"]
