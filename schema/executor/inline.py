"""Objects answered where they are found, when nothing below them reads again.

Below some point of most documents no field waits for the database: a page's
edges, their nodes' plain columns, and the relations that came in the nodes' own
rows (a post's author and tags). The level-by-level walk would still queue each
of those objects for a level of its own, group them, find their resolvers and
complete their fields, with several calls per object. An `Inline` plan, made once
per object type and selection, builds those objects' answers directly instead:
one dict per object, in the selection's key order, as the walk would have built.

A plan is made only when every field below it is read without waiting, off its
object or off the row it is made from (schema/executor/planning.py says which
fields, and how). Anything unexpected while building
(a null in a non-null field, an object whose row lacks a riding relation, a
resolver that raises) abandons the plan for that field's whole level, and the
walk completes it, errors and all. Building changes nothing outside what it
returns, so abandoning it loses nothing.
"""

from __future__ import annotations

import functools
import keyword
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
)

from db.relations import Join

_is_none = functools.partial(operator.is_, None)


class NotInline(Exception):
    """A value the plan cannot answer: the walk completes the field instead."""


def itself(value: Any) -> Any:
    """The getter of a value that is the object itself: an edge's node that is its row,
    a leaf whose objects are its values (one field of a `Ride`, from `Ride.columns`)."""
    return value


@dataclass(frozen=True, slots=True)
class Column:
    """A leaf read off a row, by its column's name; `paired`: off the first of a (row,
    connection) pair (`plan_for_rows`)."""

    name: str
    paired: bool = False


# (response key, getter, attribute: its name, index in a tuple (`Ride.values`), a row's
# Column, or None; the type its values need no completing in, completer, whether its
# values are text)
Leaf = tuple[str, Callable[[Any], Any], str | int | Column | None, type, Callable[[Any], Any], bool]
# (response key, getter, riding relation or None, plan, list, non-null, items non-null)
Nested = tuple[str, Callable[[Any], Any], Any, "Plan", bool, bool, bool]


# A plan's `build(values) -> (answers, size)`; an answer is None only where a value is.
Build = Callable[[Sequence[Any]], tuple[list[dict[str, Any] | None], int]]


class Plan:
    """How to answer objects of one type under one selection, object by object.

    `build` is written for the plan as Python source and compiled once: a loop over
    the objects with a statement per field and one dict display per object, in the
    selection's key order. A generic loop over the fields costs several times as
    much per object (measured: it made the user page dearer than the walk). The
    plans of the objects below are written into the same source, a nested loop per
    list (`_Source`), so a post of a page costs no call of its own. Only names made
    here appear in the source; response keys, attributes that are not identifiers and
    everything else are passed in as constants.
    """

    __slots__ = ("ahead", "ahead_needs", "build", "fixed", "keys", "leaves", "needs", "nested")

    def __init__(
        self,
        keys: list[tuple[str, Any]],
        leaves: list[Leaf],
        nested: list[Nested],
        fixed: int,
        needs: frozenset[Join] = frozenset(),
        ahead: FieldNode | None = None,
        ahead_needs: frozenset[Join] | None = None,
    ) -> None:
        self.keys, self.leaves, self.nested, self.fixed = keys, leaves, nested, fixed
        # The joins a plan of rows reads: the rows must have come with them.
        self.needs = needs
        # The connection field a plan of (row, connection) pairs answers off the pairs:
        # the rows' page must have been read with that field's pages (`PagesAhead`).
        self.ahead = ahead
        # Set when the pairs are (row, page), the field's pages read ahead answered as
        # they are, with no connection made: the joins their rows must have come with.
        self.ahead_needs = ahead_needs
        self.build: Build = _Source(self).compile()

    def build_list(
        self, values: list[Any], items_required: bool
    ) -> tuple[list[dict[str, Any] | None], int]:
        # Not `None in values`: that compares each object with None through __eq__.
        if not any(map(_is_none, values)):
            return self.build(values)
        if items_required:
            raise NotInline
        present = [value for value in values if value is not None]
        built, size = self.build(present)
        answers = iter(built)
        return [None if value is None else next(answers) for value in values], size


# Loops a plan's source nests before the objects further down are answered by a call to
# their own plan: Python compiles at most 20 blocks nested in one function.
MAX_LOOPS = 8


