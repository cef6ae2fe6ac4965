"""Design files in the shape of Figma's REST API (`GET /v1/files/:key`), generated offline for the design server.

The sandbox's design server (servers/design/server.mjs) hands these files to Framelink's own converter, so they
must look like real API responses: absolute bounding boxes, auto-layout fields, components with the instances that
use them, and named styles. Positions come from a small auto-layout pass, so what the SVG renderer draws matches
what the converter describes. Everything derives from the seed: the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import math
import random
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Node = dict[str, Any]

WIDTH = 1440
FONT = "Inter"
PALETTE = {
    "primary": "#4F46E5", "primary_soft": "#EEF2FF", "ink": "#0F172A", "body": "#475569", "muted": "#94A3B8",
    "border": "#E2E8F0", "surface": "#F8FAFC", "white": "#FFFFFF", "success": "#10B981",
}  # fmt: skip
# Colours and type ramps published as named styles; the converter then reports nodes by these names.
FILL_STYLES = {"primary": "Brand/Primary", "ink": "Neutral/Ink", "body": "Neutral/Body", "border": "Neutral/Border"}
FILL_STYLES |= {"surface": "Surface/Subtle", "white": "Surface/White"}
TEXT_STYLES = {  # name: (font size, weight, line height in px)
    "Display": (64, 700, 72), "Heading/H1": (48, 700, 56), "Heading/H2": (40, 700, 48), "Heading/H3": (20, 600, 28),
    "Price": (40, 700, 48), "Body/Large": (20, 400, 30), "Body/Regular": (16, 400, 24), "Body/Small": (14, 400, 20),
    "Label/Button": (16, 600, 24), "Label/Field": (14, 500, 20),
}  # fmt: skip
SHADOW_STYLE = "Shadow/Card"
WEIGHT_NAMES = {400: "Regular", 500: "Medium", 600: "SemiBold", 700: "Bold"}
PAGES = ("Landing page", "Pricing page", "Settings page")
PLANS = [  # name, price, blurb, call to action, features
    ("Starter", "$19/mo", "For individuals wiring up their first agents.", "Start free trial",
     ["3 MCP server pools", "10,000 tool calls a month", "Community support", "7-day run history"]),
    ("Team", "$49/mo", "For teams shipping agents to production.", "Start free trial",
     ["Unlimited server pools", "250,000 tool calls a month", "Approvals and audit log", "90-day run history"]),
    ("Enterprise", "$199/mo", "For organisations with strict governance needs.", "Contact sales",
     ["Dedicated gateways", "Unlimited tool calls", "SSO and SCIM", "Premium support with SLA"]),
]  # fmt: skip
HIGHLIGHTED_PLAN = "Team"


def _num(value: float) -> float | int:
    """Integral coordinates stay ints so the JSON reads like Figma's; centring can produce halves."""
    return int(value) if float(value).is_integer() else round(value, 2)


def _rgba(hex_color: str, alpha: float = 1.0) -> dict[str, float]:
    r, g, b = (round(int(hex_color[i : i + 2], 16) / 255, 6) for i in (1, 3, 5))
    return {"r": r, "g": g, "b": b, "a": alpha}


def _paint(color: str, opacity: float | None = None) -> dict[str, Any]:
    paint: dict[str, Any] = {"blendMode": "NORMAL", "type": "SOLID", "color": _rgba(PALETTE[color])}
    return paint if opacity is None else paint | {"opacity": opacity}


def _text_width(chars: str, size: float, weight: int) -> int:
    """Inter's average advance is about 0.54em (0.58em from semibold up); the SVG renderer uses the same estimate."""
    return math.ceil(len(chars) * size * (0.58 if weight >= 600 else 0.54))


def _wrap(chars: str, size: float, weight: int, width: float) -> list[str]:
    """Greedy word wrap with `_text_width`, to give wrapped text nodes a believable height."""
    lines, current = [], ""
    for word in chars.split():
        candidate = f"{current} {word}".strip()
        if current and _text_width(candidate, size, weight) > width:
            lines.append(current)
            candidate = word
        current = candidate
    return [*lines, current]


