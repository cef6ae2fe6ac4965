"""CSS building blocks for the design compiler: Framelink's simplified styles turned into CSS declarations.

Framelink (figma-developer-mcp) already speaks half-CSS: layouts carry flexbox words, fills are hex/rgba strings,
effects are box-shadow strings. What it leaves to the reader is sizing (hug/fill/fixed), strokes that must not shift
content, and its Markdown-like rich text. The design data is third-party input, so every value that reaches the
stylesheet passes a whitelist: a hostile layer cannot close the `<style>` element or inject rules.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from typing import Any

Decl = tuple[str, str]

_SAFE_VALUE = re.compile(r"^[#%(),./\w\s+-]*$")
_FLEX = ("row", "column")
_JUSTIFY = ("flex-end", "center", "space-between", "space-around", "space-evenly")  # tuples: values may be unhashable
_ALIGN = ("flex-start", "flex-end", "center", "baseline", "stretch")
_TEXT_ALIGN = {"CENTER": "center", "RIGHT": "right", "JUSTIFIED": "justify"}  # LEFT is the default
_TEXT_CASE = {"UPPER": ("text-transform", "uppercase"), "LOWER": ("text-transform", "lowercase"),
              "TITLE": ("text-transform", "capitalize"), "SMALL_CAPS": ("font-variant-caps", "small-caps"),
              "SMALL_CAPS_FORCED": ("font-variant-caps", "all-small-caps")}  # fmt: skip
_EFFECTS = {"boxShadow": "box-shadow", "filter": "filter", "backdropFilter": "backdrop-filter",
            "textShadow": "text-shadow"}  # fmt: skip
# After the design's own family: faces of similar metrics that ship with macOS, Windows and most Linux images.
_SANS = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif'
_SERIF = 'Georgia, "Times New Roman", "Liberation Serif", serif'
_MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace'


BASE_CSS = """*, *::before, *::after {{ box-sizing: border-box; }}
html {{ -webkit-text-size-adjust: 100%; }}
body {{ margin: 0; font-family: {family}; -webkit-font-smoothing: antialiased; }}
h1, h2, h3, p, ul, li {{ margin: 0; padding: 0; font: inherit; }}
ul {{ list-style: none; }}
a {{ color: inherit; text-decoration: none; }}
button, input, select, textarea {{ font: inherit; color: inherit; margin: 0; padding: 0; border: 0; background: none; }}
button {{ cursor: pointer; text-align: inherit; }}
select {{ appearance: none; -webkit-appearance: none; }}
.o-li {{ display: contents; }}
.o-visually-hidden {{ position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }}
"""


def safe(value: Any) -> str | None:
    """A CSS value from the design, or None when it holds anything that could end a declaration or the sheet."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return px(value) if math.isfinite(value) else None
    if isinstance(value, str) and value.strip() and _SAFE_VALUE.match(value):
        return value.strip()
    return None


def px(value: float) -> str:
    """`12px`, `0.5px`: integral values stay integral so equal inputs print equally."""
    number = round(float(value), 2)
    return f"{int(number) if number.is_integer() else number}px"


def number(value: Any) -> float | None:
    """The first number in `value` ("1px", 12, "12px 24px"), or None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    found = re.match(r"\s*(-?\d+(?:\.\d+)?)", value) if isinstance(value, str) else None
    return float(found.group(1)) if found else None


def box(value: Any) -> list[float] | None:
    """CSS shorthand ("12px 24px") as [top, right, bottom, left]."""
    parts = [number(part) for part in value.split()] if isinstance(value, str) else []
    if not parts or None in parts or len(parts) > 4:
        return None
    top, right, bottom, left = (parts * 4)[:4] if len(parts) < 3 else [*parts, parts[1]][:4]
    return [top, right, bottom, left]  # type: ignore[list-item]


def slugify(text: str, limit: int = 32) -> str:
    """ASCII, lower-case, dash-separated: the readable half of a class name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def font_stack(family: Any) -> str | None:
    """The design's family first, then a generic stack of the same kind (no web fonts: pages make no requests)."""
    if not isinstance(family, str) or not re.sub(r'["\\<>{};]', "", family).strip():
        return None
    lowered = family.lower()
    fallback = _SANS
    if re.search(r"mono|code", lowered):
        fallback = _MONO
    elif re.search(r"serif|georgia|times", lowered) and "sans" not in lowered:
        fallback = _SERIF
    return '"' + re.sub(r'["\\<>{};]', "", family).strip() + f'", {fallback}'


