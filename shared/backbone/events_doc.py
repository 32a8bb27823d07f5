"""Writes docs/events.md from the registered payloads, so the document cannot drift from the code.

`python -m backbone.events_doc > docs/events.md`; a test fails when the file is stale.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from backbone import events
from backbone.envelope import Envelope

HEADER = """# Events

Generated from `shared/backbone/events.py` by `python -m backbone.events_doc > docs/events.md`
(a test fails when this file is stale). Every event travels in the same envelope; topics are keyed
by `subject`, so one aggregate's events stay in order on one partition.

## Envelope

| field | type | meaning |
|---|---|---|
| `id` | UUID | unique per event; the consumers' idempotency key (inbox) |
| `type` | string | e.g. `crm.order.submitted` |
| `source` | string | producing service |
| `time` | RFC 3339 UTC | when the event was created |
| `subject` | string | aggregate id (order, complaint, ticket, delivery) and the Kafka key |
| `schema_version` | int | version of `data`'s schema; additive changes keep it |
| `correlation_id` | string or null | from the REST request (`X-Correlation-ID`) that started the chain |
| `data` | object | the typed payload below |

Consumers accept unknown event types (skipped, counted in `events_skipped_total`) and unknown extra
fields; a malformed envelope or a payload that breaks its schema goes to `<topic>.dlq` with the
original bytes and headers `dlq.reason`, `dlq.kind` (`malformed`, `schema`, `rejected`, `failed`),
`dlq.consumer_group`, `dlq.original_topic`, `dlq.original_partition`, `dlq.original_offset`.

## Topics

| topic | key | events |
|---|---|---|
"""


def _type_name(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).split("/")[-1]
    if "anyOf" in schema:
        return " or ".join(_type_name(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    t = schema.get("type", "any")
    if t == "array":
        return f"list of {_type_name(schema.get('items', {}), defs)}"
    if t == "string" and schema.get("format"):
        return f"string ({schema['format']})"
    return str(t)


def _fields_table(model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    rows = ["| field | type | required | notes |", "|---|---|---|---|"]
    for name, prop in schema["properties"].items():
        note = prop.get("description", "")
        rows.append(f"| `{name}` | {_type_name(prop, defs)} | {'yes' if name in required else 'no'} | {note} |")
    for def_name, d in defs.items():
        rows.append("")
        rows.append(f"`{def_name}`: " + ", ".join(f"`{k}` ({_type_name(v, defs)})" for k, v in d["properties"].items()))
    return "\n".join(rows)


def render() -> str:
    reg = events.registry()
    by_topic: dict[str, list[str]] = {}
    for etype, (_, _, topic) in reg.items():
        by_topic.setdefault(topic, []).append(etype)
    out = [HEADER.rstrip("\n")]
    for topic, types in by_topic.items():
        out.append(f"| `{topic}` | subject | {', '.join(f'`{t}`' for t in types)} |")
    out.append("")
    for etype, (model, version, topic) in reg.items():
        out.append(f"## `{etype}`")
        out.append("")
        out.append(f"Topic `{topic}`, schema version {version}. {(model.__doc__ or '').strip()}")
        out.append("")
        out.append(_fields_table(model))
        out.append("")
    example = Envelope(type="crm.order.cancelled", source="crm", subject="ord_01a2176b108c97c0b5087a",
                       correlation_id="demo-1", data={"order_id": "ord_01a2176b108c97c0b5087a",
                                                      "customer_id": "cus_tj_port", "reason": "customer withdrew",
                                                      "cancelled_at": "2026-11-26T10:00:00Z"})
    sample = json.loads(example.model_dump_json())
    sample["id"] = "5f0c6a43-3f55-4b7e-9a34-0d5e2b3c1a77"
    sample["time"] = "2026-11-26T10:00:00.120000Z"
    out.append("## Example on the wire")
    out.append("")
    out.append("```json")
    out.append(json.dumps(sample, indent=2, ensure_ascii=False))
    out.append("```")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
