"""Deterministic design-to-HTML/CSS compiler over Framelink's simplified Figma data.

The design_to_deployment workflow must produce a page without an LLM, so this turns what the design server's
`get_figma_data` returns (nodes, `globalVars.styles`, `elements` templates) into one standalone `index.html`:
auto-layout becomes flexbox, sizes and colours are copied, and layer names pick semantic elements (a "Button/…"
layer is a <button>, an "Input/…" a labelled <input>, a "Toggle/…" a checkbox). The same input always gives
byte-identical output: class names come from layer names and ids, and nothing depends on time or hashing order.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from orchestra.design import css

_STYLE_REFS = ("layout", "fills", "strokes", "effects", "textStyle")
_SHAPES = {"RECTANGLE", "ELLIPSE", "IMAGE-SVG", "LINE", "VECTOR", "STAR", "REGULAR_POLYGON", "BOOLEAN_OPERATION"}
_CONTAINERS = {"FRAME", "GROUP", "INSTANCE", "COMPONENT", "COMPONENT_SET", "SECTION"}
_KINDS = (  # (kind, pattern over the layer name in lower case with / _ - as spaces); the first match wins
    ("toggle", r"\b(toggle|switch)\b"), ("checkbox", r"\bcheck ?box\b"), ("button", r"\b(button|btn|cta)\b"),
    ("select", r"\b(select|dropdown|combo ?box)\b"), ("textarea", r"\btext ?area\b"),
    ("input", r"\b(input|text ?field|text ?input|search ?field)\b"), ("nav", r"\b(nav|navigation|navbar|menu)\b"),
    ("header", r"\b(header|top ?bar)\b"), ("footer", r"\bfooter\b"), ("aside", r"\b(sidebar|aside)\b"),
    ("form", r"\bform\b"), ("card", r"\b(card|tile)\b"), ("list", r"\blist\b"), ("link", r"\blink\b"),
)  # fmt: skip
_UNNESTED = {"nav", "header", "footer", "aside", "form"}  # landmarks and forms are not repeated inside themselves
_TAGS = {"button": "button", "link": "a", "nav": "nav", "header": "header", "footer": "footer", "aside": "aside",
         "form": "form", "card": "article", "list": "ul", "section": "section", "page": "main"}  # fmt: skip
_FIELDS = {"input", "select", "textarea"}
_INPUT_TYPES = (("email", r"e-?mail"), ("password", r"password"), ("search", r"search"), ("tel", r"phone|\btel\b"),
                ("url", r"\burl\b|website"))  # fmt: skip
_SPEC_KINDS = {"page", "section", "button", "link", "toggle", "checkbox", *_FIELDS, *_UNNESTED, "card", "list"}
_KEY_STYLES = ("display", "flex-direction", "justify-content", "align-items", "gap", "padding", "width", "height",
               "background-color", "background", "color", "border-width", "border-color", "border-radius",
               "box-shadow", "opacity", "font-size", "font-weight")  # fmt: skip


@dataclass(frozen=True)
class CompiledPage:
    """The compiler's output: the page, its stylesheet, the component spec shown to users, and the texts to test."""

    html: str
    css: str
    component_spec: list[dict[str, Any]]
    expected_texts: list[str]
    title: str


@dataclass(frozen=True)
class _Ctx:
    section: str | None = None  # the top-level section being rendered, for the spec
    phrasing: bool = False  # inside <button>/<a>/<label>: only phrasing elements (<span>) may follow
    landmarks: frozenset[str] = frozenset()  # landmark and form kinds among the ancestors
    field: dict[str, Any] | None = None  # inside a form field: which texts are its label and value
    list_item: bool = False  # a direct child of a <ul>


def compile_design(simplified: dict[str, Any], *, title: str | None = None) -> CompiledPage:
    """Compile Framelink's simplified design (`get_figma_data`, JSON) into a standalone page.

    Renders every frame on the design's pages; component definitions (the "Components" page) are only a library.
    Malformed or unknown nodes degrade to a commented block instead of failing the workflow.
    """
    return _Compiler(simplified if isinstance(simplified, dict) else {}).compile(title)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _words(name: str) -> str:
    return re.sub(r"[/_\-]+", " ", name.lower())


