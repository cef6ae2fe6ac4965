"""The config reference in `docs/`, generated from the pydantic models so it cannot drift from the code.

A document holds a block between `<!-- reference: SECTION -->` and `<!-- /reference -->`; the block is
replaced by a table per model of that section (field, type, default, meaning).
"""

from __future__ import annotations

import re
import types as pytypes
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from orchestra.core.settings import OrchestraSettings

_BLOCK = re.compile(r"(<!-- reference: (?P<section>[\w.]+) -->\n)(?P<body>.*?)(<!-- /reference -->)", re.S)


def _models(model: type[BaseModel], path: str, seen: dict[str, type[BaseModel]]) -> None:
    seen.setdefault(path, model)
    for name, field in model.model_fields.items():
        for inner in _nested_models(field.annotation):
            suffix = ".<name>" if typing.get_origin(field.annotation) is dict else ""
            _models(inner, f"{path}.{name}{suffix}", seen)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested_models(arg)]


def _unit(field: Any) -> str | None:
    """`duration`, `rate` or `size` for fields declared with those config units (pydantic keeps them as metadata)."""
    for meta in field.metadata:
        name = getattr(getattr(meta, "func", None), "__name__", "")
        if name in ("parse_duration", "parse_rate", "parse_size"):
            return name.removeprefix("parse_")
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, pytypes.UnionType):
        kinds = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(kinds) + " (optional)"
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(annotation))}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if getattr(annotation, "__name__", "") == "Rate":
        return "rate"
    return getattr(annotation, "__name__", str(annotation))


def _field_type(field: Any) -> str:
    unit = _unit(field)
    optional = typing.get_origin(field.annotation) in (typing.Union, pytypes.UnionType)
    return f"{unit}{' (optional)' if optional else ''}" if unit else _type_name(field.annotation)


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "unset"
    if _unit(field) == "duration":
        return f"`{value:g}s`"
    return f"`{value!r}`"


def render_section(section: str) -> str:
    root = OrchestraSettings.model_fields[section].annotation
    assert isinstance(root, type)
    assert issubclass(root, BaseModel)
    seen: dict[str, type[BaseModel]] = {}
    _models(root, section, seen)
    out: list[str] = []
    for path, model in seen.items():
        out.append(f"### `{path}`\n\n{(model.__doc__ or '').strip()}\n")
        out.append("| field | type | default | meaning |\n| --- | --- | --- | --- |")
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{name}` | {_field_type(field)} | {_default(field)} | {meaning} |")
        out.append("")
    return "\n".join(out)


def update_references(docs: Path, *, write: bool) -> list[Path]:
    """Regenerate every reference block under `docs`; returns the documents that were (or would be) changed."""
    changed = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = _BLOCK.sub(lambda m: m.group(1) + render_section(m.group("section")) + m.group(4), text)
        if new != text:
            changed.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return changed
