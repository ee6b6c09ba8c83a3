"""Validators for the official VDA 5050 2.1.0 schemas (copied to tests/reference/vda5050/).

Format checking is on (date-time really checked: rfc3339-validator is installed).
`errata_validator` is the schema with the known errata corrected (2.1.0 `state` lacks the
`PAUSED` action status that spec 2.1 §6.11 defines, upstream #356); `validator` adds to that
an overlay that forbids keys the schema does not define (the schemas allow any, upstream
#174), so a typo such as `informations` fails too; `raw_validator` is the schema as
published. The schema files themselves are never edited.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

REFERENCE = Path(__file__).resolve().parent / "reference" / "vda5050" / "2.1.0"


def _forbid_unknown_keys(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _forbid_unknown_keys(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_unknown_keys(value)


@cache
def raw_schema(topic: str) -> dict[str, Any]:
    """`topic` is the VDA 5050 topic leaf: order, instantActions, state, connection, ..."""
    schema: dict[str, Any] = json.loads((REFERENCE / f"{topic}.schema").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


def _with_errata(topic: str) -> dict[str, Any]:
    schema = copy.deepcopy(raw_schema(topic))
    if topic == "state":
        status = schema["properties"]["actionStates"]["items"]["properties"]["actionStatus"]
        if "PAUSED" not in status["enum"]:
            status["enum"].append("PAUSED")
    return schema


@cache
def raw_validator(topic: str) -> Draft202012Validator:
    return Draft202012Validator(raw_schema(topic), format_checker=FormatChecker())


@cache
def errata_validator(topic: str) -> Draft202012Validator:
    return Draft202012Validator(_with_errata(topic), format_checker=FormatChecker())


@cache
def validator(topic: str) -> Draft202012Validator:
    strict = _with_errata(topic)
    _forbid_unknown_keys(strict)
    Draft202012Validator.check_schema(strict)
    return Draft202012Validator(strict, format_checker=FormatChecker())


def problems(topic: str, message: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator(topic).iter_errors(message)
    ]
