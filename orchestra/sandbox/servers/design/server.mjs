#!/usr/bin/env node
// The sandbox's design system: an offline stand-in for Figma as agents reach it through Framelink
// (figma-developer-mcp). Same tool names and arguments as Framelink, the same simplifier and serialisation, but the
// "Figma API" is a directory of REST-shaped `<fileKey>.json` files written by orchestra/sandbox/figma.py.
//
//   node orchestra/sandbox/servers/design/server.mjs --files-dir DIR [--images-dir DIR] [--format yaml|json|tree]
//
// The files dir may also come from ORCHESTRA_DESIGN_DIR, the images dir from ORCHESTRA_DESIGN_IMAGES_DIR.
// download_figma_images writes only inside the images dir (and is refused without one): an agent's `localPath`
// must never reach the rest of the host. Speaks MCP over stdio; stdout carries protocol messages only.
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  statSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

import { DesignFiles, findNode, ToolError } from "./files.mjs";
import { OUTPUT_FORMATS, serialize, simplify } from "./framelink.mjs";
import { renderSvg } from "./svg.mjs";

const USAGE =
  "usage: server.mjs --files-dir DIR [--images-dir DIR] [--format yaml|json|tree]  " +
  "(or set ORCHESTRA_DESIGN_DIR, ORCHESTRA_DESIGN_IMAGES_DIR)";

function log(...parts) {
  console.error("[design]", ...parts);
}

function configure(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "files-dir": { type: "string" },
        "images-dir": { type: "string" },
        format: { type: "string" },
        json: { type: "boolean" },
      },
    }));
  } catch (error) {
    throw new Error(`${error.message}\n${USAGE}`);
  }
  const dir = values["files-dir"] ?? process.env.ORCHESTRA_DESIGN_DIR;
  if (!dir) throw new Error(`no design files directory given\n${USAGE}`);
  const resolved = path.resolve(dir);
  if (!existsSync(resolved) || !statSync(resolved).isDirectory()) {
    throw new Error(`design files directory ${resolved} does not exist (generate it with orchestra.sandbox.figma)`);
  }
  const format = values.format ?? (values.json ? "json" : "yaml");
  if (!OUTPUT_FORMATS.includes(format)) throw new Error(`--format must be one of ${OUTPUT_FORMATS.join(", ")}`);
  const images = values["images-dir"] ?? process.env.ORCHESTRA_DESIGN_IMAGES_DIR;
  return { dir: resolved, format, imagesDir: images ? path.resolve(images) : null };
}

// Framelink's own argument patterns, so a call that works here works against Figma too.
const FILE_KEY = z
  .string()
  .regex(/^[a-zA-Z0-9]+$/, "File key must be alphanumeric; call list_figma_files for the available keys");
const NODE_ID = z
  .string()
  .regex(
    /^I?\d+[:|-]\d+(?:;\d+[:|-]\d+)*$/,
    "Node ID must be like '1234:5678' or 'I5666:180910;1:10515;1:10336'; list_figma_files shows frame ids",
  );
const normalizeNodeId = (nodeId) => nodeId?.replace(/-/g, ":");

function failure(error) {
  if (!(error instanceof ToolError)) log("tool failed:", error?.stack ?? error);
  const message = error instanceof Error ? error.message : String(error);
  return { isError: true, content: [{ type: "text", text: message }] };
}

async function getFigmaData(files, format, { fileKey, nodeId, depth }) {
  const id = normalizeNodeId(nodeId);
  log(`get_figma_data ${fileKey}${id ? ` node ${id}` : ""}${depth ? ` depth ${depth}` : ""}`);
  const raw = id ? files.nodesResponse(fileKey, id, depth) : files.fileResponse(fileKey, depth);
  const design = await simplify(raw, depth);
  return { content: [{ type: "text", text: serialize(design, format) }] };
}

function listFigmaFiles(files) {
  const catalogue = files.catalogue();
  const text = catalogue.length
    ? JSON.stringify(catalogue, null, 2)
    : `No design files in ${files.dir}; generate them with orchestra.sandbox.figma.build_design_files.`;
  return { content: [{ type: "text", text }], structuredContent: { files: catalogue } };
}

const inside = (parent, child) => {
  const rel = path.relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
};