class _FileBuilder:
    """Builds one file's nodes (sized, not yet positioned) and tracks its components and styles."""

    def __init__(self, seed: int, slug: str) -> None:
        self.rng = random.Random(f"figma:{seed}:{slug}")
        self.next_id = 1
        self.components: dict[str, Node] = {}
        self.component_keys: dict[str, str] = {}
        self.prop_keys: dict[tuple[str, str], str] = {}
        names = [*FILL_STYLES.values(), *TEXT_STYLES, SHADOW_STYLE]
        self.style_ids = {name: f"2:{n}" for n, name in enumerate(names, start=1)}
        kinds = {name: "FILL" for name in FILL_STYLES.values()} | {name: "TEXT" for name in TEXT_STYLES}
        self.style_meta = {
            self.style_ids[name]: {"key": self.hex40(), "name": name, "styleType": kinds.get(name, "EFFECT"),
                                   "remote": False, "description": ""}
            for name in names
        }  # fmt: skip

    def hex40(self) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(40))

    def _base(self, kind: str, name: str, width: float, height: float, fill: str | None, **fields: Any) -> Node:
        box = {"x": 0, "y": 0, "width": _num(width), "height": _num(height)}
        opacity = fields.pop("opacity", None)
        fills = [_paint(fill, opacity)] if fill else []
        node = {"id": f"1:{self.next_id}", "name": name, "type": kind, "scrollBehavior": "SCROLLS"}
        node |= {"blendMode": "PASS_THROUGH", "absoluteBoundingBox": box, "effects": [], "fills": fills}
        node |= {"constraints": {"vertical": "TOP", "horizontal": "LEFT"}, "strokes": [], "strokeWeight": 1}
        node["strokeAlign"] = "OUTSIDE" if kind == "TEXT" else "INSIDE"
        self.next_id += 1
        if fill in FILL_STYLES and opacity is None:  # a translucent variant is no longer the named colour
            node["styles"] = {"fill": self.style_ids[FILL_STYLES[fill]]}
        return node | fields

    def text(self, chars: str, style: str, color: str = "ink", *, width: int | None = None, align: str = "LEFT",
             name: str | None = None, prop: str | None = None) -> Node:  # fmt: skip
        size, weight, line_height = TEXT_STYLES[style]
        lines = 1 if width is None else len(_wrap(chars, size, weight, width))
        node = self._base("TEXT", name or chars, width or _text_width(chars, size, weight), lines * line_height, color,
                          layoutSizingHorizontal="FIXED" if width else "HUG", layoutSizingVertical="HUG",
                          characters=chars, characterStyleOverrides=[], styleOverrideTable={}, lineTypes=["NONE"],
                          lineIndentations=[0], layoutVersion=4)  # fmt: skip
        node["style"] = {
            "fontFamily": FONT, "fontPostScriptName": f"{FONT}-{WEIGHT_NAMES[weight]}",
            "fontStyle": WEIGHT_NAMES[weight], "fontWeight": weight, "fontSize": size,
            "textAutoResize": "HEIGHT" if width else "WIDTH_AND_HEIGHT", "textAlignHorizontal": align,
            "textAlignVertical": "TOP", "letterSpacing": 0, "lineHeightPx": line_height,
            "lineHeightPercentFontSize": round(line_height / size * 100, 2), "lineHeightUnit": "PIXELS",
        }  # fmt: skip
        node.setdefault("styles", {})["text"] = self.style_ids[style]
        return node | ({"_prop": prop} if prop else {})

    def shape(self, kind: str, name: str, size: tuple[int, int], fill: str, **fields: Any) -> Node:
        if kind == "ELLIPSE":
            fields["arcData"] = {"startingAngle": 0, "endingAngle": 6.2831854820251465, "innerRadius": 0}
        sizing = {"layoutSizingHorizontal": "FIXED", "layoutSizingVertical": "FIXED"}
        return self._base(kind, name, *size, fill, **sizing, **fields)

    def frame(self, name: str, children: list[Node], mode: str = "NONE", *, gap: int = 0, pad: tuple[int, ...] = (0,),
              width: int | None = None, height: int | None = None, fill: str | None = None,
              stroke: str | None = None, radius: int = 0, main: str = "MIN", cross: str = "MIN",
              shadow: bool = False) -> Node:  # fmt: skip
        """A frame; in auto-layout `mode` an unset width or height hugs the children, as Figma's "Hug contents"."""
        top, right, bottom, left = (pad * 4)[:4] if len(pad) < 3 else pad
        widths = [c["absoluteBoundingBox"]["width"] for c in children]
        heights = [c["absoluteBoundingBox"]["height"] for c in children]
        gaps = gap * max(len(children) - 1, 0)
        content = (sum(widths) + gaps, max(heights, default=0))
        if mode == "VERTICAL":
            content = (max(widths, default=0), sum(heights) + gaps)
        node = self._base("FRAME", name, width or content[0] + left + right, height or content[1] + top + bottom,
                          fill, clipsContent=False, layoutSizingHorizontal="FIXED" if width else "HUG",
                          layoutSizingVertical="FIXED" if height else "HUG")  # fmt: skip
        if stroke:
            node["strokes"] = [_paint(stroke)]
            node.setdefault("styles", {})["stroke"] = self.style_ids[FILL_STYLES[stroke]]
        if radius:
            node["cornerRadius"] = radius
        if shadow:
            node["effects"] = [{"type": "DROP_SHADOW", "visible": True, "color": _rgba(PALETTE["ink"], 0.08),
                                "blendMode": "NORMAL", "offset": {"x": 0, "y": 8}, "radius": 24, "spread": 0,
                                "showShadowBehindNode": False}]  # fmt: skip
            node.setdefault("styles", {})["effect"] = self.style_ids[SHADOW_STYLE]
        if mode != "NONE":
            primary, counter = (width, height) if mode == "HORIZONTAL" else (height, width)
            node |= {"layoutMode": mode, "itemSpacing": gap, "paddingLeft": left, "paddingRight": right,
                     "paddingTop": top, "paddingBottom": bottom, "primaryAxisAlignItems": main,
                     "counterAxisAlignItems": cross, "primaryAxisSizingMode": "FIXED" if primary else "AUTO",
                     "counterAxisSizingMode": "FIXED" if counter else "AUTO", "layoutWrap": "NO_WRAP"}  # fmt: skip
            for child in children:
                child |= {"layoutAlign": "INHERIT", "layoutGrow": 0}
        return node | {"children": children}

    def row(self, name: str, children: list[Node], **layout: Any) -> Node:
        return self.frame(name, children, "HORIZONTAL", **layout)

    def col(self, name: str, children: list[Node], **layout: Any) -> Node:
        return self.frame(name, children, "VERTICAL", **layout)

    def use(self, component: str, factory: Callable[..., Node], **props: str) -> Node:
        """An INSTANCE of `component`, which is defined on first use by `factory` with these props as defaults.

        Real instances carry a copy of their component's subtree with ids like "I<instance>;<child>", and text
        bound to component properties; both are reproduced so the converter sees what Figma would send.
        """
        if component not in self.components:
            definition = factory(**props) | {"type": "COMPONENT"}
            for prop, value in props.items():
                key = self.prop_keys[(component, prop)] = f"{prop}#{len(self.prop_keys) + 1}:0"
                definition.setdefault("componentPropertyDefinitions", {})[key] = {"type": "TEXT", "defaultValue": value}
            self.components[component] = definition
            self.component_keys[component] = self.hex40()
        definition = self.components[component]
        instance = factory(**props) | {"type": "INSTANCE", "componentId": definition["id"]}
        if props:
            keys = {prop: self.prop_keys[(component, prop)] for prop in props}
            instance["componentProperties"] = {keys[p]: {"type": "TEXT", "value": v} for p, v in props.items()}
        self._link(instance, definition, instance["id"], component)
        return instance

    def _link(self, copy: Node, original: Node, instance_id: str, component: str) -> None:
        for child, source in zip(copy.get("children", []), original.get("children", []), strict=True):
            child["id"] = f"I{instance_id};{source['id']}"
            self._link(child, source, instance_id, component)
        for node in (copy, original):
            if "_prop" in node:
                node["componentPropertyReferences"] = {"characters": self.prop_keys[(component, node.pop("_prop"))]}

    # Component factories, called with the instance's text properties.

    def button(self, variant: str) -> Callable[..., Node]:
        primary = variant == "Primary"

        def build(Label: str) -> Node:
            label = self.text(Label, "Label/Button", "white" if primary else "ink", prop="Label")
            look = {"fill": "primary"} if primary else {"fill": "white", "stroke": "border"}
            return self.row(f"Button/{variant}", [label], pad=(12, 24), gap=8, main="CENTER", cross="CENTER",
                            radius=8, **look)  # fmt: skip

        return build

    def feature_card(self, Title: str, Description: str) -> Node:
        icon = self.shape("RECTANGLE", "Icon", (48, 48), "primary_soft", cornerRadius=12)
        title = self.text(Title, "Heading/H3", prop="Title")
        body = self.text(Description, "Body/Regular", "body", width=320, prop="Description")
        return self.col("Card/Feature", [icon, title, body], gap=16, pad=(32,), width=384, fill="white",
                        stroke="border", radius=16, shadow=True)  # fmt: skip

    def field(self, kind: str) -> Callable[..., Node]:
        def build(Label: str, Value: str) -> Node:
            parts = [self.text(Value, "Body/Regular", prop="Value")]
            if kind == "Select":
                parts.append(self.text("▾", "Body/Regular", "body", name="Chevron"))
            box = self.row("Input", parts, pad=(10, 14), width=576, height=44, main="SPACE_BETWEEN", cross="CENTER",
                           fill="white", stroke="border", radius=8)  # fmt: skip
            return self.col(f"Input/{kind}", [self.text(Label, "Label/Field", prop="Label"), box], gap=8, width=576)

        return build

    def toggle(self) -> Node:
        knob = self.shape("ELLIPSE", "Knob", (20, 20), "white", _at=(22, 2))
        return self.frame("Toggle/On", [knob], width=44, height=24, radius=12, fill="primary")

    # Sections shared by the pages.

    def nav(self, brand: str, active: str) -> Node:
        links = [self.text(t, "Body/Regular", "ink" if t == active else "body") for t in ("Product", "Pricing", "Docs")]
        sign_in = self.use("Button/Secondary", self.button("Secondary"), Label="Sign in")
        actions = [self.row("Menu", links, gap=32, cross="CENTER"), sign_in]
        logo = self.text(brand, "Heading/H3", "primary", name="Logo")
        return self.row("Navigation", [logo, self.row("Actions", actions, gap=32, cross="CENTER")], width=WIDTH,
                        height=80, pad=(0, 120), main="SPACE_BETWEEN", cross="CENTER", fill="white")  # fmt: skip

    def footer(self, brand: str) -> Node:
        links = [self.text(t, "Body/Small", "muted") for t in ("Privacy", "Terms", "Status", "Contact")]
        note = self.text(f"© 2025 {brand}. All rights reserved.", "Body/Small", "muted", name="Copyright")
        return self.row("Footer", [note, self.row("Footer Links", links, gap=24)], width=WIDTH, pad=(48, 120),
                        main="SPACE_BETWEEN", cross="CENTER", fill="ink")  # fmt: skip

    def page(self, name: str, sections: list[Node], mode: str = "VERTICAL", height: int | None = None) -> Node:
        return self.frame(name, sections, mode, width=WIDTH, height=height, fill="white") | {"clipsContent": True}


