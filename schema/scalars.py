"""How the custom scalars travel on the wire, said in the schema itself.

Strawberry's built-in `DateTime` and `Decimal` keep their serialising and parsing
(`isoformat()` and `str()` out; what they accept in): only their descriptions change,
and `DateTime` names its specification with `@specifiedBy`, so client generators and
their users can tell how to map them (README, "Typed clients").
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from strawberry.schema.types.base_scalars import DateTimeDefinition, DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

# What `isoformat()` of an aware datetime gives is RFC 3339's `date-time` (section 5.6):
# seconds always, a fraction only when it is not zero (then six digits), and an offset.
# (scalars.graphql.org's DateTime asks for exactly three fraction digits: not ours.)
RFC_3339 = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"

DATE_TIME = dataclasses.replace(
    DateTimeDefinition,
    description=(
        "A point in time: a string in RFC 3339's date-time format with a UTC offset, "
        'e.g. "2026-11-21T10:15:00+00:00", or "2026-11-21T10:15:00.250000+00:00" when '
        "the fraction of a second is not zero. A value sent without an offset is read as UTC."
    ),
    specified_by_url=RFC_3339,
)

DECIMAL = dataclasses.replace(
    DecimalDefinition,
    description=(
        'An exact decimal number, sent as a JSON string, e.g. "19.99", never as a JSON '
        "number (a float would round it). Map it to a decimal type, or keep it a string."
    ),
)

SCALARS: dict[object, ScalarDefinition] = {datetime: DATE_TIME, Decimal: DECIMAL}
