"""download_figma_images writes only inside the design server's --images-dir: the real node server over stdio, and
the shipped design pool through the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestra.sandbox.figma import build_design_files
from tests.sandbox.conftest import Sandbox
from tests.sandbox.test_design import design_server, text_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pricing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The design files folder and the pricing page's file key."""
    out = tmp_path_factory.mktemp("designs")
    keys = {page: key for key, page in build_design_files(out, seed=7).items()}
    return out, keys["Pricing page"]


def download(local_path: str, file_name: str = "frame.svg") -> dict[str, Any]:
    return {"nodes": [{"nodeId": "1:2", "fileName": file_name}], "localPath": local_path}


def svgs(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.svg"))


async def test_images_land_inside_the_images_dir_whatever_form_the_path_takes(
    pricing_key: tuple[Path, str], tmp_path: Path
) -> None:
    files_dir, key = pricing_key
    images = tmp_path / "images"  # not created yet: the server makes it on first use
    async with design_server(files_dir, "--images-dir", str(images)) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        description = tools["download_figma_images"].inputSchema["properties"]["localPath"]["description"]
        results = [
            await session.call_tool("download_figma_images", {"fileKey": key, **download(path, name)})
            for path, name in [
                ("exports", "relative.svg"),
                (".", "top.svg"),
                ("nested/deeper", "nested.svg"),
                (str(images / "absolute"), "absolute.svg"),
            ]
        ]
    assert str(images) in description
    assert [text_of(r) for r in results if r.isError] == []
    assert svgs(images) == ["absolute/absolute.svg", "exports/relative.svg", "nested/deeper/nested.svg", "top.svg"]
    assert svgs(tmp_path) == [f"images/{name}" for name in svgs(images)]  # nothing anywhere else


async def test_paths_out_of_the_images_dir_are_refused_and_nothing_is_written(
    pricing_key: tuple[Path, str], tmp_path: Path
) -> None:
    files_dir, key = pricing_key
    images, source_tree = tmp_path / "images", tmp_path / "product" / "src"
    source_tree.mkdir(parents=True)
    images.mkdir()
    (images / "link").symlink_to(source_tree, target_is_directory=True)  # a link inside that points out
    (images / "dangling").symlink_to(tmp_path / "product" / "not-yet")  # ... or to a folder mkdir would create
    (tmp_path / "images-evil").mkdir()  # shares the images dir's name as a prefix
    refused = {
        str(source_tree): "is outside the images folder",  # the probe: an absolute path into the source tree
        "/tmp": "is outside the images folder",
        str(tmp_path / "images-evil"): "is outside the images folder",
        "../product/src": "must not contain '..'",
        "exports/../../product/src": "must not contain '..'",
        f"{images}/../product/src": "must not contain '..'",
        "..\\product\\src": "must not contain '..'",
        "link": "leads through a symlink",
        "link/icons": "leads through a symlink",
        str(images / "link"): "leads through a symlink",
        "dangling": "broken symlink",
        "dangling/icons": "broken symlink",
        "exports\x00": "NUL",
    }
    async with design_server(files_dir, "--images-dir", str(images)) as session:
        for local_path, message in refused.items():
            result = await session.call_tool("download_figma_images", {"fileKey": key, **download(local_path)})
            assert result.isError, local_path
            assert message in text_of(result), (local_path, text_of(result))
            assert str(images) in text_of(result) or message == "NUL", text_of(result)
    assert svgs(tmp_path) == []
    assert sorted(p.name for p in images.iterdir()) == ["dangling", "link"]
    assert sorted(p.name for p in (tmp_path / "product").iterdir()) == ["src"]
    assert list(source_tree.iterdir()) == []


async def test_file_names_must_be_plain_and_visible(pricing_key: tuple[Path, str], tmp_path: Path) -> None:
    files_dir, key = pricing_key
    images = tmp_path / "images"
    async with design_server(files_dir, "--images-dir", str(images)) as session:
        for name in (".hidden.svg", "..svg", "../up.svg", "sub/dir.svg", "a\\b.svg", "-"):
            result = await session.call_tool("download_figma_images", {"fileKey": key, **download(".", name)})
            assert result.isError, name
            assert "fileName" in text_of(result), (name, text_of(result))
    assert svgs(tmp_path) == []


async def test_without_an_images_dir_downloads_are_refused(pricing_key: tuple[Path, str], tmp_path: Path) -> None:
    files_dir, key = pricing_key
    async with design_server(files_dir) as session:
        result = await session.call_tool("download_figma_images", {"fileKey": key, **download(str(tmp_path))})
        listed = await session.call_tool("list_figma_files", {})
    assert result.isError
    assert "started without --images-dir" in text_of(result)
    assert not listed.isError  # reading designs still works
    assert svgs(tmp_path) == []


async def test_the_design_pool_writes_images_under_the_data_dir(sandbox: Sandbox, tmp_path: Path) -> None:
    images = sandbox.paths.root / "images"
    async with sandbox.client("design") as design:
        files = (await design.call_tool("list_figma_files", {})).structuredContent["files"]
        key = next(f["fileKey"] for f in files if f["name"].endswith("Pricing page"))
        written = await design.call_tool("download_figma_images", {"fileKey": key, **download("pool-check")})
        outside = await design.call_tool("download_figma_images", {"fileKey": key, **download(str(tmp_path))})
    assert not written.isError, text_of(written)
    assert (images / "pool-check" / "frame.svg").read_text().startswith("<svg")
    assert outside.isError
    assert f"outside the images folder {images}" in text_of(outside)
    assert svgs(tmp_path) == []