def _landing(b: _FileBuilder, brand: str) -> Node:
    actions = [b.use("Button/Primary", b.button("Primary"), Label="Get started"),
               b.use("Button/Secondary", b.button("Secondary"), Label="Book a demo")]  # fmt: skip
    headline = b.text("Every agent, one governed gateway", "Display", width=960, align="CENTER", name="Headline")
    sub = f"{brand} pools your MCP servers, applies policy to every tool call and shows what your agents did."
    hero = b.col("Hero", [headline, b.text(sub, "Body/Large", "body", width=720, align="CENTER", name="Subheadline"),
                          b.row("Hero Actions", actions, gap=16)],
                 width=WIDTH, pad=(128, 240), gap=24, cross="CENTER", fill="surface")  # fmt: skip
    features = [
        ("Pooled servers", "Warm replicas of every MCP server, shared safely between agents and users."),
        ("Policy on every call", "Rate limits, approvals and audit trails, enforced at the gateway."),
        ("Full observability", "Traces, costs and failures for each run, ready for your dashboards."),
    ]
    cards = [b.use("Card/Feature", b.feature_card, Title=t, Description=d) for t, d in features]
    title = b.text("Built for teams running agents in production", "Heading/H2", width=800, align="CENTER")
    section = b.col("Features", [title, b.row("Feature Cards", cards, gap=24)], width=WIDTH, pad=(96, 120), gap=48,
                    cross="CENTER", fill="white")  # fmt: skip
    return b.page("Landing — Desktop", [b.nav(brand, "Product"), hero, section, b.footer(brand)])


