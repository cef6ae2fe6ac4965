// Framelink's get_figma_data pipeline, minus the network: the raw REST-shaped response goes through
// figma-developer-mcp's own simplifier with the options its server uses, then through the same serialisation.
// figma-developer-mcp 0.13.2 exports the simplifier but not its serialiser, so `forOutput`, `toTree` and `serialize`
// below are ports of the unexported code in its dist bundle (the `Ue`/`Ve`, `Ae`/`Oe` and `Ce` functions).
import yaml from "js-yaml";
import { allExtractors, collapseSvgContainers, simplifyRawFigmaObject } from "figma-developer-mcp";

export const OUTPUT_FORMATS = ["yaml", "json", "tree"];

/** Simplify a `GET /v1/files/:key` or `GET /v1/files/:key/nodes` response exactly as Framelink does. */
export async function simplify(rawResponse, depth) {
  return simplifyRawFigmaObject(rawResponse, allExtractors, {
    maxDepth: depth,
    afterChildren: collapseSvgContainers,
  });
}

// Layer names Figma generates ("Frame 12") and text layer names (which repeat the text) carry no information.
const DEFAULT_LAYER_KINDS = [
  "Frame", "Rectangle", "Ellipse", "Line", "Vector", "Group", "Component", "Instance", "Polygon", "Star", "Text",
  "Image", "Slice", "Section", "Boolean", "Union", "Subtract", "Intersect", "Exclude", "Arrow",
];
const DEFAULT_LAYER_NAME = new RegExp(`^(?:${DEFAULT_LAYER_KINDS.join("|")})\\s+\\d+$`);

function withoutNoiseNames(node, elements) {
  const children = node.children?.map((child) => withoutNoiseNames(child, elements));
  const result = children ? { ...node, children } : { ...node };
  const type = node.type ?? (node.template ? elements[node.template]?.type : undefined);
  if (result.name !== undefined && (type === "TEXT" || DEFAULT_LAYER_NAME.test(result.name))) delete result.name;
  return result;
}

function forOutput(design) {
  const { nodes, globalVars, elements, ...metadata } = design;
  return { metadata, nodes: nodes.map((node) => withoutNoiseNames(node, elements)), globalVars, elements };
}

function dumpYaml(value) {
  return yaml.dump(value, { noRefs: true, lineWidth: -1, noCompatMode: true, schema: yaml.JSON_SCHEMA });
}

const quoted = (value) => JSON.stringify(value);
const bare = (value) => (/[\s"]/.test(value) ? JSON.stringify(value) : value);
const inline = (value) => (typeof value === "string" ? bare(value) : JSON.stringify(value));

function treeLines(node, depth, lines, elements) {
  const template = node.template ? elements?.[node.template] : undefined;
  const parts = [`[${template?.type ?? node.type}]`];
  if (node.name !== undefined) parts.push(quoted(node.name));
  parts.push(`#${node.id}`);
  if (node.template !== undefined) parts.push(`template=${node.template}`);
  for (const key of ["layout", "fills", "strokes"]) {
    if (node[key] !== undefined) parts.push(`${key}=${inline(node[key])}`);
  }
  if (node.strokeWeight !== undefined) parts.push(`strokeWeight=${bare(node.strokeWeight)}`);
  if (node.strokeWeights !== undefined) parts.push(`strokeWeights=${bare(node.strokeWeights)}`);
  if (node.strokeDashes !== undefined) parts.push(`strokeDashes=${node.strokeDashes.join(",")}`);
  if (node.effects !== undefined) parts.push(`effects=${inline(node.effects)}`);
  if (node.opacity !== undefined) parts.push(`opacity=${node.opacity}`);
  if (node.borderRadius !== undefined) parts.push(`borderRadius=${bare(node.borderRadius)}`);
  if (node.styles !== undefined) parts.push(`styles=${bare(node.styles)}`);
  if (node.componentId !== undefined) parts.push(`componentId=${node.componentId}`);
  for (const key of ["componentProperties", "componentPropertyReferences"]) {
    if (node[key] !== undefined) parts.push(`${key}=${JSON.stringify(node[key])}`);
  }
  if (node.textStyle !== undefined) parts.push(`textStyle=${inline(node.textStyle)}`);
  if (node.boldWeight !== undefined) parts.push(`boldWeight=${node.boldWeight}`);
  if (node.text !== undefined) parts.push(`text=${quoted(node.text)}`);
  lines.push("  ".repeat(depth) + parts.join(" "));
  for (const child of node.children ?? []) treeLines(child, depth + 1, lines, elements);
}

function toTree(output) {
  const sections = [`NAME: ${quoted(output.metadata.name)}`];
  if (Object.keys(output.globalVars.styles).length > 0) {
    sections.push(`\nGLOBAL_VARS:\n${dumpYaml(output.globalVars.styles)}`);
  }
  if (output.elements && Object.keys(output.elements).length > 0) {
    sections.push(`ELEMENTS:\n${dumpYaml(output.elements)}`);
  }
  if (Object.keys(output.metadata.components).length > 0) {
    sections.push(`COMPONENTS:\n${dumpYaml(output.metadata.components)}`);
  }
  if (Object.keys(output.metadata.componentSets).length > 0) {
    sections.push(`COMPONENT_SETS:\n${dumpYaml(output.metadata.componentSets)}`);
  }
  const lines = ["NODES:"];
  for (const node of output.nodes) treeLines(node, 0, lines, output.elements);
  sections.push(lines.join("\n"));
  return sections.join("\n");
}

/** Serialise a simplified design the way Framelink's get_figma_data does for the given output format. */
export function serialize(design, format) {
  const output = forOutput(design);
  if (format === "json") return JSON.stringify(output, null, 2);
  if (format === "tree") return toTree(output);
  return dumpYaml(output);
}