def paints(fills: Any) -> list[Any]:
    return fills if isinstance(fills, list) else []


def solid(fills: Any) -> str | None:
    """The top-most solid colour (Framelink lists the top paint first)."""
    return next((safe(p) for p in paints(fills) if isinstance(p, str) and safe(p)), None)


def background(fills: Any) -> list[Decl]:
    """Fills as CSS background layers, top first: colours, gradients; image fills cannot be fetched offline."""
    layers: list[str] = []
    for paint in paints(fills):
        if isinstance(paint, str) and safe(paint):
            layers.append(paint)
        elif isinstance(paint, dict) and safe(paint.get("gradient")):
            layers.append(paint["gradient"])
    if not layers:  # image fills cannot be fetched offline: a neutral placeholder keeps the picture's box visible
        images = any(isinstance(p, dict) and p.get("type") in ("IMAGE", "PATTERN") for p in paints(fills))
        return [("background-color", "rgba(148, 163, 184, 0.24)")] if images else []
    if len(layers) == 1:
        return [("background-color" if "gradient" not in layers[0] else "background-image", layers[0])]
    stacked = [layer if "gradient" in layer else f"linear-gradient({layer}, {layer})" for layer in layers]
    return [("background", ", ".join(stacked))]


def text_color(fills: Any) -> list[Decl]:
    colour = solid(fills)
    if colour:
        return [("color", colour)]
    gradient = next((p["gradient"] for p in paints(fills) if isinstance(p, dict) and safe(p.get("gradient"))), None)
    if gradient:
        return [("background-image", gradient), ("-webkit-background-clip", "text"), ("color", "transparent")]
    return []


def strokes(node: dict[str, Any], padding: list[float] | None) -> tuple[list[Decl], list[float] | None]:
    """Strokes as borders, and the padding that keeps content where Figma puts it.

    Figma draws INSIDE strokes over the content box without moving it; a CSS border pushes content in. So the
    border is taken back out of the padding (when there is enough), which keeps hug sizes and child positions exact.
    OUTSIDE strokes never take space in Figma: an outline does the same.
    """
    colour = solid(node.get("strokes"))
    if not colour:
        return [], padding
    weights = box(node.get("strokeWeights")) or [number(node.get("strokeWeight")) or 1.0] * 4
    if node.get("type") == "TEXT":  # a text stroke outlines the glyphs, not the box
        return [("-webkit-text-stroke", f"{px(max(weights))} {colour}")], padding
    style = "dashed" if node.get("strokeDashes") else "solid"
    align = node.get("strokeAlign") or "INSIDE"
    if align == "OUTSIDE":
        return [("outline", f"{px(max(weights))} {style} {colour}")], padding
    share = 0.5 if align == "CENTER" else 1.0
    if padding is not None:
        padding = [
            max(pad - w * share, 0) if pad >= w * share else pad for pad, w in zip(padding, weights, strict=True)
        ]
    width = " ".join(px(w) for w in weights) if len(set(weights)) > 1 else px(weights[0])
    return [("border-style", style), ("border-width", width), ("border-color", colour)], padding


def effects(value: Any) -> list[Decl]:
    found = value if isinstance(value, dict) else {}
    return [(prop, css) for key, prop in _EFFECTS.items() if (css := safe(found.get(key)))]