def _plan_card(b: _FileBuilder, name: str, price: str, blurb: str, cta: str, features: list[str]) -> Node:
    hot = name == HIGHLIGHTED_PLAN
    ink, body, dot = ("white", "white", "white") if hot else ("ink", "body", "success")
    rows = [b.row("Feature", [b.shape("ELLIPSE", "Check", (8, 8), dot), b.text(f, "Body/Regular", ink)], gap=12,
                  cross="CENTER") for f in features]  # fmt: skip
    button = b.use("Button/Secondary", b.button("Secondary"), Label=cta) if hot else None
    children = [
        b.text(name, "Heading/H3", ink, name="Plan Name"),
        b.text(price, "Price", ink, name="Price"),
        b.text(blurb, "Body/Regular", body, width=320, name="Description"),
        b.shape("RECTANGLE", "Divider", (320, 1), "white" if hot else "border", **({"opacity": 0.24} if hot else {})),
        b.col("Feature List", rows, gap=12),
        button or b.use("Button/Primary", b.button("Primary"), Label=cta),
    ]
    if hot:
        badge = b.text("Most popular", "Label/Field", "primary")
        children.insert(0, b.row("Badge", [badge], pad=(4, 12), radius=999, fill="primary_soft"))
    look = {"fill": "primary", "shadow": True} if hot else {"fill": "white", "stroke": "border"}
    return b.col(f"Plan Card/{name}", children, gap=24, pad=(32,), width=384, radius=16, **look)


