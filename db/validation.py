"""Input rules shared by the API and the command line (API.md, "Mutations")."""

from __future__ import annotations

import re

USERNAME = re.compile(r"[A-Za-z0-9_]{3,50}")
# Deliberately plain: one @, a dot in the domain, no spaces. Deliverability is the mailer's job.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_username(username: str) -> str | None:
    if not USERNAME.fullmatch(username):
        return "username must be 3 to 50 letters, digits or underscores"
    return None


def check_email(email: str) -> str | None:
    if len(email) > 255 or not EMAIL.fullmatch(email):
        return "email is not a valid address"
    return None


def check_password(password: str) -> str | None:
    if len(password) < 8:
        return "password must be at least 8 characters"
    return None


def check_text(value: str) -> str | None:
    """Text PostgreSQL cannot store: a NUL character, or a lone surrogate (JSON allows
    `"\\ud800"`, UTF-8 does not)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not is_unicode(value):
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
