"""A lean executor for read-only documents: the same resolvers, level by level.

graphql-core resolves every field of every object on its own, with a coroutine
(and often a task) per relationship per object; most of a nested query's CPU
goes there. This executor walks a query breadth-first: each level's objects are
grouped by the field that produced them, and a relationship resolves once for
the whole group through its batch form (`@batch`), which calls the same loaders
as the per-object resolver (schema/batching.py). Statement counts are
unchanged; Python work is not repeated per object.

It handles only what it can answer exactly; anything else (mutations,
introspection, custom directives) returns None, and the caller runs the
document through Strawberry. Reads change nothing, so running a document twice
is harmless.

The modules, in the order a request meets them:

    fast_path.py  FastPath.execute: a document in, an Answer (or None) out
    plan.py       what a document's runs share, decided once per document
    run.py        one run, level by level
    collect.py    which fields each object answers (fragments, @skip/@include)
    resolvers.py  how one field resolves: attribute, resolver, or batch form
    eager.py      awaiting a level's fields together without a task each
    shapes.py     completing values into the answer, made once per type
    inline.py     objects below which nothing waits, answered without a level
    errors.py     field errors placed at their paths, nulls carried up
    compat.py     the one module that touches a library's private parts

Raising a version bound in pyproject.toml (strawberry-graphql, graphql-core,
sqlalchemy, asyncpg, aiodataloader): with the new version locked, run

    uv run pytest tests/schema/test_compat.py   # every private part still where it was
    uv run pytest tests/schema/test_fast.py     # the lean executor against Strawberry
    uv run pytest tests/db/test_statements.py   # reads compiled and bound as before
    uv run pytest                               # then everything

and the bench against the commit before the upgrade (bench/README.md: `bench/run.py
--only storefront,baseline --baseline REV`, and its in-process timings), since a
library's minor release can move where the time goes. A test_compat failure names
the internal that moved: fix its function in compat.py, nowhere else.

This package imports nothing on its own: compat.py is imported from modules the
executor itself depends on (schema/documents.py), so importing the package must
not pull in the executor.
"""
