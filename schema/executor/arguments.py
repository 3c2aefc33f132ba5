"""A field's arguments taken straight from the run's variables where graphql-core
would only pass them on.

A field given `$variables` has its arguments coerced on every run, since their
values change: graphql-core's `get_argument_values` walks each argument definition
through `coerce_argument` and `coerce_input_literal`, about a fifth of the lean
executor's own work on a post by ID (counted in opcodes). For an argument that is a
bare `$variable` present in the run's variables, all that walk does is take the
variable's value, which was coerced to the argument's type with the variables
(validation checked the types agree). `argument_plan` makes, once per field node, a
function that does just that, with the node's other arguments (literals, defaults)
coerced once. A missing variable, or a null for a non-null argument, it hands back
to graphql-core, which applies the default or words the error as ever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import FieldNode, GraphQLField, GraphQLNonNull, VariableNode, get_argument_values

from schema.executor.plan import uses_variables

# The run's coerced variables to the field's arguments by their (out) names, or None
# where graphql-core must take them.
ArgumentPlan = Callable[[Mapping[str, Any]], dict[str, Any] | None]


def argument_plan(definition: GraphQLField, node: FieldNode) -> ArgumentPlan | None:
    """None when the node's arguments use no variables (they are coerced once and
    shared), or use one inside a list or an input object (graphql-core coerces those)."""
    given = {argument.name.value: argument.value for argument in node.arguments or ()}
    # (out name, variable name, whether the argument is non-null), in definition order.
    taken: list[tuple[str, str, bool]] = []
    fixed = {}
    for name, argument in definition.args.items():
        value = given.get(name)
        if isinstance(value, VariableNode):
            non_null = isinstance(argument.type, GraphQLNonNull)
            taken.append((argument.out_name or name, value.name.value, non_null))
        elif value is not None and uses_variables(value):
            return None
        else:
            fixed[name] = argument
    if not taken:
        return None
    try:
        # Literals and defaults, coerced as graphql-core coerces them on every run.
        constants = get_argument_values(GraphQLField(definition.type, fixed), node)
    except Exception:
        return None  # graphql-core refuses them, and words why, on every run

    def take(variables: Mapping[str, Any]) -> dict[str, Any] | None:
        values = dict(constants)
        for out_name, variable, non_null in taken:
            value = variables.get(variable, _MISSING)
            if value is _MISSING or (value is None and non_null):
                return None
            values[out_name] = value
        return values

    return take


_MISSING: Any = object()
