"""schema/executor/compat.py against the installed libraries: each private part it
relies on is still there and still behaves as the lean executor expects, and no
other module reaches for one.

Each test builds what it needs itself (a small Strawberry schema, a bare future),
so a failure here is about the library, never about Storefront's own types; its
message names the internal that moved.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Generator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import GraphQLSchema, parse, specified_rules
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from schema.executor.compat import (
    argument_converter,
    graphql_info,
    graphql_schema,
    hand_on_future,
    resolver_function,
    strawberry_field,
    take_future,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "schema" / "executor" / "compat.py"


@strawberry.input
class Window:
    first_n: int
    label: str = "all"


@strawberry.input(one_of=True)
class Pick:
    by_id: strawberry.ID | None = strawberry.UNSET
    by_name: str | None = strawberry.UNSET


@strawberry.enum
class Mood(Enum):
    GLAD = "glad"
    SAD = "sad"


SEEN_INFO: list[Any] = []


@strawberry.type
class Thing:
    name: str

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times

    @strawberry.field
    @staticmethod
    def constant() -> int:
        return 7

    @strawberry.field
    def echo(self, first_word: str, times_over: int | None = None, mood: Mood | None = None) -> str:
        return first_word

    @strawberry.field
    def maybe(self, times: strawberry.Maybe[int] = None) -> int:
        return 1

    @strawberry.field
    def seen(self, info: strawberry.Info) -> bool:
        SEEN_INFO.append(graphql_info(info))
        return True


@strawberry.type
class Query:
    @strawberry.field
    def things(self, window: Window) -> list[Thing]:
        return [Thing(name=f"{window.label}{n}") for n in range(window.first_n)]

    @strawberry.field
    def pick(self, which: Pick) -> str:
        return "picked"


SCHEMA = strawberry.Schema(query=Query)


def _field(type_name: str, field_name: str) -> StrawberryField:
    gql = graphql_schema(SCHEMA)
    return strawberry_field(gql.get_type(type_name).fields[field_name])  # type: ignore[union-attr]


def test_graphql_schema_is_the_one_strawberry_executes() -> None:
    gql = graphql_schema(SCHEMA)
    assert isinstance(gql, GraphQLSchema), "strawberry.Schema._schema moved or changed type"
    assert gql.query_type is not None, "strawberry.Schema._schema has no query type"
    assert gql.query_type.name == "Query", (
        "strawberry.Schema._schema is no longer the executed graphql-core schema"
    )
    assert gql.get_type("Thing") is not None, "strawberry.Schema._schema lacks the schema's types"


def test_strawberry_field_is_found_on_the_graphql_core_field() -> None:
    field = _field("Thing", "shout")
    assert isinstance(field, StrawberryField), (
        "graphql-core fields no longer carry their StrawberryField under "
        "GraphQLCoreConverter.DEFINITION_BACKREF ('strawberry-definition')"
    )
    assert field.python_name == "shout", "the StrawberryField found is not the field's own"
    assert [a.python_name for a in field.arguments] == ["times"], (
        "StrawberryField.arguments changed"
    )


def test_resolver_function_is_what_strawberry_calls() -> None:
    assert resolver_function(_field("Thing", "name")) is None, (
        "StrawberryField.base_resolver is no longer None for a plain attribute field"
    )
    shout = resolver_function(_field("Thing", "shout"))
    assert shout is not None, "StrawberryResolver.wrapped_func moved"
    assert shout(Thing(name="a"), times=2) == "AA", (
        "StrawberryResolver.wrapped_func is no longer the plain function"
    )
    constant = resolver_function(_field("Thing", "constant"))
    assert constant is not None, "StrawberryResolver.wrapped_func moved"
    assert constant() == 7, (
        "StrawberryResolver.wrapped_func is no longer bound for a staticmethod resolver "
        "(StrawberryResolver.bind)"
    )


def test_argument_converter_builds_what_the_resolver_takes() -> None:
    convert = argument_converter(SCHEMA)
    raw = {"window": {"firstN": 2}}
    try:
        converted = convert(raw, _field("Query", "things"), None)
    except TypeError as exc:
        pytest.fail(
            "strawberry.types.arguments.convert_arguments moved or changed signature "
            f"(or Schema.schema_converter.scalar_registry / Schema.config): {exc}"
        )
    assert converted == {"window": Window(first_n=2, label="all")}, (
        "strawberry.types.arguments.convert_arguments no longer turns GraphQL names and "
        f"input objects into Python ones: {converted!r}"
    )
    assert convert({}, _field("Thing", "shout"), None) == {}, (
        "strawberry.types.arguments.convert_arguments invents arguments that were not given"
    )


def test_scalar_and_enum_arguments_are_passed_on_as_strawberry_passes_them() -> None:
    # The converter renames them itself, without Strawberry's convert_arguments; this
    # holds it to what convert_arguments gives, through _is_leaf_type's verdict.
    convert = argument_converter(SCHEMA)
    field = _field("Thing", "echo")
    registry, config = SCHEMA.schema_converter.scalar_registry, SCHEMA.config
    for raw in (
        {"firstWord": "hi", "timesOver": 2, "mood": Mood.SAD},
        {"firstWord": "hi", "timesOver": None},
        {"firstWord": "hi"},
    ):
        expected = convert_arguments(raw, field.arguments, registry, config, None)
        assert convert(raw, field, None) == expected, (
            "strawberry.types.arguments.convert_arguments now changes scalar or enum "
            "arguments (or _is_leaf_type / _is_optional_leaf_type moved)"
        )
    assert convert({"firstWord": "x", "mood": Mood.GLAD}, field, None) == {
        "first_word": "x",
        "mood": Mood.GLAD,
    }
    # Maybe[int] is an optional scalar to _is_optional_leaf_type, but its value is
    # wrapped in Some(): it must go through convert_arguments.
    maybe = _field("Thing", "maybe")
    expected = convert_arguments({"times": 5}, maybe.arguments, registry, config, None)
    assert convert({"times": 5}, maybe, None) == expected


def test_graphql_info_is_graphql_cores_behind_strawberrys() -> None:
    SEEN_INFO.clear()
    document = "{ things(window: {firstN: 1}) { ...F } } fragment F on Thing { seen }"
    result = SCHEMA.execute_sync(document)
    assert result.errors is None, result.errors
    [raw] = SEEN_INFO
    assert raw is not None, "strawberry.Info._raw_info moved: no graphql-core info behind it"
    assert [node.name.value for node in getattr(raw, "field_nodes", ())] == ["seen"], (
        "strawberry.Info._raw_info no longer carries graphql-core's field_nodes"
    )
    assert set(getattr(raw, "fragments", ())) == {"F"}, (
        "strawberry.Info._raw_info no longer carries graphql-core's fragments"
    )
    mine = object()
    assert graphql_info(mine) is mine, "graphql_info must pass on an info that is not Strawberry's"


def test_validate_adds_strawberrys_own_rules() -> None:
    gql = graphql_schema(SCHEMA)
    valid = parse('{ pick(which: {byId: "1"}) }')
    assert validate(gql, valid, specified_rules) == [], (
        "strawberry.schema.schema.validate_document moved or changed signature"
    )
    both = parse('{ pick(which: {byId: "1", byName: "a"}) }')
    assert validate(gql, both, ()) != [], (
        "strawberry.schema.schema.validate_document no longer adds Strawberry's own rules "
        "(OneOfInputValidationRule)"
    )
    unknown = parse("{ nope }")
    assert validate(gql, unknown, specified_rules) != [], (
        "strawberry.schema.schema.validate_document no longer applies the rules it is given"
    )


class _Hands:
    """Yields a taken future to the running Task as schema/executor/eager.py does."""

    def __init__(self, future: asyncio.Future[int], hand_on: bool) -> None:
        self.future = future
        self.hand_on = hand_on

    def __await__(self) -> Generator[Any, Any, int]:
        if self.hand_on:
            hand_on_future(self.future)
        yield self.future
        return self.future.result()


async def test_a_taken_future_can_be_handed_to_a_task_again() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    async def waits() -> int:
        return await future

    coroutine = waits()
    yielded = coroutine.send(None)
    assert yielded is future, "awaiting a future no longer yields the future itself"
    take_future(yielded)  # as the Task running `waits` would; then handed to another
    second = asyncio.ensure_future(_Hands(future, hand_on=True))
    await asyncio.sleep(0)
    future.set_result(3)
    assert await second == 3, (
        "asyncio.Future._asyncio_future_blocking: a handed-on future is no longer "
        "accepted by a Task"
    )
    with pytest.raises(StopIteration):
        coroutine.send(None)


async def test_a_task_still_refuses_a_future_not_handed_on() -> None:
    """Proves the mark is what a Task reads: without hand_on_future it is refused."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    take_future(future)  # not awaited, so nothing to take: the mark stays off
    task = asyncio.ensure_future(_Hands(future, hand_on=False))
    with pytest.raises(RuntimeError, match="yield"):
        await task
    assert not future.done()