class _Source:
    """`build(values) -> (answers, size)` for one plan, as Python source (see `Plan`)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.constants: dict[str, Any] = {"NotInline": NotInline}
        self.lines: list[str] = []
        self.names = 0

    def compile(self) -> Build:
        pad = " " * 8
        answer = self._object(self.plan, "item", pad, 1)
        source = [
            "def build(values):",
            f"    size = {self.plan.fixed} * len(values)",
            "    answers = []",
            "    append = answers.append",
            "    for item in values:",
            *self.lines,
            f"{pad}append({answer})",
            "    return answers, size",
        ]
        exec(compile("\n".join(source), "<inline plan>", "exec"), self.constants)
        built: Build = self.constants["build"]
        return built

    def _name(self, prefix: str, constant: Any = None) -> str:
        self.names += 1
        name = f"{prefix}{self.names}"
        if constant is not None:
            self.constants[name] = constant
        return name

    def _line(self, pad: str, line: str) -> None:
        self.lines.append(pad + line)

    def _object(self, plan: Plan, item: str, pad: str, loops: int) -> str:
        """Lines answering the object named `item` with `plan`; the answer's dict display."""
        names: dict[str, str] = {}
        for key, get, attribute, plain, complete, text in plan.leaves:
            value = names[key] = self._name("v")
            self._line(pad, f"{value} = {self._read(item, attribute, get)}")
            plain_name, completer = self._name("T", plain), self._name("C", complete)
            self._line(pad, f"if type({value}) is not {plain_name}: {value} = {completer}({value})")
            if text:
                self._line(pad, f"if {value}: size += len({value})")
        for key, get, join, below, many, required, items_required in plan.nested:
            value = names[key] = self._name("n")
            if join is not None:
                self._line(pad, f"if {self._name('J', join)} not in {item}.joins: raise NotInline")
                self._line(pad, f"{value} = {self._name('R', get)}({item}.row)")
            elif get is itself:
                self._line(pad, f"{value} = {item}")
            else:
                self._line(pad, f"{value} = {self._name('O', get)}({item})")
            inner = pad
            if get is itself:  # its parent's own row, never None
                pass
            elif required:
                self._line(pad, f"if {value} is None: raise NotInline")
            else:
                self._line(pad, f"if {value} is not None:")
                inner = pad + "    "
            if many:
                self._list(below, value, inner, loops, items_required)
            else:
                self._line(inner, f"size += {below.fixed}")
                self._line(inner, f"{value} = {self._object(below, value, inner, loops)}")
        entries = []
        for key, constant in plan.keys:
            value = names.get(key) or self._name("V")
            self.constants.setdefault(value, constant)
            entries.append(f"{self._name('K', key)}: {value}")
        return "{" + ", ".join(entries) + "}"

    def _list(self, plan: Plan, value: str, pad: str, loops: int, items_required: bool) -> None:
        """Lines replacing the objects in `value` (any iterable) with their answers."""
        if loops >= MAX_LOOPS:
            call = f"{self._name('P', plan)}.build_list"
            listed = f"{value} if type({value}) is list else list({value})"
            self._line(pad, f"{value}, more = {call}({listed}, {items_required})")
            self._line(pad, "size += more")
            return
        item, answers = self._name("i"), self._name("a")
        self._line(pad, f"{answers} = []")
        self._line(pad, f"for {item} in {value}:")
        body = pad + "    "
        self._line(body, f"if {item} is None:")
        if items_required:
            self._line(body, "    raise NotInline")
        else:
            self._line(body, f"    {answers}.append(None)")
            self._line(body, "    continue")
        self._line(body, f"size += {plan.fixed}")
        self._line(body, f"{answers}.append({self._object(plan, item, body, loops + 1)})")
        self._line(pad, f"{value} = {answers}")

    def _read(
        self, item: str, attribute: str | int | Column | None, get: Callable[[Any], Any]
    ) -> str:
        """The expression reading a leaf off `item`: `item` itself, the tuple's item, the
        row's column, or the attribute itself when it is a plain identifier, else through
        its getter."""
        if get is itself:
            return item
        if isinstance(attribute, Column):
            row = f"{item}[0]" if attribute.paired else item
            return f"{row}[{self._name('Q', attribute.name)}]"
        if isinstance(attribute, int):
            return f"{item}[{attribute}]"
        if attribute is not None and attribute.isidentifier() and not keyword.iskeyword(attribute):
            return f"{item}.{attribute}"
        return f"{self._name('G', get)}({item})"


# (object type, list, non-null, items non-null): `objects_of`'s reading of a field's type.
Objects = tuple[GraphQLObjectType, bool, bool, bool]


def complete_inline(plan: Plan, found: Objects, values: Sequence[Any]) -> tuple[list[Any], int]:
    """Each parent's value of a field of an object type or a list of one (`found`, as
    `objects_of` reads its type) answered with `plan`; raises to hand it back."""
    _, many, required, items_required = found
    if not many:
        # The parents' objects built as one list, nulls kept where the field allows them.
        return plan.build_list(list(values), required)
    completed: list[Any] = []
    size = 0
    for value in values:
        if value is None:
            if required:
                raise NotInline
            completed.append(None)
            continue
        items, more = plan.build_list(
            value if isinstance(value, list) else list(value), items_required
        )
        completed.append(items)
        size += more
    return completed, size


def objects_of(field_type: GraphQLOutputType) -> Objects | None:
    """(object type, list, non-null, items non-null) of an object or list-of-objects type."""
    required = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner, GraphQLObjectType):
        return inner, False, required, False
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        items_required = isinstance(item, GraphQLNonNull)
        element = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(element, GraphQLObjectType):
            return element, True, required, items_required
    return None
