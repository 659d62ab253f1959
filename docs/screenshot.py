"""Take docs/app_screenshot.png: start the app, parse an example in chromium, save the page.

    python docs/screenshot.py [--model-a ID_OR_DIR --model-b ID_OR_DIR] [--image examples/witch_bust.jpg]

Needs Debian's chromium and the playwright package (as the browser tests do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
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
    args = parser.parse_args()
    if not args.image.is_file():
        parser.error(f"--image {args.image}: no such file")
    if shutil.which("chromium") is None:
        parser.error("chromium is not installed (apt-get install chromium)")
    return args


def main() -> None:
    args = parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    for option, value in (("--model-a", args.model_a), ("--model-b", args.model_b)):
        command += [option, value] if value else []
    app = subprocess.Popen(command, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
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
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
