"""Mollie's OpenAPI description, loaded as JSON Schema 2020-12 to validate responses with.

For tools/spec_check.py. The description is OpenAPI 3.1, whose schemas are JSON Schema 2020-12
with a few habits read here as meant: `x-` keys and OpenAPI keywords (`discriminator`,
`readOnly`, `example`) are annotations JSON Schema ignores, and a `$ref` (or `allOf`) beside
`type: [..., "null"]` means "this, or null" (see `_nullable_refs`). `$ref`s resolve inside the
document (`referencing`); formats are checked (`jsonschema[format-nongpl]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:mollie:openapi"


class _SpecLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """YAML without implicit timestamps: JSON Schema sees dates in examples as the strings
    they are on the wire (and some of the description's example dates are not valid dates)."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Violation:
    source: str  # the template (sandbox), or "example …" / "sample …"
    path: str  # JSON path with array indices folded
    rule: str  # the JSON Schema keyword that failed
    message: str
    where: str  # the URL or file it came from


class Spec:
    """The OpenAPI document, with a validator per operation's 200 response schema."""

    def __init__(self, path: Path) -> None:
        with path.open(encoding="utf-8") as f:
            self.doc = yaml.load(f, Loader=_SpecLoader)
        _nullable_refs(self.doc)
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def response(self, template: str) -> dict[str, Any]:
        """The operation's 200 response object (a `$ref` to `components.responses` resolved)."""
        response = self.doc["paths"][template]["get"]["responses"]["200"]
        while "$ref" in response:
            response = self.pointer(response["$ref"])
        return response

    def pointer(self, ref: str) -> Any:
        node: Any = self.doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _content_pointer(self, template: str) -> str:
        response_ptr = f"#/paths/{_escape(template)}/get/responses/200"
        response = self.doc["paths"][template]["get"]["responses"]["200"]
        if "$ref" in response:
            response_ptr = response["$ref"]
        (media,) = [m for m, c in self.response(template)["content"].items() if "schema" in c]
        return f"{response_ptr}/content/{_escape(media)}/schema"

    def validator(self, template: str) -> Draft202012Validator:
        if template not in self._validators:
            schema = {"$ref": f"{SPEC_URI}{self._content_pointer(template)}"}
            self._validators[template] = Draft202012Validator(
                schema,
                registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
        return self._validators[template]

    def get_templates(self) -> list[tuple[str, re.Pattern[str]]]:
        """Every path with a GET, fixed segments before parameters (`/settlements/open` wins
        over `/settlements/{settlementId}`)."""
        out = []
        for template, item in self.doc["paths"].items():
            if "get" in item:
                rx = re.compile(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)))
                out.append((template, rx))
        return sorted(out, key=lambda t: t[0].count("{"))

    def examples(self, template: str) -> Iterator[tuple[str, Any]]:
        """The description's own examples of the operation's 200 response."""
        for content in self.response(template)["content"].values():
            for name, example in (content.get("examples") or {}).items():
                while "$ref" in example:
                    example = self.pointer(example["$ref"])
                if "value" in example:
                    yield name, example["value"]

    def check(self, template: str, body: Any, source: str, where: str) -> list[Violation]:
        return [
            _violation(error, source, where) for error in self.validator(template).iter_errors(body)
        ]


def _nullable_refs(node: Any) -> None:
    """OpenAPI 3.1 writes "this reference, or null" as a `$ref` (or `allOf`) with a sibling
    `type: [string, "null"]`; JSON Schema 2020-12 would AND the two, so null would fail the
    reference. Rewrite each such schema, in place, as `anyOf: [the schema, {type: null}]`."""
    if isinstance(node, list):
        for item in node:
            _nullable_refs(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key not in ("example", "examples"):  # data, not schemas
            _nullable_refs(value)
    kind = node.get("type")
    if isinstance(kind, list) and "null" in kind and ("$ref" in node or "allOf" in node):
        inner = dict(node)
        rest = [k for k in kind if k != "null"]
        if rest:
            inner["type"] = rest if len(rest) > 1 else rest[0]
        else:
            del inner["type"]
        node.clear()
        node["anyOf"] = [inner, {"type": "null"}]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1").replace("{", "%7B").replace("}", "%7D")


def _fold(json_path: str) -> str:
    """Array indices and the numeric keys of settlement periods (year, month) as `[*]`."""
    return re.sub(r"\[\d+\]|\['\d+'\]", "[*]", json_path)


def _violation(error: ValidationError, source: str, where: str) -> Violation:
    # A failed oneOf/anyOf says only "is not valid under any of the given schemas": name the
    # sub-error that fits best, which says what is wrong inside.
    # A nullable reference (see _nullable_refs) that fails: the null branch says nothing useful.
    context = [e for e in error.context if e.schema != {"type": "null"}] or error.context
    detail = best_match(context) if context else error
    message = detail.message if len(detail.message) < 300 else detail.message[:297] + "..."
    return Violation(source, _fold(detail.json_path), str(detail.validator), message, where)