// The folder to write to: `localPath` relative to the images dir, or absolute and inside it. Checked lexically
// (no '..' at all, so no guessing what the agent meant) and then through symlinks, on the deepest folder that
// exists now and again once the folders are made, so a link inside the images dir cannot lead out of it either.
function resolveTargetDir(imagesDir, localPath) {
  if (!imagesDir) {
    throw new ToolError(
      "download_figma_images is off: this design server was started without --images-dir " +
        "(set it, or ORCHESTRA_DESIGN_IMAGES_DIR, to the folder SVG files may be written to)",
    );
  }
  const hint = `give a folder inside ${imagesDir}, relative to it (e.g. 'exports') or as an absolute path`;
  if (localPath.includes("\0")) throw new ToolError(`localPath must not contain a NUL character; ${hint}`);
  if (localPath.split(/[\\/]/).includes("..")) {
    throw new ToolError(`localPath '${localPath}' must not contain '..'; ${hint}`);
  }
  mkdirSync(imagesDir, { recursive: true }); // the images folder itself may not exist yet (a fresh data dir)
  const root = realpathSync(imagesDir);
  const target = path.resolve(imagesDir, localPath);
  if (!inside(imagesDir, target) && !inside(root, target)) {
    throw new ToolError(`localPath '${localPath}' is outside the images folder ${imagesDir}; ${hint}`);
  }
  const escapes = (dir) => {
    let probe = dir;
    while (!lstatSync(probe, { throwIfNoEntry: false })) probe = path.dirname(probe); // lstat: links count as there
    let real;
    try {
      real = realpathSync(probe);
    } catch {
      throw new ToolError(`localPath '${localPath}' leads through a broken symlink at ${probe}; ${hint}`);
    }
    if (!inside(root, real)) {
      throw new ToolError(`localPath '${localPath}' leads through a symlink to ${real}, outside ${imagesDir}; ${hint}`);
    }
  };
  escapes(target);
  return { target, escapes };
}

// Only a plain file name, not hidden, ending in .svg. The schema checks the characters; this holds even if it moves.
function safeFileName(fileName) {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(fileName) || fileName !== path.basename(fileName)) {
    throw new ToolError(
      `fileName '${fileName}' must be a plain file name: letters, digits, '_', '.', '-', not starting with '.'`,
    );
  }
  return fileName;
}

