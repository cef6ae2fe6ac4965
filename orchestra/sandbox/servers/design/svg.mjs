// SVG export of one node, standing in for Figma's `GET /v1/images/:key?format=svg` render. It draws what the REST
// JSON describes: boxes with solid fills, strokes and corner radii, ellipses, and text set in its font (Figma
// outlines text into paths; keeping <text> keeps the words readable and searchable). Shadows, gradients, images
// and vector geometry are not in the JSON this sandbox generates and are not drawn.

const round = (value) => Math.round(value * 100) / 100;

const XML_ESCAPES = { "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" };

function escapeXml(text) {
  return String(text).replace(/[<>&"']/g, (c) => XML_ESCAPES[c]);
}

function hex({ r, g, b }) {
  const channel = (value) => Math.round(value * 255).toString(16).padStart(2, "0");
  return `#${channel(r)}${channel(g)}${channel(b)}`.toUpperCase();
}

function solidPaints(paints) {
  return (paints ?? []).filter((paint) => paint.visible !== false && paint.type === "SOLID");
}

function paintAttrs(kind, paint) {
  const alpha = (paint.color.a ?? 1) * (paint.opacity ?? 1);
  const attrs = `${kind}="${hex(paint.color)}"`;
  return alpha < 1 ? `${attrs} ${kind}-opacity="${round(alpha)}"` : attrs;
}

function attrs(values) {
  return Object.entries(values)
    .map(([key, value]) => `${key}="${typeof value === "number" ? round(value) : escapeXml(value)}"`)
    .join(" ");
}

// Inter's average advance, the same estimate the Python generator uses to size and wrap text nodes.
export function textWidth(text, size, weight) {
  return Math.ceil([...text].length * size * (weight >= 600 ? 0.58 : 0.54));
}

function wrapText(text, size, weight, width) {
  const lines = [];
  let current = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = current ? `${current} ${word}` : word;
    if (current && textWidth(candidate, size, weight) > width) {
      lines.push(current);
      current = word;
    } else {
      current = candidate;
    }
  }
  return [...lines, current];
}

function shapeElement(node, box, paintAttr) {
  if (node.type === "ELLIPSE") {
    const [rx, ry] = [box.width / 2, box.height / 2];
    return `<ellipse ${attrs({ cx: box.x + rx, cy: box.y + ry, rx, ry })} ${paintAttr}/>`;
  }
  const radius = Math.min(node.cornerRadius ?? 0, box.width / 2, box.height / 2);
  const corners = radius > 0 ? { rx: radius } : {};
  return `<rect ${attrs({ x: box.x, y: box.y, width: box.width, height: box.height, ...corners })} ${paintAttr}/>`;
}

function drawBox(node, box) {
  const parts = solidPaints(node.fills).map((paint) => shapeElement(node, box, paintAttrs("fill", paint)));
  const weight = node.strokeWeight ?? 1;
  if (weight > 0) {
    // Figma strokes inside, outside or centred on the edge; SVG strokes are centred, so move the edge to match.
    const shift = { INSIDE: weight / 2, OUTSIDE: -weight / 2 }[node.strokeAlign ?? "INSIDE"] ?? 0;
    const edge = { x: box.x + shift, y: box.y + shift, width: box.width - 2 * shift, height: box.height - 2 * shift };
    const stroked = { ...node, cornerRadius: Math.max((node.cornerRadius ?? 0) - shift, 0) };
    for (const paint of solidPaints(node.strokes)) {
      const stroke = `fill="none" ${paintAttrs("stroke", paint)} stroke-width="${round(weight)}"`;
      parts.push(shapeElement(stroked, edge, stroke));
    }
  }
  return parts;
}

function drawText(node, box) {
  const style = node.style ?? {};
  const size = style.fontSize ?? 16;
  const weight = style.fontWeight ?? 400;
  const lineHeight = style.lineHeightPx ?? size * 1.2;
  const wraps = style.textAutoResize !== "WIDTH_AND_HEIGHT";
  const lines = (node.characters ?? "")
    .split("\n")
    .flatMap((paragraph) => (wraps ? wrapText(paragraph, size, weight, box.width) : [paragraph]));
  const align = style.textAlignHorizontal ?? "LEFT";
  const anchor = { CENTER: "middle", RIGHT: "end" }[align] ?? "start";
  const x = { CENTER: box.x + box.width / 2, RIGHT: box.x + box.width }[align] ?? box.x;
  // Figma centres each line's ascent and descent in the line height; Inter's are about 0.97em and 0.24em.
  const baseline = (index) => box.y + index * lineHeight + lineHeight / 2 + 0.365 * size;
  const paint = solidPaints(node.fills)[0];
  const font = {
    "font-family": `${style.fontFamily ?? "Inter"}, sans-serif`,
    "font-size": size,
    "font-weight": weight,
    "text-anchor": anchor,
  };
  const spans = lines.map((line, index) => `<tspan ${attrs({ x, y: baseline(index) })}>${escapeXml(line)}</tspan>`);
  return [`<text ${attrs(font)} ${paint ? paintAttrs("fill", paint) : 'fill="#000000"'}>${spans.join("")}</text>`];
}

/**
 * Render `root` (a node from a REST-shaped file) as a standalone SVG document at its own size.
 * `componentOf(id)` finds a component definition, for instances whose copy of the component's layers is missing.
 */
export function renderSvg(root, componentOf) {
  const origin = root.absoluteBoundingBox;
  const draw = (node, dx, dy) => {
    if (node.visible === false || !node.absoluteBoundingBox) return [];
    const b = node.absoluteBoundingBox;
    const box = { x: b.x - origin.x + dx, y: b.y - origin.y + dy, width: b.width, height: b.height };
    let parts;
    if (node.type === "TEXT") {
      parts = drawText(node, box);
    } else {
      parts = drawBox(node, box);
      let children = node.children ?? [];
      let [cx, cy] = [dx, dy];
      if (node.type === "INSTANCE" && children.length === 0) {
        const component = componentOf(node.componentId);
        if (component) {
          children = component.children ?? [];
          cx += b.x - component.absoluteBoundingBox.x;
          cy += b.y - component.absoluteBoundingBox.y;
        }
      }
      for (const child of children) parts.push(...draw(child, cx, cy));
    }
    if (parts.length === 0) return [];
    const opacity = node.opacity ?? 1;
    const group = opacity < 1 ? { opacity } : {};
    return [`<g ${attrs({ "data-name": node.name ?? "", ...group })}>`, ...parts, "</g>"];
  };
  const viewBox = `0 0 ${round(origin.width)} ${round(origin.height)}`;
  const size = { width: origin.width, height: origin.height, viewBox };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" ${attrs(size)} fill="none">`,
    ...draw(root, 0, 0),
    "</svg>",
    "",
  ].join("\n");
}
