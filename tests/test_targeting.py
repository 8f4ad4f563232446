import pytest

from pvc.errors import InvalidTarget
from pvc.targeting import compile_target

GRAINS = {
    "web1": {"os": "Debian", "role": "web", "virt": ["kvm", "libvirt"], "virt_caps": {"hypervisor": "kvm"}, "n": 4},
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
    ("N@webs and not web1", "compound", {"web2"}),
    ("webs", "nodegroup", {"web1", "web2"}),
    ("nested", "nodegroup", {"web1", "web2", "db1"}),
])
def test_matching(expr, tgt_type, want):
    groups = {"webs": "web*", "dbs": ["db1"], "nested": "N@webs or N@dbs"}
    assert hits(expr, tgt_type, groups) == want


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
])
def test_explicit_ids_for_topic_filtering(expr, tgt_type, ids):
    got = compile_target(expr, tgt_type).explicit_ids()
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
    ("(" * 40 + "a" + ")" * 40, "compound", "nested too deeply"),
])
def test_bad_targets_are_clear_errors(expr, tgt_type, message):
    with pytest.raises(InvalidTarget, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_target(expr, tgt_type, {"loop": "N@loop"})
