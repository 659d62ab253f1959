"""Serve the browser page and what it loads, on this machine only.

    python -m animeparse.export models/animeparse-b0/model_a   # once: writes its onnx/ folder
    npm install --prefix web                                   # once: transformers.js, onnxruntime-web
    python web/serve.py [--port 8000]                          # then open http://127.0.0.1:8000/web/

The page needs the repository's ``web/`` (with ``node_modules``), ``models/`` and
``animeparse/schemas/`` under one root; module scripts and WebAssembly need their MIME types,
which Python's own table may lack.
"""

from __future__ import annotations

import argparse
import functools
import http.server
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MIME_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".onnx": "application/octet-stream"}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def log_message(self, format, *args):  # quiet: one line per file would drown the terminal
        pass


def server(root: str | Path = ROOT, port: int = 8000, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """A threading HTTP server for ``root`` (not started: call ``serve_forever``)."""
    return http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(root)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the animeparse browser page on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8000, help="TCP port")
    parser.add_argument("--root", default=str(ROOT), help="folder holding web/, models/ and animeparse/schemas/")
    args = parser.parse_args()
    httpd = server(args.root, args.port)
    print(f"open http://127.0.0.1:{args.port}/web/ (Ctrl-C stops)")
    httpd.serve_forever()


if __name__ == "__main__":
    main()