def _pricing(b: _FileBuilder, brand: str) -> Node:
    header = b.col("Pricing Header", [
        b.text("Simple pricing for every stage", "Heading/H1", align="CENTER", name="Headline"),
        b.text("Start free for 14 days. No credit card required.", "Body/Large", "body", align="CENTER"),
    ], gap=16, cross="CENTER")  # fmt: skip
    plans = b.row("Plans", [_plan_card(b, *plan) for plan in PLANS], gap=24)
    section = b.col("Pricing", [header, plans], width=WIDTH, pad=(96, 120), gap=64, cross="CENTER", fill="surface")
    return b.page("Pricing — Desktop", [b.nav(brand, "Pricing"), section, b.footer(brand)])


def _settings(b: _FileBuilder, brand: str) -> Node:
    items = [b.row("Nav Item", [b.text(t, "Label/Field", "primary" if t == "General" else "body")], width=232,
                   pad=(10, 12), radius=8, fill="primary_soft" if t == "General" else None)
             for t in ("General", "Members", "Billing", "API keys")]  # fmt: skip
    sidebar = b.col("Sidebar", [b.text(brand, "Heading/H3", "primary", name="Logo"), b.col("Menu", items, gap=4)],
                    width=280, height=1024, pad=(24,), gap=32, fill="surface")  # fmt: skip
    copy = [b.text("Email alerts", "Label/Field"), b.text("Email me when an agent run fails.", "Body/Small", "body")]
    notify = b.row("Notifications", [b.col("Notification Copy", copy, gap=4), b.use("Toggle/On", b.toggle)],
                   width=576, main="SPACE_BETWEEN", cross="CENTER")  # fmt: skip
    buttons = [b.use("Button/Secondary", b.button("Secondary"), Label="Cancel"),
               b.use("Button/Primary", b.button("Primary"), Label="Save changes")]  # fmt: skip
    email = f"billing@{re.sub(r'[^a-z0-9]+', '', brand.lower()) or 'example'}.dev"
    form = b.col("Workspace Form", [
        b.use("Input/Text Field", b.field("Text Field"), Label="Workspace name", Value=f"{brand} Labs"),
        b.use("Input/Text Field", b.field("Text Field"), Label="Billing email", Value=email),
        b.use("Input/Select", b.field("Select"), Label="Default region", Value="EU (Frankfurt)"),
        notify,
        b.row("Form Actions", buttons, width=576, gap=12, main="MAX"),
    ], width=640, pad=(32,), gap=24, fill="white", stroke="border", radius=12)  # fmt: skip
    content = b.col("Content", [
        b.text("Workspace settings", "Heading/H2", name="Title"),
        b.text("Manage how your workspace appears and how it notifies you.", "Body/Regular", "body"),
        form,
    ], width=WIDTH - 280, pad=(48, 64), gap=24)  # fmt: skip
    return b.page("Settings — Desktop", [sidebar, content], "HORIZONTAL", height=1024)


