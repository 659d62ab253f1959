"""The browser page (web/): the default model's ONNX export, loaded by transformers.js and run by
ONNX Runtime Web in Debian's chromium from a server on 127.0.0.1, gives the label maps Python gives.

Needs web/node_modules (``npm ci --prefix web``, run by .ci/run) and Debian's chromium."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import free_port
from PIL import Image

from animeparse.export import export_checkpoint
from animeparse.inference import class_scores, label_map, load_branches, predict
from animeparse.labels import SCHEMA_16
from animeparse.synth.scene import render

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "web"))
from serve import server  # noqa: E402

DEFAULT_MODEL = "animeparse-b0/model_a"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served copy of what the page loads: web/ and the schemas linked, the default model
    copied and exported to ONNX (the repository's own model folder is left as it is)."""
    if not (ROOT / "web" / "node_modules" / "@huggingface" / "transformers").is_dir():
        pytest.fail("web/node_modules is missing: run `npm ci --prefix web --ignore-scripts` (.ci/run does)")
    root = tmp_path_factory.mktemp("site")
    (root / "web").symlink_to(ROOT / "web")
    (root / "animeparse").mkdir()
    (root / "animeparse" / "schemas").symlink_to(ROOT / "animeparse" / "schemas")
    model_dir = root / "models" / DEFAULT_MODEL
    shutil.copytree(ROOT / "models" / DEFAULT_MODEL, model_dir, ignore=shutil.ignore_patterns("onnx", "README.md"))
    export_checkpoint(model_dir, quantized=False, log=lambda *_: None)
    httpd = server(root, free_port())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", model_dir
    httpd.shutdown()


@pytest.fixture(scope="module")
def page(site):
    from playwright.sync_api import sync_playwright

    url, _ = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(120_000)
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{url}/web/index.html")
        page.wait_for_selector("#status[data-state=ready], #status[data-state=error]")
        assert page.get_attribute("#status", "data-state") == "ready", page.text_content("#status")
        page.requests = requests
        yield page
        browser.close()


@pytest.fixture(scope="module")
def python_branches(site):
    _, model_dir = site
    return load_branches({"A": str(model_dir)})  # the page flips as the app does


def picture(seed: int, width: int, height: int) -> Image.Image:
    """A synthetic picture that is not square, so resizing and upsampling are exercised."""
    return render(seed, max(width, height)).image.crop((0, 0, width, height))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def browser_labels(page) -> np.ndarray:
    page.wait_for_selector("#status[data-state=done], #status[data-state=error]")
    assert page.get_attribute("#status", "data-state") == "done", page.text_content("#status")
    result = page.evaluate("window.animeparse")
    return np.array(result["labels"], np.uint8).reshape(result["height"], result["width"])


def agreement(page, python_branches, image: Image.Image) -> float:
    labels = browser_labels(page)
    expected = predict(python_branches, image, "A").labels("A", SCHEMA_16)
    assert labels.shape == expected.shape
    assert len(np.unique(expected)) > 2  # a real parse, not a blank map
    return float((labels == expected).mean())


def test_page_parses_a_chosen_picture_like_python(page, python_branches, tmp_path):
    image = picture(11, 300, 220)
    path = tmp_path / "picture.png"
    image.save(path)
    page.set_input_files("#file", str(path))
    assert agreement(page, python_branches, image) >= 0.995
    canvas = page.eval_on_selector("#overlay", "c => [c.width, c.height]")
    assert canvas == [300, 220]
    assert page.text_content("#legend")  # the classes present are named


def test_page_parses_a_dropped_picture_like_python(page, python_branches):
    image = picture(12, 384, 512)
    page.evaluate(
        """async (b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
            document.querySelector("#status").dataset.state = "waiting";
            document.querySelector("#drop").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
        }""",
        base64.b64encode(png_bytes(image)).decode(),
    )
    assert agreement(page, python_branches, image) >= 0.995


def test_page_loads_nothing_from_elsewhere(page, site):
    url, _ = site
    assert page.requests and all(r.startswith(url) or r.startswith("blob:") or r.startswith("data:") for r in page.requests)
    assert any(r.endswith("/onnx/model.onnx") for r in page.requests)


NODE_LABEL_MAP = """
import { readFileSync, writeFileSync } from "node:fs";
import { labelMap } from "%s";
const [logitsPath, outPath, c, h, w, height, width] = process.argv.slice(1);
const data = new Float32Array(readFileSync(logitsPath).buffer.slice(0));
writeFileSync(outPath, labelMap(data, [1, +c, +h, +w], +height, +width));
"""


def node_label_map(logits: torch.Tensor, size: tuple[int, int], tmp_path: Path) -> np.ndarray:
    """web/labelmap.js run by node on (C, h, w) logits."""
    (tmp_path / "logits.f32").write_bytes(logits.numpy().astype("<f4").tobytes())
    script = NODE_LABEL_MAP % (ROOT / "web" / "labelmap.js").as_uri()
    subprocess.run(["node", "--input-type=module", "-e", script, str(tmp_path / "logits.f32"), str(tmp_path / "labels.u8"),
                    *map(str, (*logits.shape, *size))], check=True)
    return np.frombuffer((tmp_path / "labels.u8").read_bytes(), np.uint8).reshape(size)


def test_browser_label_map_is_the_python_rule(tmp_path):
    """The page's label map (with its shortcut for pixels whose four logit corners agree) against
    Python's dense rule, on smooth logits with many boundaries, at sizes off the logit grid."""
    gen = torch.Generator().manual_seed(0)
    coarse = torch.randn(1, 16, 8, 10, generator=gen)
    logits = (F.interpolate(coarse, size=(48, 64), mode="bicubic", align_corners=False)[0] * 8).contiguous()
    assert len(logits.argmax(0).unique()) > 5
    for size in [(333, 701), (700, 334), (192, 256), (48, 64), (20, 30)]:
        expected = label_map(class_scores([logits], size, SCHEMA_16, SCHEMA_16)).numpy()
        got = node_label_map(logits, size, tmp_path)
        # float64 arithmetic in JavaScript, float32 in torch: only near-ties may differ
        assert (got == expected).mean() >= 0.9999, size
