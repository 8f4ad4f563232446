"""Argument types from annotations: the rules, and one uniform message per wrong type."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import pytest

from pvc.errors import InvalidArgument
from pvc.execution import ExecContext, ModuleSpec, Registry, execute, log_events
from pvc.execution.arguments import rule_for


def typed(ctx: ExecContext, count: int, name: str, ratio: float = 1.0, flag: bool = False,
          tags: list[str] | None = None, opts: Mapping[str, int] | None = None, anything: Any = None,
          pair: Sequence[int] = ()) -> dict[str, Any]:
    """Echo what arrived, so a test sees values are never converted."""
    return {"count": count, "name": name, "ratio": ratio, "flag": flag, "tags": tags, "opts": opts}


def varargs(ctx: ExecContext, *words: str, **extra: int) -> list[Any]:
    """Each positional must be a string, each keyword an integer."""
    return [list(words), extra]


Word = Annotated[str | int, "a word"]


def named(ctx: ExecContext, word: Word | list[Word]) -> Any:
    """Annotated types keep their name in messages."""
    return word


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg = Registry()
    reg.add(ModuleSpec("demo", functions=(typed, varargs, named)))
    return reg


def call(registry: Registry, fun: str, *args: Any, **kwargs: Any) -> Any:
    ctx = ExecContext(minion_id="m", config=None, grains={}, log=logging.getLogger("t"),
                      fire_event=log_events(logging.getLogger("t")))
    ret = execute(registry.get(fun), ctx, args, kwargs)
    if not ret.ok:
        assert ret.error_type == "InvalidArgument", ret
        raise InvalidArgument(ret.error)
    return ret.data


def test_good_values_pass_unchanged(registry: Registry) -> None:
    got = call(registry, "demo.typed", 3, "x", ratio=2, flag=True, tags=["a"], opts={"k": 1}, anything=object,
               pair=(1, 2))
    assert got == {"count": 3, "name": "x", "ratio": 2, "flag": True, "tags": ["a"], "opts": {"k": 1}}
    assert type(got["ratio"]) is int  # an int is a number, and it is not converted
    assert call(registry, "demo.typed", 3, "x", tags=None, opts=None)["tags"] is None  # Optional takes null
    assert call(registry, "demo.varargs", "a", "b", n=1) == [["a", "b"], {"n": 1}]
    assert call(registry, "demo.named", ["a", 2]) == ["a", 2]


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((True, "x"), {}, "demo.typed: argument 'count' must be an integer, got a boolean"),
    ((1.5, "x"), {}, "demo.typed: argument 'count' must be an integer, got a number"),
    ((1, 2), {}, "demo.typed: argument 'name' must be a string, got an integer"),
    ((1, None), {}, "demo.typed: argument 'name' must be a string, got null"),
    ((1, "x"), {"ratio": "2"}, "demo.typed: argument 'ratio' must be a number, got a string"),
    ((1, "x"), {"ratio": False}, "demo.typed: argument 'ratio' must be a number, got a boolean"),
    ((1, "x"), {"flag": 1}, "demo.typed: argument 'flag' must be a boolean, got an integer"),
    ((1, "x"), {"tags": "a"}, "demo.typed: argument 'tags' must be a list or null, got a string"),
    ((1, "x"), {"tags": ["a", 3]}, "demo.typed: argument 'tags[1]' must be a string, got an integer"),
    ((1, "x"), {"opts": []}, "demo.typed: argument 'opts' must be a mapping or null, got a list"),
    ((1, "x"), {"opts": {"k": "v"}}, "demo.typed: argument 'opts.k' must be an integer, got a string"),
    ((1, "x"), {"opts": {1: 1}}, "demo.typed: argument 'opts' has a key that is not a string: 1"),
    ((1, "x"), {"pair": "ab"}, "demo.typed: argument 'pair' must be a list, got a string"),
    ((1, "x"), {"nosuch": 1},
     ("demo.typed(count, name, ratio=1.0, flag=False, tags=None, opts=None, anything=None, pair=()): "
      "got an unexpected keyword argument 'nosuch'")),
    ((1, "x", 1.0, False, None, None, None, (), "extra"), {}, "too many positional arguments"),
    ((), {"name": "x"}, "missing a required argument: 'count'"),
])
def test_wrong_types_get_one_uniform_message(registry: Registry, args: tuple[Any, ...], kwargs: dict[str, Any],
                                             message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        call(registry, "demo.typed", *args, **kwargs)
    assert message in str(err.value)


def test_varargs_check_each_item(registry: Registry) -> None:
    with pytest.raises(InvalidArgument, match=r"demo.varargs: argument 'words\[1\]' must be a string, got an integer"):
        call(registry, "demo.varargs", "a", 2)
    with pytest.raises(InvalidArgument, match="demo.varargs: argument 'n' must be an integer, got a string"):
        call(registry, "demo.varargs", n="1")


def test_annotated_names_the_type(registry: Registry) -> None:
    with pytest.raises(InvalidArgument, match="argument 'word' must be a word or a list, got a mapping"):
        call(registry, "demo.named", {})
    with pytest.raises(InvalidArgument, match=r"argument 'word\[0\]' must be a word, got null"):
        call(registry, "demo.named", [None])


def test_anything_goes_where_the_annotation_says_so() -> None:
    assert rule_for(Any) is None and rule_for(object) is None
    assert rule_for(int | Any) is None
    rule = rule_for(list[Any])
    assert rule is not None and rule.problem([1, "a", None], "x") is None


@pytest.mark.parametrize("hint", [tuple[int, str], set[int], "int"])
def test_an_annotation_that_cannot_be_checked_is_refused(hint: Any) -> None:
    with pytest.raises(TypeError, match="cannot check arguments annotated"):
        rule_for(hint)


def test_a_function_that_cannot_be_checked_does_not_register() -> None:
    def bad(ctx: ExecContext, pair: tuple[int, str]) -> None:
        """Fixed-size tuples do not come over the wire."""

    with pytest.raises(TypeError, match=r"demo.bad: cannot check arguments annotated tuple\[int, str\]"):
        Registry().add(ModuleSpec("demo", functions=(bad,)))