class _Compiler:
    """One compilation: reads the design once, then renders it top-down into HTML lines, CSS rules and the spec."""

    def __init__(self, design: dict[str, Any]) -> None:
        self.styles = _mapping(_mapping(design.get("globalVars")).get("styles"))
        self.elements = _mapping(design.get("elements"))
        metadata = _mapping(design.get("metadata"))
        self.components = _mapping(metadata.get("components"))
        self.name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
        self.roots = self._roots(design.get("nodes"))
        self.rules: dict[str, list[css.Decl]] = {}  # class -> declarations, in document order
        self.extra: list[str] = []  # pseudo-class and descendant rules
        self.texts: list[str] = []
        self.spec: list[dict[str, Any]] = []
        self.classes: dict[int, str] = {}  # by the raw node's identity: one class per layer
        self.taken: set[str] = set()
        self.labels: dict[str, str] = {}  # text node id -> id of the control it labels
        self.levels = self._heading_levels()
        families = [_mapping(n.get("textStyle")).get("fontFamily") for n, _ in self._walk(self.roots)]
        named = Counter(family for family in families if isinstance(family, str))
        self.family = named.most_common(1)[0][0] if named else None  # the most used family goes on <body>

    def compile(self, title: str | None) -> CompiledPage:
        body: list[str] = []
        for index, root in enumerate(self.roots):
            body += self._render(root, None, 1, _Ctx(), page=index == 0)
        names = [self.resolve(root).get("name") for root in self.roots]
        title = title or self.name or next((n for n in names if isinstance(n, str)), None) or "Design"
        stylesheet = css.stylesheet(self.rules, self.extra, family=self.family)
        page = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{html.escape(title)}</title>", "<style>", stylesheet + "</style>", "</head>", "<body>",
                *body, "</body>", "</html>", ""]  # fmt: skip
        return CompiledPage("\n".join(page), stylesheet, self.spec, self.texts, title)

    # Reading the simplified design.

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """The node with its `template` merged in and style references replaced by the styles themselves."""
        template = self.elements.get(node.get("template")) if isinstance(node.get("template"), str) else None
        merged = {**_mapping(template), **node}
        for key in ("type", "name", "text", "componentId", "textStyleName"):  # scalars; anything else is noise
            if key in merged and not isinstance(merged[key], str):
                del merged[key]
        for key in _STYLE_REFS:
            if isinstance(merged.get(key), str):
                if key == "textStyle":
                    merged["textStyleName"] = merged[key]
                merged[key] = self.styles.get(merged[key])
        return merged

    def _roots(self, nodes: Any) -> list[dict[str, Any]]:
        nodes = [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
        framed, everything = [], []
        for node in nodes:
            if node.get("type") != "CANVAS":
                framed.append(node)
                continue
            children = _kids(node)
            everything += children
            framed += [c for c in children if self.resolve(c).get("type") not in ("COMPONENT", "COMPONENT_SET")]
        return framed or everything

    def _walk(self, nodes: Any, depth: int = 1) -> list[tuple[dict[str, Any], int]]:
        found = []
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict):
                found.append((self.resolve(node), depth))
                found += self._walk(_kids(node), depth + 1)
        return found

    def _texts_in(self, node: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
        return [(n, d) for n, d in self._walk(_kids(node)) if n.get("type") == "TEXT"]

    def _heading_levels(self) -> dict[float, int]:
        """Heading font sizes, largest first, as levels 1..3: the page's type ramp decides, not absolute sizes."""
        sizes = set()
        for node, _ in self._walk(self.roots):
            style = _mapping(node.get("textStyle"))
            size, weight = css.number(style.get("fontSize")) or 0, css.number(style.get("fontWeight")) or 400
            if node.get("type") == "TEXT" and css.is_heading(node.get("textStyleName"), size, weight):
                sizes.add(size)
        return {size: min(rank, 3) for rank, size in enumerate(sorted(sizes, reverse=True), start=1)}

    def _class(self, raw: dict[str, Any]) -> str:
        """`<layer name>-<id>`, e.g. `plan-card-team-1-35`: readable, stable, unique within the page."""
        if id(raw) not in self.classes:
            node = self.resolve(raw)
            text = node.get("text") if isinstance(node.get("text"), str) else ""
            base = css.slugify(str(node.get("name") or "")) or css.slugify(" ".join(text.split()[:3]), 24)
            base = base or css.slugify(str(node.get("type") or "")) or "node"
            suffix = re.sub(r"[^a-z0-9]+", "-", str(node.get("id") or "").lower()).strip("-")
            name = f"{'n-' if base[0].isdigit() else ''}{base}{'-' + suffix if suffix else ''}"
            candidate, n = name, 1
            while candidate in self.taken:
                n += 1
                candidate = f"{name}-{n}"
            self.classes[id(raw)] = candidate
            self.taken.add(candidate)
        return self.classes[id(raw)]

    def _kind(self, node: dict[str, Any], ctx: _Ctx, depth: int, page: bool) -> str:
        kind_of_type = node.get("type")
        if kind_of_type == "TEXT":
            return "text"
        if page:
            return "page"
        if not ctx.phrasing and not ctx.field:
            words = _words(str(node.get("name") or ""))
            for kind, pattern in _KINDS:
                nested = kind in _UNNESTED and kind in ctx.landmarks
                if re.search(pattern, words) and not nested and (kind != "list" or _kids(node)):
                    return kind
        if kind_of_type in _CONTAINERS or kind_of_type in _SHAPES:
            return "section" if depth == 2 and kind_of_type in _CONTAINERS and not ctx.phrasing else "frame"
        return "unknown"

    # Rendering.

    def _render(self, raw: Any, parent_mode: str | None, depth: int, ctx: _Ctx, page: bool = False) -> list[str]:
        pad = "  " * depth
        if not isinstance(raw, dict):
            return [f"{pad}<!-- skipped a node that is not an object -->"]
        node, cls, item = self.resolve(raw), self._class(raw), ctx.list_item
        node_id = str(node.get("id") or cls)
        kind = self._kind(node, ctx, depth, page)
        decls = self._decls(node, parent_mode, root=depth == 1)
        attrs = {"class": cls, "data-node": node_id}
        ctx = replace(ctx, list_item=False)
        if kind == "text" and ctx.field and node_id == ctx.field["value"]:
            lines = [pad + self._control(node, cls, parent_mode, ctx.field)]
        elif kind == "text":
            lines = [pad + self._text(node, cls, decls, attrs, ctx)]
        elif kind in ("toggle", "checkbox"):
            spec = self._spec(node, kind, cls, decls, ctx)
            lines = self._switch(node, cls, decls, attrs, kind, depth, ctx)
            self._finish(spec)
        else:
            lines = self._container(node, cls, decls, attrs, kind, depth, ctx)
        return _as_item(lines, pad) if item else lines

    def _container(self, node: dict[str, Any], cls: str, decls: list[css.Decl], attrs: dict[str, str], kind: str,
                   depth: int, ctx: _Ctx) -> list[str]:  # fmt: skip
        pad = "  " * depth
        self.rules[cls] = decls
        if depth == 2:  # a top-level section of the page: the spec groups components by it
            ctx = replace(ctx, section=str(node.get("name") or cls))
        spec = self._spec(node, kind, cls, decls, ctx)
        tag = "span" if ctx.phrasing else _TAGS.get(kind, "div")
        if kind in _FIELDS:
            ctx = replace(ctx, field=self._field(node, cls, kind))
        elif kind in _UNNESTED:
            ctx = replace(ctx, landmarks=ctx.landmarks | {kind})
        if kind == "button":
            attrs["type"] = "button"
            if re.search(r"\bdisabled\b", _words(str(node.get("name") or ""))):
                attrs["disabled"] = ""
        elif kind == "link":
            attrs["href"] = "#"
        elif tag == "div" and node.get("type") in _SHAPES and not _kids(node):
            attrs["aria-hidden"] = "true"
        body = (
            [f"{pad}  <!-- unsupported Figma node type {_comment(node.get('type'))} -->"] if kind == "unknown" else []
        )
        children = _kids(node)
        if not ctx.phrasing and not ctx.field:
            self._pair_labels(children)
        mode = str(_mapping(node.get("layout")).get("mode", "none"))
        child_ctx = replace(ctx, phrasing=ctx.phrasing or kind in ("button", "link"), list_item=kind == "list")
        for child in node.get("children") if isinstance(node.get("children"), list) else []:
            body += self._render(child, mode, depth + 1, child_ctx)
        if kind in _FIELDS and ctx.field and ctx.field["value"] is None:  # a field drawn without a value text
            body.append(f"{pad}  {self._control(None, f'{cls}-control', mode, ctx.field)}")
        self._finish(spec)
        opening = f"{pad}<{tag}{_attrs(attrs)}>"
        return [opening, *body, f"{pad}</{tag}>"] if body else [f"{opening}</{tag}>"]

    def _decls(self, node: dict[str, Any], parent_mode: str | None, *, root: bool) -> list[css.Decl]:
        is_text = node.get("type") == "TEXT"
        decls, padding = css.layout(node, parent_mode, is_text=is_text)
        border, padding = css.strokes(node, padding)
        if padding and any(padding):
            decls.append(("padding", css.shorthand(padding)))
        decls += border
        if is_text:
            fixed = _mapping(_mapping(node.get("layout")).get("sizing")).get("vertical") == "fixed"
            decls += css.typography(node.get("textStyle"), fixed_height=fixed, inherited_family=self.family)
            decls += css.text_color(node.get("fills"))
        else:
            decls += css.background(node.get("fills"))
        radius = "50%" if node.get("type") == "ELLIPSE" else css.safe(node.get("borderRadius"))
        if radius:
            decls.append(("border-radius", radius))
        decls += css.effects(node.get("effects"))
        opacity = node.get("opacity")
        if isinstance(opacity, int | float) and not isinstance(opacity, bool) and 0 <= opacity < 1:
            decls.append(("opacity", f"{round(opacity, 3)}"))
        children = [self.resolve(c) for c in _kids(node)]
        mode = _mapping(node.get("layout")).get("mode", "none")
        absolute = any(_mapping(c.get("layout")).get("position") == "absolute" for c in children)
        if children and (mode == "none" or absolute) and not any(p == "position" for p, _ in decls):
            decls.append(("position", "relative"))
        if root:
            decls.append(("margin", "0 auto"))
        return decls

    def _text(self, node: dict[str, Any], cls: str, decls: list[css.Decl], attrs: dict[str, str], ctx: _Ctx) -> str:
        raw = node.get("text") if isinstance(node.get("text"), str) else ""
        runs = {}
        for run in sorted(set(re.findall(r"\{(ts\d+)\}", raw))):
            if isinstance(self.styles.get(run), dict):
                runs[run] = f"run-{run}"
                self.rules.setdefault(runs[run], css.typography(self.styles[run], inherited_family=self.family))
        inner, plain = css.rich_text(raw, runs)
        if plain.strip():
            self.texts.append(plain)
        self.rules[cls] = decls
        if isinstance(node.get("boldWeight"), int):
            self.extra.append(f".{cls} strong {{ font-weight: {node['boldWeight']}; }}")
        style = _mapping(node.get("textStyle"))
        size, weight = css.number(style.get("fontSize")) or 0, css.number(style.get("fontWeight")) or 400
        level = self.levels.get(size) if css.is_heading(node.get("textStyleName"), size, weight) else None
        tag = "span" if ctx.phrasing else f"h{level}" if level else "p"
        if attrs["data-node"] in self.labels:
            tag, attrs = "label", {**attrs, "for": self.labels[attrs["data-node"]]}
        elif ctx.field and attrs["data-node"] == ctx.field["label"]:
            tag, attrs = "label", {**attrs, "for": ctx.field["control"]}
        elif ctx.field:
            tag, attrs = "span", {**attrs, "aria-hidden": "true"}  # decoration inside a field, such as a chevron
        return f"<{tag}{_attrs(attrs)}>{inner}</{tag}>"

    def _field(self, node: dict[str, Any], cls: str, kind: str) -> dict[str, Any]:
        """Which texts of a field are its label and its value; component property names decide when present."""
        texts = self._texts_in(node)
        by_ref = {str(_mapping(n.get("componentPropertyReferences")).get("text", "")).lower(): n for n, _ in texts}
        label = by_ref.get("label") or next((n for n, d in texts if d == 1 and n not in by_ref.values()), None)
        value = by_ref.get("value") or by_ref.get("placeholder") or by_ref.get("text")
        value = value or next((n for n, d in texts if n is not label and d > 1), None)
        words = " ".join([_words(str(node.get("name") or "")), *(str(n.get("text", "")).lower() for n, _ in texts)])
        input_type = next((kind for kind, pattern in _INPUT_TYPES if re.search(pattern, words)), "text")
        return {"kind": kind, "control": f"{cls}-control", "type": input_type, "name": node.get("name") or kind,
                "label": label.get("id") if label else None, "value": value.get("id") if value else None,
                "placeholder": value is not None and value is by_ref.get("placeholder")}  # fmt: skip

    def _control(self, node: dict[str, Any] | None, cls: str, parent_mode: str | None, field: dict[str, Any]) -> str:
        """The field's <input>, <select> or <textarea>, styled like the value text it replaces."""
        raw = node.get("text") if node and isinstance(node.get("text"), str) else ""
        value = css.rich_text(raw, {})[1]
        if value.strip():
            self.texts.append(value)
        style = _mapping(node.get("textStyle")) if node else {}
        decls = css.typography(style, inherited_family=self.family) + css.text_color(
            node.get("fills") if node else None
        )
        grow = {"row": [("flex", "1 1 0px"), ("min-width", "0")], "column": [("align-self", "stretch")]}
        decls += grow.get(parent_mode or "", [("width", "100%")])
        if css.number(style.get("lineHeight")) and str(style.get("lineHeight")).endswith("px"):
            decls.append(("height", str(style["lineHeight"])))
        self.rules[cls] = decls
        attrs = {"class": cls, "id": field["control"], "data-node": str(node.get("id")) if node else cls}
        if not field["label"]:
            attrs["aria-label"] = str(field["name"])
        escaped = html.escape(value)
        if field["kind"] == "select":
            return f"<select{_attrs(attrs)}><option selected>{escaped}</option></select>"
        if field["kind"] == "textarea":
            return f"<textarea{_attrs(attrs)}>{escaped}</textarea>"
        attrs |= {"type": field["type"], "placeholder" if field["placeholder"] else "value": value}
        return f"<input{_attrs(attrs)}>"

    def _pair_labels(self, children: list[dict[str, Any]]) -> None:
        """A bare toggle or checkbox is labelled by the nearest text among its siblings, as in a settings row."""
        for index, raw in enumerate(children):
            node = self.resolve(raw)
            if not _is_switch(node) or self._texts_in(node):
                continue
            for sibling in [*reversed(children[:index]), *children[index + 1 :]]:
                texts = [n for n, _ in self._walk([sibling]) if n.get("type") == "TEXT" and n.get("id")]
                free = [n for n in texts if str(n["id"]) not in self.labels]
                if free:
                    self.labels[str(free[0]["id"])] = f"{self._class(raw)}-control"
                    break

    def _switch(self, node: dict[str, Any], cls: str, decls: list[css.Decl], attrs: dict[str, str], kind: str,
                depth: int, ctx: _Ctx) -> list[str]:  # fmt: skip
        """A checkbox; a toggle is drawn as a switch whose knob moves with :checked."""
        pad, control = "  " * depth, f"{cls}-control"
        checked = re.search(r"\b(on|checked|active|selected|true|yes)\b", _words(str(node.get("name") or "")))
        box = {"type": "checkbox", "id": control, "data-node": attrs["data-node"]}
        box |= {"role": "switch"} if kind == "toggle" else {}
        box |= {"checked": ""} if checked else {}
        if self._texts_in(node):  # the control draws its own label: the whole layer becomes the <label>
            self.rules[cls] = decls
            lines = [f"{pad}<label{_attrs(attrs)}>", f"{pad}  <input{_attrs({**box, 'class': 'o-visually-hidden'})}>"]
            for child in _kids(node):
                lines += self._render(child, _mapping(node.get("layout")).get("mode", "none"), depth + 1,
                                      replace(ctx, phrasing=True))  # fmt: skip
            return [*lines, f"{pad}</label>"]
        if control not in self.labels.values():
            box["aria-label"] = str(node.get("name") or kind)
        dims = _mapping(_mapping(node.get("layout")).get("dimensions"))
        size = (css.number(dims.get("width")) or 44, css.number(dims.get("height")) or 24)
        self.rules[cls], extra = css.switch(cls, decls, size, checked=bool(checked), toggle=kind == "toggle")
        self.extra += extra
        return [f"{pad}<input{_attrs({**box, 'class': cls})}>"]

    def _spec(
        self, node: dict[str, Any], kind: str, cls: str, decls: list[css.Decl], ctx: _Ctx
    ) -> dict[str, Any] | None:
        """A component-spec entry for component instances, sections and semantic parts; texts are added later."""
        if kind not in _SPEC_KINDS and node.get("type") != "INSTANCE":
            return None
        entry: dict[str, Any] = {"id": str(node.get("id") or cls), "name": str(node.get("name") or node.get("type")),
                                 "kind": kind, "element": _TAGS.get(kind, "div"), "class": cls}  # fmt: skip
        if kind in _FIELDS:
            entry["element"] = kind
        elif kind in ("toggle", "checkbox"):
            entry["element"] = "input[type=checkbox]"
        component = _mapping(self.components.get(node.get("componentId")))
        if component.get("name"):
            entry["component"] = component["name"]
        if isinstance(node.get("componentProperties"), dict):
            entry["properties"] = dict(node["componentProperties"])
        if ctx.section:
            entry["section"] = ctx.section
        merged = dict(decls)
        if padding := css.box(_mapping(node.get("layout")).get("padding")):
            merged["padding"] = css.shorthand(padding)  # the design's, before borders were taken out of it
        entry["styles"] = {prop: merged[prop] for prop in _KEY_STYLES if prop in merged}
        entry["_first"] = len(self.texts)
        self.spec.append(entry)
        return entry

    def _finish(self, entry: dict[str, Any] | None) -> None:
        """Once a spec entry's subtree is rendered: the texts it shows."""
        if entry is not None:
            entry["texts"] = self.texts[entry.pop("_first") :]


def _kids(node: dict[str, Any]) -> list[dict[str, Any]]:
    children = node.get("children")
    return [c for c in children if isinstance(c, dict)] if isinstance(children, list) else []


def _is_switch(node: dict[str, Any]) -> bool:
    return node.get("type") != "TEXT" and bool(
        re.search(r"\b(toggle|switch|check ?box)\b", _words(str(node.get("name") or "")))
    )


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f" {key}" if value == "" and key in ("checked", "disabled") else f' {key}="{html.escape(value)}"'
                   for key, value in attrs.items())  # fmt: skip


def _comment(value: Any) -> str:
    return re.sub(r"[^\w /:.-]", "", str(value))[:40] or "(none)"


def _as_item(lines: list[str], pad: str) -> list[str]:
    """A child of a <ul>: generic blocks become the <li>; controls and landmarks are wrapped in one."""
    first = lines[0].lstrip()
    for tag in ("div", "p"):
        if first.startswith(f"<{tag} ") and lines[-1].rstrip().endswith(f"</{tag}>"):
            lines[0] = lines[0].replace(f"<{tag} ", "<li ", 1)
            lines[-1] = lines[-1][: lines[-1].rstrip().rfind(f"</{tag}>")] + "</li>"
            return lines
    return [f'{pad}<li class="o-li">', *lines, f"{pad}</li>"]
