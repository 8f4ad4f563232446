"""cp.list_master_dirs / cp.list_master through a real master's file server, from a job and from
an SLS template; without a master the call fails with one clear line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pvc.config import MinionConfig
from pvc.minion.functions import MinionFunctions
from tests.cluster.pvc import PvcCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("statecp")
    salt = root / "srv" / "salt"
    (salt / "ntp" / "files").mkdir(parents=True)
    (salt / "ntp" / "files" / "ntp.conf").write_text("server x\n")
    out = root / "out"
    (salt / "dirs.sls").write_text(
        f"{out}/dirs:\n  file.managed:\n    - makedirs: True\n"
        "    - contents: {{ salt['cp.list_master_dirs']() | join(',') }} "
        "{{ 'ntp/files' in salt.cp.list_master_dirs(prefix='ntp') }}\n")
    with PvcCluster(root, master_options={"file_roots": {"base": [str(salt)]}}) as c:
        c.start_master()
        c.add_minion("m1")
        c.wait_connected(["m1"])
        c.out = out  # type: ignore[attr-defined]
        yield c


def test_list_master_dirs_and_files_from_a_job_and_a_template(cluster: Any) -> None:
    run = cluster.client().run(["m1"], "cp.list_master_dirs", [], {}, timeout=60).returns["m1"]
    assert run.ok and run.data == ["ntp", "ntp/files"], run
    files = cluster.client().run(["m1"], "cp.list_master", [], {"prefix": "ntp"}, timeout=60).returns["m1"]
    assert files.ok and files.data == ["ntp/files/ntp.conf"], files
    applied = cluster.client().run(["m1"], "state.apply", [], {"mods": "dirs"}, timeout=60).returns["m1"]
    assert applied.ok and all(v["result"] for v in applied.data.values()), applied
    assert (Path(cluster.out) / "dirs").read_text() == "ntp,ntp/files True\n"


def test_without_a_master_the_call_says_so() -> None:
    ret = MinionFunctions(MinionConfig(id="local"), grains={}).call("cp.list_master_dirs")
    assert not ret.ok and ret.error_type == "BackendUnavailable" and "has no master" in ret.error
