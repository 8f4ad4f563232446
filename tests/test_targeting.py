import re
import subprocess
import sys
from pathlib import Path

import pytest

from pvc.errors import InvalidTarget
from pvc.targeting import compile_target
from pvc.targeting.grainpath import traverse

GRAINS = {
    "web1": {"os": "Debian", "role": "web", "virt": ["kvm", "libvirt"], "virt_caps": {"hypervisor": "kvm"}, "n": 4,
             "ipv6": ["::1", "fe80::1"]},
    "web2": {"os": "Debian", "role": "web", "virt": [], "n": 8},
    "db1": {"os": "RedHat", "role": "db", "virt": ["kvm"], "n": True},
}


def hits(expr, tgt_type="glob", nodegroups=None):
    return set(compile_target(expr, tgt_type, nodegroups).expected(GRAINS))


@pytest.mark.parametrize("expr, tgt_type, want", [
    ("*", "glob", {"web1", "web2", "db1"}),
    ("web?", "glob", {"web1", "web2"}),
    ("web[2-9]", "glob", {"web2"}),
    ("web1", "glob", {"web1"}),
    ("web", "pcre", {"web1", "web2"}),          # re.match: anchored at the start only, like Salt
    ("(web|db)1$", "pcre", {"web1", "db1"}),
    ("web1,db1,nosuch", "list", {"web1", "db1"}),
    ("os:debian", "grain", {"web1", "web2"}),   # value glob is case-insensitive
    ("os:Red*", "grain", {"db1"}),
    ("virt:kvm", "grain", {"web1", "db1"}),     # list grains match on any item
    ("virt_caps:hypervisor:kvm", "grain", {"web1"}),
    ("n:4", "grain", {"web1"}),
    ("n:true", "grain", {"db1"}),
    ("G@os:Debian and not web2", "compound", {"web1"}),
    ("G@role:db or L@web2", "compound", {"db1", "web2"}),
    ("( web* or db1 ) and not G@virt:kvm", "compound", {"web2"}),
    ("(web*)and(G@n:8)", "compound", {"web2"}),
    ("E@^db and P@os:Red.*", "compound", {"db1"}),
    ("P@os:deb.*", "compound", {"web1", "web2"}),  # grain values ignore case, regex too (Salt)
    ("E@WEB", "compound", set()),                 # ids do not
    ("ipv6:::1", "grain", {"web1"}),              # every split of the colons is tried
    ("virt_caps:*", "grain", {"web1"}),           # '*' on a mapping grain: the grain exists
    ("N@webs and not web1", "compound", {"web2"}),
    ("webs", "nodegroup", {"web1", "web2"}),
    ("nested", "nodegroup", {"web1", "web2", "db1"}),
    ("words", "nodegroup", {"web2"}),
    ("ids", "nodegroup", {"web1", "db1"}),
])
def test_matching(expr, tgt_type, want):
    groups = {"webs": "web*", "dbs": ["db1"], "nested": "N@webs or N@dbs",
              "words": ["G@n:8", "and", "web*"], "ids": "web1, db1"}
    assert hits(expr, tgt_type, groups) == want


def test_expanded_target_travels_to_minions_without_nodegroups():
    master = compile_target("N@webs and not web1", "compound", {"webs": ["web1", "web2"]})
    assert master.expr == "( L@web1,web2 ) and not web1"
    minion = compile_target(master.expr, master.tgt_type)  # what a minion compiles from the wire
    assert minion == master and minion.matches("web2", {}) and not minion.matches("web1", {})


def test_matches_agrees_with_expected():
    t = compile_target("G@role:web and web1", "compound")
    assert t.matches("web1", GRAINS["web1"]) and not t.matches("web2", GRAINS["web2"])


@pytest.mark.parametrize("expr, tgt_type, ids", [
    ("a,b", "list", {"a", "b"}),
    ("a", "glob", {"a"}),
    ("a or L@b,c", "compound", {"a", "b", "c"}),
    ("a*", "glob", None),
    ("a and b", "compound", None),
    ("G@x:y or a", "compound", None),
    ("not a", "compound", None),
    ("plain", "nodegroup", {"a", "b"}),
    ("a or N@plain", "compound", {"a", "b"}),
    ("globs", "nodegroup", None),
])
def test_explicit_ids_for_topic_filtering(expr, tgt_type, ids):
    got = compile_target(expr, tgt_type, {"plain": ["a", "b"], "globs": "a*"}).explicit_ids()
    assert (set(got) if got is not None else None) == ids