def layout(node: dict[str, Any], parent_mode: str | None, *, is_text: bool) -> tuple[list[Decl], list[float] | None]:
    """The node's own flex/grid container declarations, and its size and place in its parent.

    Returns the declarations and the padding (still to be adjusted for strokes). `parent_mode` is None at the root.
    """
    spec = node.get("layout") if isinstance(node.get("layout"), dict) else {}
    mode = spec.get("mode", "none")
    decls: list[Decl] = []
    if mode in _FLEX:
        decls += [("display", "flex"), ("flex-direction", mode)]
        if spec.get("wrap"):
            decls.append(("flex-wrap", "wrap"))
        if (justify := spec.get("justifyContent")) in _JUSTIFY:
            decls.append(("justify-content", justify))
        decls.append(("align-items", spec.get("alignItems") if spec.get("alignItems") in _ALIGN else "flex-start"))
    elif mode == "grid":
        decls.append(("display", "grid"))
        for key, prop in (("gridTemplateColumns", "grid-template-columns"), ("gridTemplateRows", "grid-template-rows")):
            if value := safe(spec.get(key)):
                decls.append((prop, value))
    if mode in (*_FLEX, "grid") and (gap := safe(spec.get("gap"))):
        decls.append(("gap", gap))
    padding = box(spec.get("padding"))
    for axis in spec.get("overflowScroll") or []:
        if axis in ("x", "y"):
            decls.append((f"overflow-{axis}", "auto"))
    location = spec.get("locationRelativeToParent")
    if isinstance(location, dict) and (parent_mode == "none" or spec.get("position") == "absolute"):
        left, top = number(location.get("x")), number(location.get("y"))
        decls += [("position", "absolute"), ("left", px(left or 0)), ("top", px(top or 0))]
    decls += _sizing(spec, parent_mode, is_text=is_text)
    for key, prop in (("gridColumn", "grid-column"), ("gridRow", "grid-row"), ("justifySelf", "justify-self")):
        if value := safe(spec.get(key)):
            decls.append((prop, value))
    if isinstance(spec.get("zIndex"), int):
        decls.append(("z-index", str(spec["zIndex"])))
    return decls, padding


def _sizing(spec: dict[str, Any], parent_mode: str | None, *, is_text: bool) -> list[Decl]:
    """Figma's hug/fill/fixed per axis. In flex parents nothing shrinks unless it fills, as in Figma."""
    sizing = spec.get("sizing") if isinstance(spec.get("sizing"), dict) else {}
    dims = spec.get("dimensions") if isinstance(spec.get("dimensions"), dict) else {}
    in_flex = parent_mode in _FLEX
    decls: list[Decl] = []
    fills_main = False
    for axis, dim, main in (("horizontal", "width", "row"), ("vertical", "height", "column")):
        mode = sizing.get(axis)
        size = number(dims.get(dim)) or number(spec.get(f"designed{dim.title()}"))
        if mode == "fill":
            if parent_mode == main:
                fills_main = True
                decls += [("flex", "1 1 0px"), (f"min-{dim}", "0")]
            elif in_flex:
                decls.append(("align-self", "stretch"))
            else:
                decls.append((dim, "100%"))
        elif size is not None and mode in ("fixed", "contextual", None):
            decls.append((dim, px(size)))
        elif mode == "hug" and dim == "width" and not in_flex and not is_text:
            decls.append(("width", "fit-content"))
    own = spec.get("alignSelf") in ("flex-start", "flex-end", "center", "stretch")
    if own and in_flex and ("align-self", "stretch") not in decls:
        decls.append(("align-self", spec["alignSelf"]))
    if in_flex and not fills_main:
        decls.append(("flex-shrink", "0"))
    if (ratio := number(dims.get("aspectRatio"))) and ratio > 0:
        decls.append(("aspect-ratio", f"{round(ratio, 4)}"))
    if is_text:
        wraps = sizing.get("horizontal") in ("fixed", "fill") or (sizing.get("horizontal") is None and "width" in dims)
        decls.append(("white-space", "pre-wrap" if wraps else "pre"))
    return decls


