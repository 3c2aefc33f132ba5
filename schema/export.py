"""The two files client generators take, as the code serves the schema (API.md,
"Schema export"): the SDL and the introspection result."""

from __future__ import annotations

import json
from typing import Any

from graphql import introspection_from_schema

from schema import Schema
from schema.executor.compat import graphql_schema


def sdl(schema: Schema) -> str:
    return schema.as_str() + "\n"


def introspection(schema: Schema) -> str:
    """The answer to the full introspection query, `{"data": {"__schema": ...}}`: what a
    server would answer, which graphql-codegen (`schema: schema.json`), Apollo's tools
    and graphql-core's `build_client_schema(...["data"])` all read."""
    result = introspection_from_schema(
        graphql_schema(schema),
        # Everything the schema says, bar what is still experimental.
        experimental_directive_deprecation=False,
    )
    # Types by name, as in the SDL, so that the file changes only where the schema does.
    result["__schema"]["types"] = sorted(result["__schema"]["types"], key=_name)
    return json.dumps({"data": result}, indent=2, ensure_ascii=False) + "\n"


def _name(item: Any) -> str:
    return str(item["name"])