def test_take_and_hand_on_leave_other_values_alone() -> None:
    for value in (None, 1, object()):
        take_future(value)
        hand_on_future(value)


# The internals compat.py wraps, and their spellings: each may appear in compat.py
# and in no other module of the project.
INTERNALS = {
    "Schema._schema": r"\._schema\b",
    "StrawberryResolver.wrapped_func": r"\bwrapped_func\b",
    "strawberry.types.arguments.convert_arguments": r"\bconvert_arguments\b",
    "strawberry.schema.schema.validate_document": r"\bvalidate_document\b",
    "Schema.schema_converter": r"\bschema_converter\b",
    "Info._raw_info": r"\b_raw_info\b",
    "the 'strawberry-definition' field extension": r"strawberry-definition|DEFINITION_BACKREF",
    "asyncio.Future._asyncio_future_blocking": r"\b_asyncio_future_blocking\b",
    "SQLAlchemy's SQLCompiler._bind_processors": r"\b_bind_processors\b",
}
LIBRARIES = {"strawberry", "graphql", "sqlalchemy", "asyncpg", "aiodataloader", "asyncio"}


def _project_modules() -> list[Path]:
    """The project's own Python files: not tests, nor anything under a hidden folder
    (.venv, bench/.data's worktrees), nor vendored files (any node_modules: the
    bench's PostGraphile has Node's own Python scripts)."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {"tests", "static"} or any(
            p.startswith(".") or p == "node_modules" for p in parts
        ):
            continue
        found.append(path)
    return found


def test_the_scan_sees_the_project_and_compat() -> None:
    modules = {p.relative_to(ROOT).as_posix() for p in _project_modules()}
    assert {"schema/executor/compat.py", "db/statements.py", "app.py"} <= modules
    text = COMPAT.read_text()
    for internal, pattern in INTERNALS.items():
        if internal.startswith("SQLAlchemy"):
            continue  # db/statements.py uses SQLAlchemy's public API instead
        assert re.search(pattern, text), f"the scan's pattern for {internal} matches nothing"


def test_only_compat_touches_a_librarys_private_parts() -> None:
    found = []
    for path in _project_modules():
        if path == COMPAT:
            continue
        text = path.read_text()
        name = path.relative_to(ROOT).as_posix()
        for internal, pattern in INTERNALS.items():
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{name}:{line} uses {internal}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported = [[*node.module.split("."), alias.name] for alias in node.names]
            elif isinstance(node, ast.Import):
                imported = [alias.name.split(".") for alias in node.names]
            else:
                continue
            for library, *parts in imported:
                private = [part for part in parts if part.startswith("_")]
                if library in LIBRARIES and private:
                    found.append(f"{name}:{node.lineno} imports {'.'.join(private)} from {library}")
    assert found == [], "private parts of libraries outside schema/executor/compat.py:\n" + (
        "\n".join(found)
    )
