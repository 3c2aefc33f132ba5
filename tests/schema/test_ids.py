"""Global IDs: what decodes, and what is refused as no ID at all (None, never an error)."""

from __future__ import annotations

import pytest

from schema.ids import decode_id, decode_id_of, encode_id


@pytest.mark.parametrize(
    ("type_name", "pk"), [("Post", 1), ("User", 0), ("Order", 10**17), ("Tag", 123456789)]
)
def test_an_encoded_id_decodes_to_its_type_and_key(type_name: str, pk: int) -> None:
    assert decode_id(encode_id(type_name, pk)) == (type_name, pk)
    assert decode_id_of(encode_id(type_name, pk), type_name) == pk
    assert decode_id_of(encode_id(type_name, pk), "Product") is None


def test_padding_and_either_alphabet_are_accepted_as_base64_decoders_do() -> None:
    # "Post:1" is UG9zdDox; "Post:>?" has a 62nd and 63rd character to spell.
    assert decode_id("UG9zdDox") == decode_id("UG9zdDox=") == ("Post", 1)
    assert decode_id("VXNlcjo-Pz8") is None  # decodes, but "User:>??" names no key
    assert decode_id(encode_id("Post", 7).replace("-", "+").replace("_", "/")) == ("Post", 7)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "é",  # not ASCII
        "!!!!",
        "UG9zdA",  # "Post", no key
        encode_id("Comment", 1),  # no such type
        encode_id("Post", 10**19),  # a key longer than a bigint
        "UG9zdDotMQ",  # "Post:-1"
        "A" * 65,
        "UG9zdDrvvJE",  # "Post:" and a fullwidth digit one (U+FF11)
    ],
)
def test_anything_else_is_no_id(value: str) -> None:
    assert decode_id(value) is None