def typography(style: Any, *, fixed_height: bool = False, inherited_family: str | None = None) -> list[Decl]:
    """A Framelink text style (or a rich-text run's partial style) as font declarations.

    The page's main family is set once on <body>; `inherited_family` names it so text rules need not repeat it.
    """
    found = style if isinstance(style, dict) else {}
    decls: list[Decl] = []
    if found.get("fontFamily") != inherited_family and (stack := font_stack(found.get("fontFamily"))):
        decls.append(("font-family", stack))
    if (weight := number(found.get("fontWeight"))) and 1 <= weight <= 1000:
        decls.append(("font-weight", str(int(weight))))
    if (size := number(found.get("fontSize"))) and size > 0:
        decls.append(("font-size", px(size)))
    for key, prop in (("lineHeight", "line-height"), ("letterSpacing", "letter-spacing")):
        if value := safe(found.get(key)):
            decls.append((prop, value))
    if case := _TEXT_CASE.get(str(found.get("textCase"))):
        decls.append(case)
    if align := _TEXT_ALIGN.get(str(found.get("textAlignHorizontal"))):
        decls.append(("text-align", align))
    vertical = {"CENTER": "center", "BOTTOM": "end"}.get(str(found.get("textAlignVertical")))
    if fixed_height and vertical:
        decls.append(("align-content", vertical))
    if found.get("italic"):
        decls.append(("font-style", "italic"))
    if found.get("textDecoration") in ("UNDERLINE", "STRIKETHROUGH"):
        decls.append(("text-decoration", "underline" if found["textDecoration"] == "UNDERLINE" else "line-through"))
    if indent := number(found.get("paragraphIndent")):
        decls.append(("text-indent", px(indent)))
    flags = found.get("opentypeFlags")
    if isinstance(flags, dict) and flags:
        features = [f'"{tag}" {int(on)}' for tag, on in sorted(flags.items()) if re.fullmatch(r"[a-z0-9]{4}", tag)]
        if features:
            decls.append(("font-feature-settings", ", ".join(features)))
    if "fills" in found:
        decls += text_color(found["fills"])
    return decls


_TOKEN = re.compile(r"\\(.)|(\*\*|\*|~~)|\{(/?)(ts\d+)\}|(\[)|\]\(([^()\s]*)\)", re.S)
_INLINE = {"**": "strong", "*": "em", "~~": "s"}


def rich_text(text: str, run_class: dict[str, str]) -> tuple[str, str]:
    """Framelink's Markdown-like text as (HTML, plain text).

    Framelink escapes `\\*_~[](){}` with a backslash, writes line breaks as `\\n`, marks bold, italic and
    strike-through runs with `**`, `*`, `~~`, links as `[text](url)`, and other style runs as `{ts1}..{/ts1}`
    (styles in globalVars). Unbalanced markers are kept as literal text, so odd input still shows every character.
    """
    stack: list[list[Any]] = [["", "", [], []]]  # [marker, attribute, html parts, plain parts]

    def emit(html_part: str, plain_part: str) -> None:
        stack[-1][2].append(html_part)
        stack[-1][3].append(plain_part)

    def close(html_open: str, html_close: str) -> None:
        _, _, parts, plain = stack.pop()
        emit(html_open + "".join(parts) + html_close, "".join(plain))

    position = 0
    for match in _TOKEN.finditer(text):
        emit(html.escape(text[position : match.start()]), text[position : match.start()])
        position = match.end()
        escaped, inline, slash, run, bracket, url = match.groups()
        if escaped is not None:
            char = "\n" if escaped == "n" else escaped
            emit(html.escape(char), char)
        elif inline:
            if stack[-1][0] == inline:
                close(f"<{_INLINE[inline]}>", f"</{_INLINE[inline]}>")
            else:
                stack.append([inline, "", [], []])
        elif run and not slash:
            stack.append([f"{{{run}}}", run, [], []])
        elif run and stack[-1][0] == f"{{{run}}}" and run in run_class:
            close(f'<span class="{run_class[run]}">', "</span>")
        elif run and stack[-1][0] == f"{{{run}}}":
            close("", "")
        elif bracket:
            stack.append(["[", "", [], []])
        elif url is not None and stack[-1][0] == "[":
            href = re.sub(r"%2[89]", lambda m: "(" if m.group() == "%28" else ")", url)
            href = href if re.match(r"(https?:|mailto:)", href) else "#"
            close(f'<a href="{html.escape(href)}">', "</a>")
        else:
            emit(html.escape(match.group()), match.group())
    emit(html.escape(text[position:]), text[position:])
    while len(stack) > 1:  # unclosed markers: show them as the characters they were
        marker = stack[-1][0]
        stack[-1][2].insert(0, html.escape(marker))
        stack[-1][3].insert(0, marker)
        close("", "")
    return "".join(stack[0][2]), "".join(stack[0][3])


