"""top.sls parsing and matching: every matcher Salt users write, and clear errors."""

from __future__ import annotations

import pytest

from pvc.states.top import TopError, parse_top

TOP = {
    "base": {
        "*": ["common"],
        "os:Debian": [{"match": "grain"}, "debian"],
        "role:(web|db)": [{"match": "grain_pcre"}, "app"],
        r"hv\d+": [{"match": "pcre"}, "hypervisor"],
        "hv1,hv3": [{"match": "list"}, "odd"],
        "G@os:Debian and not hv2": [{"match": "compound"}, "not2", "common"],
    },
    "prod": {"hv*": ["prodonly"]},
}


@pytest.mark.parametrize("mid, grains, expected", [
    ("hv1", {"os": "Debian", "role": "web"},
     {"base": ["common", "debian", "app", "hypervisor", "odd", "not2"], "prod": ["prodonly"]}),
    ("hv2", {"os": "Debian", "role": "backup"}, {"base": ["common", "debian", "hypervisor"], "prod": ["prodonly"]}),
    ("db1", {"os": "Alma", "role": "db"}, {"base": ["common", "app"]}),
])
def test_matchers(mid, grains, expected):
    assert parse_top(TOP).sls_for(mid, grains) == expected


def test_empty_top_and_show_top_view():
    assert parse_top(None).sls_for("a", {}) == {}
    assert parse_top(TOP).to_data()["base"]["os:Debian"] == [{"match": "grain"}, "debian"]


@pytest.mark.parametrize("data, message", [
    ([1], "mapping of environments"),
    ({"base": ["x"]}, "must map targets"),
    ({"base": {"*": "common"}}, "list of SLS"),
    ({"base": {"*": [{"match": "pillar"}, "x"]}}, "unknown matcher 'pillar'"),
    ({"base": {"*": [3]}}, "not an SLS name"),
    ({"base": {"a(": [{"match": "pcre"}, "x"]}}, "top file: base"),
])
def test_bad_tops_are_clear_errors(data, message):
    with pytest.raises(TopError, match=message.replace("(", r"\(")):
        parse_top(data)