// O_NOFOLLOW: if a symlink appears at the target after the checks, the write fails instead of following it.
function writeNoFollow(target, text) {
  const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

// Everything is checked before anything is written, so a bad request leaves the directory as it was.
function downloadFigmaImages(files, imagesDir, { fileKey, nodes, localPath }) {
  const file = files.load(fileKey);
  const names = new Set();
  for (const { fileName } of nodes) {
    if (!fileName.toLowerCase().endsWith(".svg")) {
      const svgName = fileName.replace(/\.[^.]+$/, ".svg");
      throw new ToolError(
        `Cannot write '${fileName}': this design sandbox renders SVG only, not PNG or GIF. Ask for '${svgName}'.`,
      );
    }
    safeFileName(fileName);
    if (names.has(fileName)) throw new ToolError(`fileName '${fileName}' is requested twice; give each node its own`);
    names.add(fileName);
  }
  const { target: dir, escapes } = resolveTargetDir(imagesDir, localPath);
  const targets = nodes.map(({ nodeId, fileName }) => {
    const node = files.node(fileKey, normalizeNodeId(nodeId));
    if (!node.absoluteBoundingBox) {
      throw new ToolError(`Node ${node.id} is a ${node.type}, which has no size to render; ask for one of its frames`);
    }
    const target = path.join(dir, fileName);
    const existing = lstatSync(target, { throwIfNoEntry: false }); // lstat: a symlink here is refused, not followed
    if (existing && !existing.isFile()) {
      throw new ToolError(`${target} exists and is not a regular file; it was left alone`);
    }
    return { node, target };
  });
  mkdirSync(dir, { recursive: true });
  escapes(dir);
  const componentOf = (id) => findNode(file.document, id);
  const lines = targets.map(({ node, target }) => {
    writeNoFollow(target, renderSvg(node, componentOf));
    const { width, height } = node.absoluteBoundingBox;
    return `- ${target}: ${width}x${height} (node ${node.id} "${node.name}")`;
  });
  log(`download_figma_images wrote ${lines.length} file(s) to ${dir}`);
  return { content: [{ type: "text", text: `Downloaded ${lines.length} images to \`${dir}\`:\n${lines.join("\n")}` }] };
}

// The SDK reports schema failures as a JSON dump of zod issues; like Framelink, restate them as one readable line
// ("nodes.0.fileName: File names must ...") so an agent can fix its call. Still returned as an isError result.
function readableValidationErrors(server) {
  const validate = server.validateToolInput?.bind(server);
  if (!validate) return;
  server.validateToolInput = async (tool, args, toolName) => {
    try {
      return await validate(tool, args, toolName);
    } catch (error) {
      const parsed = await tool.inputSchema?.safeParseAsync?.(args ?? {});
      if (!parsed || parsed.success) throw error;
      const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "arguments"}: ${issue.message}`);
      throw new Error(`Invalid arguments for ${toolName}: ${issues.join("; ")}`);
    }
  };
}

function createServer(files, format, imagesDir) {
  const server = new McpServer(
    { name: "orchestra-design", version: "0.1.0" },
    {
      instructions:
        "Design files of the Orchestra sandbox, served the way the Framelink Figma MCP server serves Figma. " +
        "Call list_figma_files for file keys and frame ids, get_figma_data for a file's or node's layout, styles, " +
        "text and components, and download_figma_images for SVG renderings of nodes.",
    },
  );
  readableValidationErrors(server);
  const guarded = (handler) => async (args) => {
    try {
      return await handler(args);
    } catch (error) {
      return failure(error);
    }
  };

  server.registerTool(
    "get_figma_data",
    {
      title: "Get Figma Data",
      description:
        "Get comprehensive Figma file data including layout, content, visuals, and component information. " +
        `Returns Framelink's simplified design (${format}). Call list_figma_files for the available file keys.`,
      inputSchema: {
        fileKey: FILE_KEY.describe("The key of the Figma file to fetch, as listed by list_figma_files"),
        nodeId: NODE_ID.optional().describe(
          "The ID of the node to fetch, such as '1:2' (URL form '1-2' is accepted). Returns only that node's subtree.",
        ),
        depth: z
          .number()
          .int()
          .positive()
          .optional()
          .describe("OPTIONAL. Do NOT use unless explicitly requested by the user. How many levels deep to traverse."),
      },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded((args) => getFigmaData(files, format, args)),
  );

  server.registerTool(
    "list_figma_files",
    {
      title: "List Figma Files",
      description: "List the available design files: file key, name, and each page's top-level frames (id, size).",
      inputSchema: {},
      outputSchema: {
        files: z.array(
          z.object({
            fileKey: z.string(),
            name: z.string(),
            lastModified: z.string(),
            version: z.string(),
            frames: z.array(
              z.object({
                id: z.string(),
                name: z.string(),
                type: z.string(),
                page: z.string(),
                width: z.number(),
                height: z.number(),
              }),
            ),
          }),
        ),
      },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded(() => listFigmaFiles(files)),
  );

  server.registerTool(
    "download_figma_images",
    {
      title: "Download Figma Images",
      description:
        "Render Figma nodes (frames, components, instances, shapes, text) as SVG files in a local directory. " +
        "Only .svg file names are supported by this sandbox. Existing .svg files with the same name are replaced.",
      inputSchema: {
        fileKey: FILE_KEY.describe("The key of the Figma file containing the nodes"),
        nodes: z
          .array(
            z.object({
              nodeId: NODE_ID.describe("The ID of the Figma node to render, formatted as 1234:5678"),
              fileName: z
                .string()
                .regex(
                  /^[a-zA-Z0-9_.-]+\.(png|svg|gif)$/i,
                  "File names must contain only letters, numbers, underscores, dots, or hyphens, and end with .svg",
                )
                .describe("The local file name to write, ending in .svg"),
            }),
          )
          .min(1)
          .describe("The nodes to render"),
        localPath: z
          .string()
          .min(1)
          .describe(
            imagesDir
              ? `Folder to write the SVG files to, inside ${imagesDir}: relative to it (e.g. 'exports'; '.' for ` +
                  "the folder itself) or an absolute path inside it. '..' is refused."
              : "Folder to write the SVG files to (this server has no images folder, so downloads are refused)",
          ),
      },
      annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: false, openWorldHint: false },
    },
    guarded((args) => downloadFigmaImages(files, imagesDir, args)),
  );
  return server;
}

async function main() {
  let config;
  try {
    config = configure(process.argv.slice(2));
  } catch (error) {
    log(error.message);
    process.exit(2);
  }
  const files = new DesignFiles(config.dir);
  const server = createServer(files, config.format, config.imagesDir);
  await server.connect(new StdioServerTransport());
  log(`serving ${files.keys().length} design file(s) from ${config.dir} (${config.format})`);
}

main().catch((error) => {
  log("fatal:", error?.stack ?? error);
  process.exit(1);
});
