"""Take docs/app_screenshot.png: start the app, parse an example in chromium, save the page.

    python docs/screenshot.py [--model-a ID_OR_DIR --model-b ID_OR_DIR] [--image examples/witch_bust.jpg]
    python docs/screenshot.py --correct --out docs/correct_screenshot.png   # the correct view, mid-correction

With --correct it switches to the correct view, paints headwear over the witch hat's crown (the
default models call much of it hair), saves the row (to a temporary repo) and shows the page
with the save's message.

Needs Debian's chromium and the playwright package (as the browser tests do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-a", default=None, help="branch A for the app (default: the app's own default)")
    parser.add_argument("--model-b", default=None, help="branch B for the app (default: the app's own default)")
    parser.add_argument("--image", type=Path, default=ROOT / "examples" / "witch_bust.jpg", help="the image to parse")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "app_screenshot.png", help="where to save the PNG")
    parser.add_argument("--correct", action="store_true", help="show the correct view after a stroke and a save")
    args = parser.parse_args()
    if not args.image.is_file():
        parser.error(f"--image {args.image}: no such file")
    if shutil.which("chromium") is None:
        parser.error("chromium is not installed (apt-get install chromium)")
    return args


def correct(page) -> None:
    """Switch to the correct view, paint headwear over the hat's crown, save the row."""
    page.get_by_role("radio", name="correct").check()
    page.get_by_text("Correct and save as training data").click()
    page.locator("#paint-class input").click()
    page.get_by_role("option", name="headwear", exact=True).click()
    page.wait_for_timeout(1500)  # the editor takes the new brush color
    canvas = page.locator("#editor canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for fy, x0, x1 in ((0.13, 0.39, 0.41), (0.21, 0.36, 0.41), (0.29, 0.32, 0.42)):  # the crown, for witch_bust.jpg
        y = box["y"] + box["height"] * fy
        page.mouse.move(box["x"] + box["width"] * x0, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * x1, y, steps=10)
        page.mouse.up()
    page.locator("#save").click()
    page.get_by_text("Saved:").first.wait_for()
    page.wait_for_timeout(500)
    page.evaluate("window.scrollTo(0, 0)")


def main() -> None:
    args = parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    for option, value in (("--model-a", args.model_a), ("--model-b", args.model_b)):
        command += [option, value] if value else []
    repo = Path(tempfile.mkdtemp(prefix="screenshot_")) / "my-corrections"
    app = subprocess.Popen(command, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "ANIMEPARSE_SAVE_REPO": str(repo)})
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(180):
            if app.poll() is not None:
                sys.exit(f"the app exited with status {app.returncode}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.locator("#input input[type=file]").set_input_files(args.image)
            page.locator('a[download$="_layers.zip"]').wait_for(timeout=60_000)
            page.wait_for_timeout(500)  # let the images finish painting
            if args.correct:
                correct(page)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