def shorthand(sides: list[float]) -> str:
    """[top, right, bottom, left] as the shortest CSS box shorthand."""
    top, right, bottom, left = (px(side) for side in sides)
    if left != right:
        return f"{top} {right} {bottom} {left}"
    if top != bottom:
        return f"{top} {right} {bottom}"
    return top if top == right else f"{top} {right}"


def declarations(decls: list[Decl]) -> str:
    """One declaration block, last value per property winning, in first-seen order."""
    merged: dict[str, str] = {}
    for prop, value in decls:
        merged[prop] = value
    return "".join(f"  {prop}: {value};\n" for prop, value in merged.items())


def stylesheet(rules: dict[str, list[Decl]], extra: list[str], *, family: str | None) -> str:
    """The base rules, then one rule per distinct declaration block listing every class that uses it."""
    groups: dict[str, list[str]] = {}
    for cls, decls in rules.items():
        if block := declarations(decls):
            groups.setdefault(block, []).append(cls)
    sheet = [BASE_CSS.format(family=font_stack(family) or "sans-serif")]
    sheet += [",\n".join(f".{c}" for c in classes) + " {\n" + block + "}\n" for block, classes in groups.items()]
    return "".join(sheet) + "".join(f"{rule}\n" for rule in extra)


def is_heading(style_name: Any, size: float, weight: float) -> bool:
    """A named text style says so itself ("Heading/H2", "Display"); anonymous styles count when large and bold."""
    if isinstance(style_name, str) and not re.fullmatch(r"style_[0-9a-f]+", style_name):
        return bool(re.search(r"heading|display|title|headline|\bh[1-6]\b", style_name, re.I))
    return size >= 20 and weight >= 600


def switch(
    cls: str, decls: list[Decl], size: tuple[float, float], *, checked: bool, toggle: bool
) -> tuple[list[Decl], list[str]]:
    """A bare checkbox layer: a native checkbox in the design's colour, or a switch whose knob follows :checked.

    Framelink collapses a toggle's knob into the toggle (it becomes one IMAGE-SVG), so the knob is redrawn: a white
    circle inset by 2px, on the side the design shows. The other state keeps the shape, desaturated.
    """
    if not toggle:
        return [*decls, ("accent-color", next((v for p, v in decls if p == "background-color"), "currentColor"))], []
    look = [("appearance", "none"), ("margin", "0"), ("position", "relative"), ("cursor", "pointer")]
    (width, height), off = size, "2px"
    knob = max(height - 4, 2)
    on = px(width - knob - 2)
    extra = [
        f'.{cls}::before {{ content: ""; position: absolute; top: 2px; left: {on if checked else off}; '
        f"width: {px(knob)}; height: {px(knob)}; border-radius: 50%; background-color: #FFFFFF; }}",
        f".{cls}:{'not(:checked)' if checked else 'checked'}::before {{ left: {off if checked else on}; }}",
    ]
    if checked:
        extra.append(f".{cls}:not(:checked) {{ filter: grayscale(1); opacity: 0.5; }}")
    return [*decls, *look, ("display", "block")], extra