def _place(node: Node, x: float, y: float) -> None:
    """Give every node its absolute box, laying out auto-layout children the way Figma does."""
    box = node["absoluteBoundingBox"]
    box["x"], box["y"] = _num(x), _num(y)
    node["absoluteRenderBounds"] = dict(box)
    children = node.get("children", [])
    mode = node.get("layoutMode")
    if mode is None:
        for child in children:
            dx, dy = child.pop("_at", (0, 0))
            _place(child, x + dx, y + dy)
        return
    across = mode == "HORIZONTAL"
    left, right, top, bottom = (node[f"padding{side}"] for side in ("Left", "Right", "Top", "Bottom"))
    inner = box["width"] - left - right, box["height"] - top - bottom
    main_size, cross_size = inner if across else inner[::-1]
    sizes = [c["absoluteBoundingBox"]["width" if across else "height"] for c in children]
    gap = node["itemSpacing"]
    if node["primaryAxisAlignItems"] == "SPACE_BETWEEN" and len(children) > 1:
        gap = (main_size - sum(sizes)) / (len(children) - 1)
    free = main_size - sum(sizes) - gap * max(len(children) - 1, 0)
    pos = {"CENTER": free / 2, "MAX": free}.get(node["primaryAxisAlignItems"], 0)
    for child, size in zip(children, sizes, strict=True):
        free_cross = cross_size - child["absoluteBoundingBox"]["height" if across else "width"]
        offset = {"CENTER": free_cross / 2, "MAX": free_cross}.get(node["counterAxisAlignItems"], 0)
        dx, dy = (pos, offset) if across else (offset, pos)
        _place(child, x + left + dx, y + top + dy)
        pos += size + gap


def _walk(node: Node) -> list[Node]:
    """The node and its descendants, top-down."""
    found = [node]
    for child in node.get("children", []):
        found += _walk(child)
    return found


def _renumber(document: Node) -> None:
    """Number nodes top-down, as they would be drawn; building bottom-up gave children the lower ids."""
    nodes = _walk(document)
    new: dict[str, str] = {}
    for node in nodes:
        if not node["id"].startswith(("0:", "I")):
            new[node["id"]] = f"1:{len(new) + 2}"
            node["id"] = new[node["id"]]
    for node in nodes:
        if node["id"].startswith("I"):
            instance, source = node["id"][1:].split(";")
            node["id"] = f"I{new[instance]};{new[source]}"
        if "componentId" in node:
            node["componentId"] = new[node["componentId"]]


def _build_file(seed: int, page_name: str, brand: str) -> tuple[str, Node]:
    slug = page_name.split()[0].lower()
    key_rng = random.Random(f"figma-key:{seed}:{slug}")
    key = "".join(key_rng.choice(string.ascii_letters + string.digits) for _ in range(22))
    b = _FileBuilder(seed, slug)
    frame = {"landing": _landing, "pricing": _pricing, "settings": _settings}[slug](b, brand)
    _place(frame, 0, 0)
    y = 0
    for component in b.components.values():
        _place(component, 0, y)
        y += component["absoluteBoundingBox"]["height"] + 64
    canvas = {"type": "CANVAS", "scrollBehavior": "SCROLLS", "backgroundColor": _rgba("#F5F5F5"),
              "prototypeStartNodeID": None, "flowStartingPoints": [], "prototypeDevice": {"type": "NONE"}}  # fmt: skip
    pages = [{"id": "0:1", "name": page_name, **canvas, "children": [frame]},
             {"id": "0:2", "name": "Components", **canvas, "children": list(b.components.values())}]  # fmt: skip
    document = {"id": "0:0", "name": "Document", "type": "DOCUMENT", "scrollBehavior": "SCROLLS", "children": pages}
    _renumber(document)
    used = {style for node in _walk(document) for style in node.get("styles", {}).values()}
    components = {c["id"]: {"key": b.component_keys[name], "name": name, "description": "", "remote": False,
                            "documentationLinks": []} for name, c in b.components.items()}  # fmt: skip
    edited = datetime(2025, 1, 6, 9, 0, tzinfo=UTC) + timedelta(minutes=b.rng.randrange(60 * 24 * 300))
    return key, {
        "document": document,
        "components": components,
        "componentSets": {},
        "schemaVersion": 0,
        "styles": {sid: meta for sid, meta in b.style_meta.items() if sid in used},
        "name": f"{brand} — {page_name}",
        "lastModified": edited.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": str(b.rng.randrange(10**12, 10**13)),
        "role": "owner",
        "editorType": "figma",
        "linkAccess": "view",
    }


def build_design_files(out_dir: Path, *, brand: str = "Orchestra", seed: int = 7) -> dict[str, str]:
    """Write one `<file_key>.json` per page (landing, pricing, settings) into `out_dir`; return {file_key: page}.

    The design server serves whatever this writes, so regenerating with another seed changes the keys agents see.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for page_name in PAGES:
        key, document = _build_file(seed, page_name, brand)
        (out_dir / f"{key}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written[key] = page_name
    return written
