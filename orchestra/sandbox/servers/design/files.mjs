// The local stand-in for Figma's REST API: `<fileKey>.json` files in one directory, each a `GET /v1/files/:key`
// response, and the two read endpoints Framelink calls, built from them.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** A problem with the caller's input; its message is shown to the agent as the tool error. */
export class ToolError extends Error {}

const FILE_KEY = /^[A-Za-z0-9]+$/;

export class DesignFiles {
  constructor(dir) {
    this.dir = dir;
    this.cache = new Map(); // fileKey -> {mtimeMs, size, data}; files are re-read when they change on disk
  }

  keys() {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(".json") && FILE_KEY.test(name.slice(0, -5)))
      .map((name) => name.slice(0, -5))
      .sort();
  }

  /** Every file with its pages' top-level frames, so an agent can pick a fileKey and nodeId. */
  catalogue() {
    return this.keys().map((fileKey) => {
      const file = this.load(fileKey);
      return { fileKey, name: file.name, lastModified: file.lastModified, version: file.version, frames: frames(file) };
    });
  }

  load(fileKey) {
    const file = path.join(this.dir, `${fileKey}.json`);
    let stat;
    try {
      stat = FILE_KEY.test(fileKey) ? statSync(file) : null;
    } catch {
      stat = null;
    }
    if (!stat?.isFile()) {
      const known = this.keys();
      const hint = known.length ? `Available file keys: ${known.join(", ")}.` : `No design files in ${this.dir}.`;
      throw new ToolError(`Unknown fileKey '${fileKey}'. ${hint} Call list_figma_files to see their pages and frames.`);
    }
    const cached = this.cache.get(fileKey);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.data;
    const data = JSON.parse(readFileSync(file, "utf8"));
    this.cache.set(fileKey, { mtimeMs: stat.mtimeMs, size: stat.size, data });
    return data;
  }

  /** The file's node with this id (frames, layers, or "I…;…" layers inside instances), or a ToolError. */
  node(fileKey, nodeId) {
    const file = this.load(fileKey);
    const found = findNode(file.document, nodeId);
    if (!found) {
      const known = frames(file).map((frame) => `${frame.id} (${frame.name})`);
      throw new ToolError(
        `Node '${nodeId}' was not found in file ${fileKey} (${file.name}). Its top-level frames are: ` +
          `${known.join(", ")}. Call get_figma_data without nodeId to see every node id.`,
      );
    }
    return found;
  }

  /** `GET /v1/files/:key?depth=` */
  fileResponse(fileKey, depth) {
    const file = this.load(fileKey);
    return { ...file, document: truncate(file.document, depth) };
  }

  /** `GET /v1/files/:key/nodes?ids=&depth=`: the node's subtree plus the components and styles it uses. */
  nodesResponse(fileKey, nodeId, depth) {
    const file = this.load(fileKey);
    const document = truncate(this.node(fileKey, nodeId), depth);
    const componentIds = new Set();
    const styleIds = new Set();
    walk(document, (node) => {
      if (node.type === "COMPONENT") componentIds.add(node.id);
      if (node.componentId) componentIds.add(node.componentId);
      for (const id of Object.values(node.styles ?? {})) styleIds.add(id);
    });
    const pick = (map, ids) => Object.fromEntries(Object.entries(map ?? {}).filter(([id]) => ids.has(id)));
    const { document: _whole, components: _c, componentSets: _cs, styles: _s, schemaVersion, ...header } = file;
    return {
      ...header,
      nodes: {
        [nodeId]: {
          document,
          components: pick(file.components, componentIds),
          componentSets: {},
          schemaVersion,
          styles: pick(file.styles, styleIds),
        },
      },
    };
  }
}

// The top-level nodes of every page: the frames and components a designer would point at.
function frames(file) {
  return file.document.children.flatMap((page) =>
    (page.children ?? []).map((node) => ({
      id: node.id,
      name: node.name,
      type: node.type,
      page: page.name,
      width: node.absoluteBoundingBox?.width ?? 0,
      height: node.absoluteBoundingBox?.height ?? 0,
    })),
  );
}

function walk(node, visit) {
  visit(node);
  for (const child of node.children ?? []) walk(child, visit);
}

export function findNode(root, nodeId) {
  if (root.id === nodeId) return root;
  for (const child of root.children ?? []) {
    const found = findNode(child, nodeId);
    if (found) return found;
  }
  return null;
}

// The REST API's `depth`: the requested node is level 0 and nothing below `depth` levels is returned. Containers
// at the limit keep an empty `children` list, which the converter's auto-layout code expects to find.
function truncate(node, depth, level = 0) {
  if (depth === undefined || !node.children) return node;
  if (level >= depth) return { ...node, children: [] };
  return { ...node, children: node.children.map((child) => truncate(child, depth, level + 1)) };
}
