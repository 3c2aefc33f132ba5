"""One run of a prepared document: level by level, each field resolved once for
every object of its group, its values completed into the answer."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    SelectionSetNode,
)
from graphql.execution import VariableValues, get_argument_values

from schema.errors import ApiError
from schema.executor.arguments import argument_plan
from schema.executor.collect import Collector
from schema.executor.eager import gather_eagerly
from schema.executor.errors import Failed, Failure
from schema.executor.inline import Plan, complete_inline
from schema.executor.lone import OffRow, off_row
from schema.executor.plan import Prepared, uses_variables
from schema.executor.planning import plan_for, plan_for_pages, plan_for_rows
from schema.executor.resolvers import FastInfo, Resolver
from schema.executor.shapes import Completer, Group, NextLevel, Unanswerable

if TYPE_CHECKING:
    from schema.executor.fast_path import FastPath


# Inline plans kept per document when @skip/@include choose the fields; past this many
# combinations, a run makes its own.
MAX_CONDITIONAL_PLANS = 64


# The sources of the root level: the one root value, None.
_ROOT = [None]
# A field node whose arguments have no plan yet (Prepared.argument_plans).
_UNPLANNED: Any = object()


class ResponseTooLarge(Exception):
    """The answer would outgrow the response-size bound."""


class Run:
    def __init__(
        self, path: FastPath, prepared: Prepared, variables: dict[str, Any], info: FastInfo
    ) -> None:
        self.path = path
        self.prepared = prepared
        self.variables = variables
        self.info = info
        # graphql-core's view of the variables, and the run's field collection: made
        # when first needed (a lone lookup needs neither).
        self._variable_values: VariableValues | None = None
        self._collector: Collector | None = None
        self._resolvers = path.resolvers
        self._arguments: dict[int, dict[str, Any]] = {}
        self._plans: dict[tuple[Any, ...], Plan | None] = {}
        self.levels: list[list[Group]] = []
        self.failures: list[Failure] = []
        # The answer's estimated JSON size so far (ResponseTooLarge past the bound).
        self.size = 0

    async def root(self, query_type: GraphQLObjectType) -> dict[str, Any]:
        data: dict[str, Any] = {}
        level = [Group(query_type, (self.prepared.operation.selection_set,), _ROOT, [data])]
        node = self.prepared.lone
        off = None if node is None else off_row(self, query_type, node)
        if off is not None:
            self.levels.append(level)
            level = await self._off_row(level[0], off)
        elif node is not None:
            definition = query_type.fields[node.name.value]
            resolver = self.resolver(query_type, definition)
            if resolver.reads_alone and resolver.batched is None:
                self.levels.append(level)
                level = await self._lookup(level[0], node, definition, resolver)
        while level:
            self.levels.append(level)
            level = await self._resolve_level(level)
        return data

    @property
    def variable_values(self) -> VariableValues:
        if self._variable_values is None:
            self._variable_values = VariableValues(sources={}, coerced=self.variables)
        return self._variable_values

    def collect(
        self, object_type: GraphQLObjectType, selections: tuple[SelectionSetNode, ...]
    ) -> dict[str, list[FieldNode]]:
        if self._collector is None:
            self._collector = Collector(self.prepared, self.variable_values)
        return self._collector.collect(object_type, selections)

    async def _lookup(
        self, group: Group, node: FieldNode, definition: GraphQLField, resolver: Resolver
    ) -> list[Group]:
        """The root level when it is one lookup (Prepared.lone, READS_ALONE), resolved as
        `_resolve_level` would, less what a level of one known field does not need: no
        collection, no gathering, and its resolver awaited with no wrapper around it.
        A post by ID is mostly this executor's overhead: this is a ninth of it."""
        key = (node.alias or node.name).value
        nodes = [node]
        next_level: NextLevel = {}
        assert resolver.function is not None  # a lookup has a resolver
        try:
            value = resolver.function(None, **self._called_with(definition, resolver, nodes, True))
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            group.outputs[0][key] = None
            self._complete_each(group, key, definition.type, nodes, [Failed(exc)], next_level)
        else:
            self._complete_all(group, key, definition.type, nodes, [value], next_level)
        return list(next_level.values())

    async def _off_row(self, group: Group, off: OffRow) -> list[Group]:
        """The root level when it is a lookup by ID answered off its row
        (schema/executor/lone.py): the row read, and answered as a page's rows are, with
        no object made. A row the plan does not answer gets its object and the walk."""
        key, lookup, definition, nodes = off.key, off.lookup, off.definition, [off.node]
        out = group.outputs[0]
        next_level: NextLevel = {}
        try:
            # The ID as the variables give it, or as any field's arguments are taken.
            given = None if off.take is None else off.take(self.variables)
            if given is None:
                given = self._kwargs(definition, off.resolver, off.node)
            pk = lookup.key(given["id"])
            row = None if pk is None else await lookup.row(self.info.context, pk, off.relations)
        except Exception as exc:
            out[key] = None
            self._complete_each(group, key, definition.type, nodes, [Failed(exc)], next_level)
            return []
        try:
            [answer], size = complete_inline(off.plan, off.found, [row])
        except Exception:
            made = None if row is None else lookup.make(row, off.relations)
            self._complete_all(group, key, definition.type, nodes, [made], next_level)
            return list(next_level.values())
        out[key] = answer
        self.size += size + len(key) + 8
        if self.size > self.path.max_response_bytes:
            raise ResponseTooLarge
        return []

    async def _resolve_level(self, level: list[Group]) -> list[Group]:
        next_level: NextLevel = {}
        pending: list[Awaitable[None]] = []
        try:
            alone = self._start_level(level, next_level, pending)
            if alone is not None:
                await alone
        except ResponseTooLarge:
            # Refused midway: the fields of the level already started are seen to
            # their end all the same (refused in turn), so that none is left never
            # awaited; then the refusal goes on.
            with contextlib.suppress(Exception):
                await gather_eagerly(pending, self._claim)
            raise
        # Together, so that every batch of the level joins its loader's queue
        # before any is dispatched; then the batches run in this task.
        await gather_eagerly(pending, self._claim)
        return list(next_level.values())

    def _start_level(
        self, level: list[Group], next_level: NextLevel, pending: list[Awaitable[None]]
    ) -> Awaitable[None] | None:
        """Each field of the level completed at once or added to `pending`; or, for a
        READS_ALONE lookup alone on its level, returned to be awaited as it is (it has
        no batch of its own to claim, and gathering would drive each of its
        statement's waits through Python)."""
        for group in level:
            fields = self.collect(group.type, group.selections)
            # The level's one field, on one object: a lookup's read shares no statement.
            alone = len(level) == 1 and len(fields) == 1 and len(group.sources) == 1
            for out in group.outputs:
                for key in fields:
                    out[key] = None
            for key, nodes in fields.items():
                name = nodes[0].name.value
                if name == "__typename":
                    for out in group.outputs:
                        out[key] = group.type.name
                    continue
                definition = group.type.fields[name]
                try:
                    values = self._values(group.sources, group.type, definition, nodes, alone)
                except Exception as exc:
                    pending.append(self._one_by_one(group, key, definition, nodes, exc, next_level))
                    continue
                if isinstance(values, list):
                    self._complete_all(group, key, definition.type, nodes, values, next_level)
                elif alone and self.resolver(group.type, definition).reads_alone:
                    return self._later(group, key, definition, nodes, values, next_level)
                else:
                    pending.append(self._later(group, key, definition, nodes, values, next_level))
        return None

    def _claim(self) -> tuple[list[Coroutine[Any, Any, None]], set[int]]:
        # The context's loaders of the moment: a mutation's resolver starts new ones.
        return self.info.context.loaders.claim()

    async def _later(
        self,
        group: Group,
        key: str,
        definition: GraphQLField,
        nodes: list[FieldNode],
        values: Awaitable[list[Any]],
        next_level: NextLevel,
    ) -> None:
        try:
            resolved = await values
        except Exception as exc:
            await self._one_by_one(group, key, definition, nodes, exc, next_level)
            return
        self._complete_all(group, key, definition.type, nodes, resolved, next_level)

    async def _one_by_one(
        self,
        group: Group,
        key: str,
        definition: GraphQLField,
        nodes: list[FieldNode],
        error: Exception,
        next_level: NextLevel,
    ) -> None:
        """A field that failed for its whole group, resolved object by object, as
        Strawberry would: a refusal for one object (FORBIDDEN for another user's
        orders) must not fail the others. Its loaders still batch the objects."""
        if len(group.sources) == 1 or not isinstance(error, ApiError):
            values: list[Any] = [Failed(error)] * len(group.sources)
        else:
            values = list(
                await gather_eagerly(
                    [self._one(source, group.type, definition, nodes) for source in group.sources]
                )
            )
        self._complete_each(group, key, definition.type, nodes, values, next_level)

    async def _one(
        self,
        source: Any,
        parent: GraphQLObjectType,
        definition: GraphQLField,
        nodes: list[FieldNode],
    ) -> Any:
        try:
            values = self._values([source], parent, definition, nodes)
            [value] = values if isinstance(values, list) else await values
        except Exception as exc:
            return Failed(exc)
        return value

    def _values(
        self,
        sources: list[Any],
        parent: GraphQLObjectType,
        definition: GraphQLField,
        nodes: list[FieldNode],
        alone: bool = False,
    ) -> list[Any] | Awaitable[list[Any]]:
        """Every source's value of one field: at once, or as one awaitable for them all.
        `alone`: the field is its level's only one, on one object (FastInfo.alone, for a
        lookup declared READS_ALONE)."""
        resolver = self.resolver(parent, definition)
        function = resolver.function
        if function is None:
            name = resolver.attribute
            return [getattr(source, name) for source in sources]
        kwargs = self._called_with(definition, resolver, nodes, alone and resolver.reads_alone)
        batched = resolver.batched
        if batched is not None:
            return batched(sources, **kwargs)  # type: ignore[no-any-return]
        if len(sources) == 1:
            # A root field, or a field of a level with one object: its one value
            # needs no gathering, and every wait of the read behind it passes through
            # one coroutine less (gather_eagerly's resumed wrapper runs Python per wait).
            result = function(sources[0], **kwargs)
            return _as_list(result) if inspect.isawaitable(result) else [result]
        results = [function(source, **kwargs) for source in sources]
        if any(inspect.isawaitable(result) for result in results):
            return _gather_all(results)
        return results

    def _called_with(
        self, definition: GraphQLField, resolver: Resolver, nodes: list[FieldNode], alone: bool
    ) -> dict[str, Any]:
        """The keyword arguments the field's resolver is called with: its arguments, and
        its `info` if it takes one (`alone`: FastInfo.alone)."""
        kwargs = self._kwargs(definition, resolver, nodes[0])
        if not resolver.wants_info:
            return kwargs
        prepared = self.prepared
        info = FastInfo(
            self.info.context, nodes, prepared.fragments, self.variables, prepared.lookahead, alone
        )
        return {**kwargs, "info": info}

    def resolver(self, parent: GraphQLObjectType, definition: GraphQLField) -> Resolver:
        resolver = self._resolvers.get(id(definition))
        if resolver is None:
            resolver = self.path.add_resolver(parent, definition)
        return resolver

    def inline_plan(
        self,
        object_type: GraphQLObjectType,
        selections: tuple[SelectionSetNode, ...],
        fields: tuple[str, ...] | None = None,
        rows: str | None = None,
        paired: bool = False,
        ahead: bool = False,
        pages: bool = False,
    ) -> Plan | None:
        """How `object_type`'s objects (or tuples of their `fields`, or with `rows` the
        rows they are made from, columns under that prefix, `paired` each with the
        connection read ahead for it) under `selections` are answered without a level
        of their own, if they can be (schema/executor/planning.py); made once per
        document, or once per set of fields that @skip/@include leave. `ahead`: a root
        field that read ahead for its objects' fields (`reads_ahead`): the plan answers
        them off what was read. `pages`: a connection's pages read ahead, not its
        connections (`plan_for_pages`)."""
        key: tuple[Any, ...] = (
            object_type.name,
            fields,
            rows,
            paired,
            ahead,
            pages,
            *map(id, selections),
        )
        plans = self.prepared.inline
        if self.prepared.conditional:
            # The plan covers every object below, so everything the conditions choose.
            key = (*key, *(self.variables.get(name) for name in self.prepared.condition_variables))
            if len(plans) >= MAX_CONDITIONAL_PLANS and key not in plans:
                # A document with many conditions could ask for a plan per combination.
                plans = self._plans
        if key in plans:
            plan: Plan | None = plans[key]
            return plan
        if pages:
            plan = plan_for_pages(self, object_type, selections)
        elif rows is None:
            plan = plan_for(self, object_type, selections, fields, ahead)
        else:
            plan = plan_for_rows(self, object_type, selections, rows, paired)
        plans[key] = plan
        return plan

    def _kwargs(
        self, definition: GraphQLField, resolver: Resolver, node: FieldNode
    ) -> dict[str, Any]:
        key = id(node)
        prepared = self.prepared
        cached = prepared.arguments.get(key)
        if cached is None:
            cached = self._arguments.get(key)
        if cached is None:
            plans = prepared.argument_plans
            plan = plans.get(key, _UNPLANNED)
            if plan is _UNPLANNED:
                plan = plans[key] = argument_plan(definition, node)
            raw = None if plan is None else plan(self.variables)
            if raw is None:
                raw = get_argument_values(definition, node, self.variable_values)
            cached = self.path.argument_converter(raw, resolver.field, self.info)
            # A node with a plan takes variables: its arguments are this run's alone.
            shared = plan is None and not any(
                uses_variables(argument.value) for argument in node.arguments or ()
            )
            (prepared.arguments if shared else self._arguments)[key] = cached
        return cached

    def _complete_all(
        self,
        group: Group,
        key: str,
        return_type: GraphQLOutputType,
        nodes: list[FieldNode],
        values: Sequence[Any],
        next_level: NextLevel,
    ) -> None:
        if len(values) != len(group.outputs):
            error = Unanswerable("a batch resolver returned the wrong number of values")
            values = [Failed(error)] * len(group.outputs)
            self._complete_each(group, key, return_type, nodes, values, next_level)
            return
        if not nodes[0].selection_set:
            try:
                complete, text = self.path.leaves_completer(return_type)
                completed = complete(values)
            except Exception:
                # One value this field's type cannot hold: find it, value by value.
                self._complete_each(group, key, return_type, nodes, values, next_level)
                return
            for out, value in zip(group.outputs, completed, strict=True):
                out[key] = value
            # `_grow`, inline: this is every leaf field's path.
            self.size += len(completed) * (len(key) + 8)
            if text:
                self.size += sum(map(len, filter(None, completed)))
            if self.size > self.path.max_response_bytes:
                raise ResponseTooLarge
            return
        selections = (
            (nodes[0].selection_set,)
            if len(nodes) == 1
            else tuple(n.selection_set for n in nodes if n.selection_set is not None)
        )
        # A root field that read ahead for its objects' fields lets their plan read it.
        ahead = (
            group.sources is _ROOT
            and self.resolver(group.type, group.type.fields[nodes[0].name.value]).reads_ahead
        )
        if self._completed_inline(group, key, return_type, selections, values, ahead):
            return
        completer = Completer(selections, next_level)
        shape = self.path.shape(return_type)
        try:
            for out, value in zip(group.outputs, values, strict=True):
                out[key] = shape(value, completer)
        except Unanswerable:
            self._complete_each(group, key, return_type, nodes, values, next_level)
            return
        self._grow(len(key), values, False)

    def _completed_inline(
        self,
        group: Group,
        key: str,
        return_type: GraphQLOutputType,
        selections: tuple[SelectionSetNode, ...],
        values: Sequence[Any],
        ahead: bool,
    ) -> bool:
        """Whether the field's objects were answered on the spot, with no level below."""
        found = self.path.objects(return_type)
        if found is None:
            return False
        plan = self.inline_plan(found[0], selections, ahead=ahead)
        if plan is None:
            return False
        try:
            completed, size = complete_inline(plan, found, values)
        except Exception:
            # Something the plan does not answer (a null where none may be, a row
            # without its riding relation): the walk finds it and reports it.
            return False
        for out, value in zip(group.outputs, completed, strict=True):
            out[key] = value
        self.size += size
        self._grow(len(key), values, False)
        return True

    def _complete_each(
        self,
        group: Group,
        key: str,
        return_type: GraphQLOutputType,
        nodes: list[FieldNode],
        values: Sequence[Any],
        next_level: NextLevel,
    ) -> None:
        """`_complete_all` for a field with failures: each value completed on its own,
        each failure kept for `place_errors`."""
        nullable = not isinstance(return_type, GraphQLNonNull)
        leaf = not nodes[0].selection_set
        selections = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        completer = Completer(selections, next_level)
        for out, value in zip(group.outputs, values, strict=True):
            try:
                if isinstance(value, Failed):
                    raise value.error
                if leaf:
                    out[key] = self.path.leaf_completer(return_type)(value)
                else:
                    out[key] = self.path.shape(return_type)(value, completer)
            except Exception as exc:
                out[key] = None
                self.failures.append(Failure(out, key, nodes, nullable, exc))
        self._grow(len(key), values, False)

    def _grow(self, key_length: int, values: Sequence[Any], text: bool) -> None:
        """Count a field's values into the answer's size; ResponseTooLarge past the bound."""
        size = len(values) * (key_length + 8)
        if text:
            size += sum(map(len, filter(None, values)))
        self.size += size
        if self.size > self.path.max_response_bytes:
            raise ResponseTooLarge


async def _as_list(result: Awaitable[Any]) -> list[Any]:
    return [await result]


async def _gather_all(results: list[Any]) -> list[Any]:
    awaitables = [result for result in results if inspect.isawaitable(result)]
    values = iter(await gather_eagerly(awaitables))
    return [next(values) if inspect.isawaitable(result) else result for result in results]
