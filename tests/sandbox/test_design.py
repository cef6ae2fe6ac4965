"""The design sandbox: generated Figma-shaped files, and the Framelink-compatible MCP server that serves them.

The server runs for real over stdio (node), and get_figma_data goes through figma-developer-mcp's own converter,
so these tests check what an agent would read, not what we intended to write.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from orchestra.sandbox.figma import build_design_files

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "orchestra" / "sandbox" / "servers" / "design" / "server.mjs"
SVG = "{http://www.w3.org/2000/svg}"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def designs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Seed-7 design files, and {page name: file key}."""
    out = tmp_path_factory.mktemp("designs")
    return out, {page: key for key, page in build_design_files(out, seed=7).items()}


@asynccontextmanager
async def design_server(files_dir: Path | None, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[Any]:
    dir_args = ["--files-dir", str(files_dir)] if files_dir else []
    params = StdioServerParameters(command="node", args=[str(SERVER), *dir_args, *args], cwd=str(ROOT), env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


class Design:
    """Framelink's simplified design, with its `template` and style references resolved for easy assertions."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.styles = data["globalVars"]["styles"]
        self.components = data["metadata"]["components"]

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        merged = {**self.data["elements"].get(node.get("template"), {}), **node}
        for key in ("layout", "fills", "strokes", "effects", "textStyle"):
            if isinstance(merged.get(key), str):
                merged[key] = self.styles.get(merged[key], merged[key])
        return merged

    def walk(self, nodes: list[dict[str, Any]] | None = None, *, raw: bool = False) -> Iterator[dict[str, Any]]:
        for node in self.data["nodes"] if nodes is None else nodes:
            yield node if raw else self.resolve(node)
            yield from self.walk(node.get("children", []), raw=raw)

    def named(self, name: str, *, raw: bool = False) -> dict[str, Any]:
        return next(node for node in self.walk(raw=raw) if node.get("name") == name)

    def texts(self, node: dict[str, Any]) -> list[str]:
        return [n["text"] for n in self.walk([node]) if "text" in n]


async def get_design(session: Any, **arguments: Any) -> Design:
    result = await session.call_tool("get_figma_data", arguments)
    assert not result.isError, text_of(result)
    return Design(json.loads(text_of(result)))


class Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 scalars, as js-yaml writes them: YAML 1.1 would read the node id 1:35 as the sexagesimal int 95."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.rsplit(":", 1)[1] not in ("int", "float", "bool", "timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+]?[0-9]+)?$"), list("-0123456789")
)


def test_same_seed_gives_byte_identical_figma_files(tmp_path: Path) -> None:
    first = build_design_files(tmp_path / "a", seed=7)
    second = build_design_files(tmp_path / "b", seed=7)
    assert first == second
    assert sorted(first.values()) == ["Landing page", "Pricing page", "Settings page"]
    for key in first:
        assert re.fullmatch(r"[A-Za-z0-9]{22}", key)
        assert (tmp_path / "a" / f"{key}.json").read_bytes() == (tmp_path / "b" / f"{key}.json").read_bytes()
    other = build_design_files(tmp_path / "c", seed=8)
    assert set(other).isdisjoint(first)
    assert sorted(other.values()) == sorted(first.values())


def test_files_have_the_figma_rest_api_shape(designs: tuple[Path, dict[str, str]]) -> None:
    out, keys = designs
    raw = json.loads((out / f"{keys['Pricing page']}.json").read_text())
    assert raw["document"]["type"] == "DOCUMENT"
    assert raw["name"] == "Orchestra — Pricing page"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", raw["lastModified"])
    pages = raw["document"]["children"]
    assert [p["type"] for p in pages] == ["CANVAS", "CANVAS"]
    frame = pages[0]["children"][0]
    assert frame["type"] == "FRAME"
    assert frame["id"] == "1:2"
    assert frame["absoluteBoundingBox"]["width"] == 1440
    nodes = []
    stack = [raw["document"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("children", []))
    by_id = {n["id"]: n for n in nodes}
    assert len(by_id) == len(nodes)
    assert all(re.fullmatch(r"I?\d+:\d+(;\d+:\d+)*", n["id"]) for n in nodes)
    instances = [n for n in nodes if n["type"] == "INSTANCE"]
    assert len(instances) == 4  # "Sign in" and the three plans' calls to action
    for instance in instances:
        assert by_id[instance["componentId"]]["type"] == "COMPONENT"
        assert instance["componentId"] in raw["components"]
    used_styles = {sid for n in nodes for sid in n.get("styles", {}).values()}
    assert used_styles == set(raw["styles"])
    assert {raw["styles"][sid]["name"] for sid in used_styles} >= {"Brand/Primary", "Heading/H1", "Shadow/Card"}
    team = next(n for n in nodes if n["name"] == "Plan Card/Team")
    assert team["layoutMode"] == "VERTICAL"
    assert team["fills"][0]["color"] == {"r": 0.309804, "g": 0.27451, "b": 0.898039, "a": 1.0}  # #4F46E5
    # Children really sit inside their auto-layout parent, after its padding.
    first_child = team["children"][0]["absoluteBoundingBox"]
    assert first_child["x"] == team["absoluteBoundingBox"]["x"] + team["paddingLeft"]
    assert first_child["y"] == team["absoluteBoundingBox"]["y"] + team["paddingTop"]


async def test_tools_and_their_annotations(designs: tuple[Path, dict[str, str]]) -> None:
    async with design_server(designs[0]) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == {"get_figma_data", "list_figma_files", "download_figma_images"}
    get_data = tools["get_figma_data"]
    assert set(get_data.inputSchema["properties"]) == {"fileKey", "nodeId", "depth"}
    assert get_data.inputSchema["required"] == ["fileKey"]
    assert get_data.annotations.readOnlyHint is True
    assert get_data.annotations.idempotentHint is True
    assert get_data.annotations.openWorldHint is False
    assert tools["list_figma_files"].annotations.readOnlyHint is True
    download = tools["download_figma_images"]
    assert set(download.inputSchema["required"]) == {"fileKey", "nodes", "localPath"}
    assert set(download.inputSchema["properties"]["nodes"]["items"]["properties"]) == {"nodeId", "fileName"}
    assert download.annotations.readOnlyHint is False
    assert download.annotations.idempotentHint is True
    assert download.annotations.destructiveHint is False


async def test_list_figma_files_names_keys_pages_and_frames(designs: tuple[Path, dict[str, str]]) -> None:
    out, keys = designs
    async with design_server(out) as session:
        result = await session.call_tool("list_figma_files", {})
    assert not result.isError
    files = {entry["fileKey"]: entry for entry in result.structuredContent["files"]}
    assert set(files) == set(keys.values())
    pricing = files[keys["Pricing page"]]
    assert pricing["name"] == "Orchestra — Pricing page"
    main = pricing["frames"][0]
    assert main == {"id": "1:2", "name": "Pricing — Desktop", "type": "FRAME", "page": "Pricing page",
                    "width": 1440, "height": main["height"]}  # fmt: skip
    assert main["height"] > 900
    components = {f["name"] for f in pricing["frames"] if f["type"] == "COMPONENT"}
    assert components == {"Button/Primary", "Button/Secondary"}
    settings = files[keys["Settings page"]]
    assert {f["name"] for f in settings["frames"] if f["type"] == "COMPONENT"} == {
        "Button/Primary", "Button/Secondary", "Input/Text Field", "Input/Select", "Toggle/On"}  # fmt: skip


async def test_pricing_page_as_framelink_simplifies_it(designs: tuple[Path, dict[str, str]]) -> None:
    out, keys = designs
    async with design_server(out, "--format", "json") as session:
        design = await get_design(session, fileKey=keys["Pricing page"])
    assert design.data["metadata"]["name"] == "Orchestra — Pricing page"
    headline = next(n for n in design.walk() if n.get("text") == "Simple pricing for every stage")
    assert headline["type"] == "TEXT"
    assert headline["textStyle"]["fontFamily"] == "Inter"
    assert headline["textStyle"]["fontSize"] == 48
    assert headline["textStyle"]["fontWeight"] == 700
    assert headline["textStyle"]["lineHeight"] == "56px"
    assert design.named("Plans")["layout"]["mode"] == "row"
    assert design.named("Plans")["layout"]["gap"] == "24px"

    expected = {"Starter": ("$19/mo", "Button/Primary", "Start free trial", "#FFFFFF"),
                "Team": ("$49/mo", "Button/Secondary", "Start free trial", "#4F46E5"),
                "Enterprise": ("$199/mo", "Button/Primary", "Contact sales", "#FFFFFF")}  # fmt: skip
    for plan, (price, button_name, label, fill) in expected.items():
        card = design.named(f"Plan Card/{plan}")
        texts = design.texts(card)
        assert plan in texts
        assert price in texts
        assert card["fills"] == [fill]
        assert card["layout"]["mode"] == "column"
        assert card["layout"]["gap"] == "24px"
        assert card["layout"]["padding"] == "32px"
        assert card["borderRadius"] == "16px"
        button = next(n for n in design.walk([card]) if n.get("type") == "INSTANCE")
        assert design.components[button["componentId"]]["name"] == button_name
        assert button["componentProperties"] == {"Label": label}
        assert button["layout"]["padding"] == "12px 24px"
        assert button["layout"]["justifyContent"] == "center"
        assert button["borderRadius"] == "8px"
    # The highlighted plan is the only one drawn in the brand colour, and it carries the badge and the shadow.
    team = design.named("Plan Card/Team")
    assert design.named("Plan Card/Team", raw=True)["fills"] == "Brand/Primary"
    assert design.styles["Brand/Primary"] == ["#4F46E5"]
    assert "Most popular" in design.texts(team)
    assert team["effects"] == {"boxShadow": "0px 8px 24px 0px rgba(15, 23, 42, 0.08)"}
    assert "effects" not in design.named("Plan Card/Starter")
    primary = next(c for c in design.components.values() if c["name"] == "Button/Primary")
    assert primary["propertyDefinitions"] == {"Label": {"type": "text", "defaultValue": "Start free trial"}}


async def test_default_output_is_framelinks_yaml(designs: tuple[Path, dict[str, str]]) -> None:
    out, keys = designs
    async with design_server(out) as yaml_session, design_server(out, "--format", "json") as json_session:
        as_yaml = text_of(await yaml_session.call_tool("get_figma_data", {"fileKey": keys["Landing page"]}))
        as_json = text_of(await json_session.call_tool("get_figma_data", {"fileKey": keys["Landing page"]}))
    assert as_yaml.startswith("metadata:\n  name: Orchestra — Landing page\n")
    assert yaml.load(as_yaml, Loader=Yaml12Loader) == json.loads(as_json)


async def test_node_id_returns_only_that_subtree(designs: tuple[Path, dict[str, str]]) -> None:
    out, keys = designs
    pricing = keys["Pricing page"]
    async with design_server(out, "--format", "json") as session:
        team_id = (await get_design(session, fileKey=pricing)).named("Plan Card/Team")["id"]
        team = await get_design(session, fileKey=pricing, nodeId=team_id)
        url_form = await get_design(session, fileKey=pricing, nodeId=team_id.replace(":", "-"))
        shallow = await get_design(session, fileKey=pricing, nodeId=team_id, depth=1)
    assert [node["id"] for node in team.data["nodes"]] == [team_id]
    texts = team.texts(team.data["nodes"][0])
    assert {"Team", "$49/mo", "Most popular", "Start free trial", "Unlimited server pools"} <= set(texts)
    assert not {"Starter", "$19/mo", "Simple pricing for every stage", "Orchestra"} & set(texts)
    assert [c["name"] for c in team.components.values()] == ["Button/Secondary"]
    assert url_form.data == team.data
    # depth=1 stops at the card's direct children: the feature list is there, its rows are not.
    feature_list = shallow.named("Feature List")
    assert "children" not in feature_list
    assert "Unlimited server pools" not in shallow.texts(shallow.data["nodes"][0])


async def test_download_figma_images_writes_an_svg_of_the_plan_card(
    designs: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, keys = designs
    pricing = keys["Pricing page"]
    target = tmp_path / "exports"
    async with design_server(out, "--format", "json", "--images-dir", str(tmp_path)) as session:
        team_id = (await get_design(session, fileKey=pricing)).named("Plan Card/Team")["id"]
        nodes = [{"nodeId": team_id, "fileName": "team-plan.svg"}, {"nodeId": "1:2", "fileName": "pricing.svg"}]
        result = await session.call_tool(
            "download_figma_images", {"fileKey": pricing, "nodes": nodes, "localPath": str(target)}
        )
        png = await session.call_tool(
            "download_figma_images",
            {"fileKey": pricing, "nodes": [{"nodeId": team_id, "fileName": "team.png"}], "localPath": str(target)},
        )
    assert not result.isError, text_of(result)
    assert str(target / "team-plan.svg") in text_of(result)
    assert sorted(p.name for p in target.iterdir()) == ["pricing.svg", "team-plan.svg"]

    svg = ET.parse(target / "team-plan.svg").getroot()
    assert svg.tag == f"{SVG}svg"
    assert (svg.get("width"), svg.get("viewBox")) == ("384", "0 0 384 541")
    texts = ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]
    assert {"Team", "$49/mo", "Most popular", "Start free trial"} <= set(texts)
    name = next(t for t in svg.iter(f"{SVG}text") if "".join(t.itertext()) == "Team")
    font = {key: name.get(key) for key in ("font-family", "font-size", "font-weight", "fill")}
    assert font == {"font-family": "Inter, sans-serif", "font-size": "20", "font-weight": "600", "fill": "#FFFFFF"}
    card = next(r for r in svg.iter(f"{SVG}rect") if r.get("width") == "384")
    assert (card.get("fill"), card.get("rx"), card.get("x"), card.get("y")) == ("#4F46E5", "16", "0", "0")
    # The call to action is an instance: it is drawn as its component, a white button with a grey border.
    button = next(g for g in svg.iter(f"{SVG}g") if g.get("data-name") == "Button/Secondary")
    fills = [r.get("fill") for r in button.iter(f"{SVG}rect")]
    strokes = [r.get("stroke") for r in button.iter(f"{SVG}rect") if r.get("stroke")]
    assert (fills[0], strokes) == ("#FFFFFF", ["#E2E8F0"])

    page = ET.parse(target / "pricing.svg").getroot()
    page_texts = {"".join(t.itertext()) for t in page.iter(f"{SVG}text")}
    assert {"Starter", "$19/mo", "Enterprise", "$199/mo", "Simple pricing for every stage"} <= page_texts

    assert png.isError
    assert "SVG only" in text_of(png)
    assert "team.svg" in text_of(png)
    assert not (target / "team.png").exists()


async def test_bad_inputs_are_tool_errors_that_say_how_to_fix_them(
    designs: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out, keys = designs
    pricing = keys["Pricing page"]
    target = tmp_path / "never"
    async with design_server(out, "--images-dir", str(tmp_path)) as session:
        unknown_file = await session.call_tool("get_figma_data", {"fileKey": "AbCdEfGhIjKlMnOpQrStUv"})
        unknown_node = await session.call_tool("get_figma_data", {"fileKey": pricing, "nodeId": "9:999"})
        malformed_key = await session.call_tool("get_figma_data", {"fileKey": "not a key!"})
        malformed_node = await session.call_tool("get_figma_data", {"fileKey": pricing, "nodeId": "frame one"})
        bad_depth = await session.call_tool("get_figma_data", {"fileKey": pricing, "depth": "deep"})
        missing_node = await session.call_tool(
            "download_figma_images",
            {"fileKey": pricing, "nodes": [{"nodeId": "1:2", "fileName": "ok.svg"},
                                           {"nodeId": "7:7", "fileName": "gone.svg"}], "localPath": str(target)},
        )  # fmt: skip
        escaping = await session.call_tool(
            "download_figma_images",
            {"fileKey": pricing, "nodes": [{"nodeId": "1:2", "fileName": "p.svg"}], "localPath": "../outside"},
        )
        still_working = await session.call_tool("list_figma_files", {})

    assert unknown_file.isError
    assert "Unknown fileKey 'AbCdEfGhIjKlMnOpQrStUv'" in text_of(unknown_file)
    assert all(key in text_of(unknown_file) for key in keys.values())
    assert "list_figma_files" in text_of(unknown_file)

    assert unknown_node.isError
    assert "Node '9:999' was not found" in text_of(unknown_node)
    assert "1:2 (Pricing — Desktop)" in text_of(unknown_node)

    assert malformed_key.isError
    assert "fileKey: File key must be alphanumeric" in text_of(malformed_key)
    assert malformed_node.isError
    assert "nodeId: Node ID must be like '1234:5678'" in text_of(malformed_node)
    assert bad_depth.isError
    assert "depth:" in text_of(bad_depth)

    assert missing_node.isError
    assert "Node '7:7' was not found" in text_of(missing_node)
    assert not target.exists()  # nothing is written when any requested node is unknown
    assert escaping.isError
    assert "must not contain '..'" in text_of(escaping)
    assert not still_working.isError


async def test_files_dir_can_come_from_the_environment(designs: tuple[Path, dict[str, str]]) -> None:
    out, keys = designs
    async with design_server(None, env={"ORCHESTRA_DESIGN_DIR": str(out)}) as session:
        listed = await session.call_tool("list_figma_files", {})
    assert {entry["fileKey"] for entry in listed.structuredContent["files"]} == set(keys.values())


def test_server_refuses_to_start_without_a_files_dir(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"]}
    refused = subprocess.run(["node", str(SERVER)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode == 2
    assert refused.stdout == ""  # stdout belongs to the protocol
    assert "--files-dir" in refused.stderr
    command = ["node", str(SERVER), "--files-dir", str(tmp_path / "absent")]
    missing = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
