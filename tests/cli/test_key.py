"""``pvc key``: the local minion fingerprint, and a "no" at the prompt (no master needed)."""

from __future__ import annotations

from click.testing import CliRunner

from pvc.cli.main import cli
from pvc.crypto import Ed25519PrivateKey, fingerprint, public_bytes
from pvc.keys import load_or_create_identity, public_pem


def test_finger_local_prints_this_minions_key(tmp_path):
    (tmp_path / "minion").write_text("id: hv1\nroot_dir: root\n")
    key = load_or_create_identity(str(tmp_path / "root" / "pki" / "minion"), "minion")
    res = CliRunner().invoke(cli, ["key", "finger", "--local", "-c", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.output == f"Local Keys:\nminion.pub (hv1):  {fingerprint(public_bytes(key.public_key()))}\n"


def test_finger_local_before_first_start(tmp_path):
    (tmp_path / "minion").write_text("id: hv1\nroot_dir: root\n")
    res = CliRunner().invoke(cli, ["-c", str(tmp_path), "key", "finger", "--local"])
    assert res.exit_code == 2
    assert "no minion key at" in res.stderr and "creates it on its first start" in res.stderr


def test_answering_no_says_nothing_done(tmp_path):
    (tmp_path / "master").write_text("root_dir: root\n")
    pending = tmp_path / "root" / "pki" / "master" / "minions_pre"
    pending.mkdir(parents=True)
    (pending / "k1").write_bytes(public_pem(public_bytes(Ed25519PrivateKey.generate().public_key())))
    res = CliRunner().invoke(cli, ["-c", str(tmp_path), "key", "accept", "k1"], input="n\n")
    assert res.exit_code == 1
    assert res.output.rstrip().endswith("Nothing done.")
    assert (pending / "k1").exists()
