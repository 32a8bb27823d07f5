"""Structured JSON logs with the correlation id; every line masked by `backbone.masking.mask_pii`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from backbone.correlation import current_correlation_id
from backbone.masking import mask_pii


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": mask_pii(record.getMessage()),
        }
        if cid := current_correlation_id():
            entry["correlation_id"] = cid
        for key in ("event_id", "event_type", "topic", "subject", "order_id", "ticket_id"):
            if (value := record.__dict__.get(key)) is not None:
                entry[key] = str(value)
        if record.exc_info:
            entry["exc"] = mask_pii(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


#: Loggers that servers configure with handlers of their own (uvicorn's error log prints tracebacks
#: and its access log request lines with their query strings): routed to the masked root handler.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "gunicorn.error", "gunicorn.access")


def configure_logging(service: str, level: str = "INFO") -> None:
    # A line names no process, thread or source position (`JsonFormatter`): a record need not look them up, a
    # getpid() and a walk up the caller's frames per record (the logging HOWTO's "Optimization"; ~1 % of the
    # CRM's CPU per order, issue 16). In another formatter `%(process)d` and the like would print None, and
    # `%(funcName)s` "(unknown function)".
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in SERVER_LOGGERS:
        # uvicorn has configured these before it imported the app; no line may bypass the masking.
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = []
        server_logger.propagate = True
    for noisy in ("aiokafka", "uvicorn.access", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