@pytest.mark.parametrize("expr, tgt_type, message", [
    ("(", "pcre", "not a valid regular expression"),
    ("", "glob", "empty"),
    ("x" * 9000, "glob", "longer than"),
    ("a/b", "list", "not allowed"),
    ("../../etc", "list", "not allowed"),
    ("G@role:web and (", "compound", "ends too early"),
    ("( web1", "compound", "missing ')'"),
    ("web1 )", "compound", "unexpected ')'"),
    ("and web1", "compound", "unexpected 'and'"),
    ("X@foo", "compound", "unknown prefix"),
    ("G@role", "compound", "key:value"),
    ("nosuch", "nodegroup", "unknown nodegroup 'nosuch'"),
    ("loop", "nodegroup", "refers to itself"),
    ("x", "bogus", "unknown target type"),
    ("(" * 40 + "a" + ")" * 40, "compound", "nested more than 32 levels"),
    ("not " * 2000 + "a", "compound", "nested more than 32 levels"),
    ("G@ or a", "compound", "'G@' needs an expression"),
    ("P@os:[", "compound", "not a valid regular expression"),
    ("empty", "nodegroup", "nodegroup 'empty' is empty"),
    ("number", "nodegroup", "must be a string or a list, not int"),
    ("g0", "nodegroup", "expands to more than 8192 characters"),
])
def test_bad_targets_are_clear_errors(expr, tgt_type, message):
    # g0 names g1 twice, g1 names g2 twice, ...: 2**30 words unless expansion is bounded
    doubling = {f"g{i}": f"N@g{i + 1} or N@g{i + 1}" for i in range(30)} | {"g30": "web1"}
    groups = {"loop": "N@loop", "empty": " ", "number": 7, **doubling}
    with pytest.raises(InvalidTarget, match=re.escape(message)):
        compile_target(expr, tgt_type, groups)


# --- colon-path lookup (pvc.targeting.grainpath), shared with grains.get ---------------------

PATH_DATA = {
    "virt_caps": {"kvm": True, "libvirt_version": "9.0.0"},
    "ipv4": ["127.0.0.1", "10.0.0.5"],
    "disks": [{"name": "vda"}],
    "a:b": {"c": 1},
    "addr": {"fd00::1": "v6 key"},
}


def test_traverse() -> None:
    assert traverse(PATH_DATA, "virt_caps:kvm") is True
    assert traverse(PATH_DATA, "ipv4:1") == "10.0.0.5"
    assert traverse(PATH_DATA, "ipv4:-1") == "10.0.0.5"
    assert traverse(PATH_DATA, "disks:0:name") == "vda"
    assert traverse(PATH_DATA, "a:b:c") == 1
    assert traverse(PATH_DATA, "addr:fd00::1") == "v6 key"
    assert traverse(PATH_DATA, "virt_caps") == PATH_DATA["virt_caps"]
    assert traverse(PATH_DATA, "virt_caps/kvm", delimiter="/") is True


def test_traverse_missing() -> None:
    assert traverse(PATH_DATA, "nosuch") is None
    assert traverse(PATH_DATA, "ipv4:9", "dflt") == "dflt"
    assert traverse(PATH_DATA, "ipv4:x", "dflt") == "dflt"
    assert traverse(PATH_DATA, "virt_caps:kvm:deeper", 0) == 0
    assert traverse({"k": None}, "k", "dflt") is None  # an existing None is a value


def test_importing_targeting_loads_no_grain_probe() -> None:
    """The master compiles targets; it must not import (or run) the minion's host probes."""
    code = ("import sys, pvc.targeting; "
            "print(sorted(m for m in sys.modules if m == 'pvc.grains' or m.startswith(('pvc.grains.', 'pvc.modules'))))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip() == "[]"
