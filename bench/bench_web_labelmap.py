"""The browser page's label map (web/labelmap.js, with its shortcut for pixels whose four logit
corners agree) against the dense loop it replaced, run by node on the default model's logits.

    python bench/bench_web_labelmap.py PICTURE [PICTURE ...] [--rounds 15]

For each picture, model A's (C, h, w) logits go to node, which times both functions in
interleaved rounds on the picture's own size and says how many pixels differ. Quote the ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from animeparse.images import load_rgb
from animeparse.inference import DEFAULT_MODEL_A, branch_logits, load_branches

ROOT = Path(__file__).resolve().parent.parent

NODE_BENCH = """
import { readFileSync } from "node:fs";
import { frameWindow, labelMap, resizeAxis } from "%s";

// The page's label map before the shortcut: every class interpolated at every pixel.
function denseLabelMap(data, [, C, h, w], height, width) {
  const { frameH, frameW, top, left } = frameWindow(height, width);
  const ys = resizeAxis(frameH, h, top, height), xs = resizeAxis(frameW, w, left, width);
  const labels = new Uint8Array(height * width);
  const best = new Float32Array(height * width).fill(-Infinity);
  for (let c = 0; c < C; c++) {
    const base = c * h * w;
    for (let y = 0; y < height; y++) {
      const r0 = base + ys.i0[y] * w, r1 = base + ys.i1[y] * w, fy = ys.f[y];
      for (let x = 0; x < width; x++) {
        const a = xs.i0[x], b = xs.i1[x], fx = xs.f[x];
        const v = (data[r0 + a] * (1 - fx) + data[r0 + b] * fx) * (1 - fy) + (data[r1 + a] * (1 - fx) + data[r1 + b] * fx) * fy;
        const p = y * width + x;
        if (v > best[p]) { best[p] = v; labels[p] = c; }
      }
    }
  }
  return labels;
}

const [path, c, h, w, height, width, rounds] = process.argv.slice(1).map((v, i) => (i ? +v : v));
const data = new Float32Array(readFileSync(path).buffer.slice(0));
const dims = [1, c, h, w];
const times = { dense: [], shortcut: [] };
let dense, fast;
for (let r = 0; r < rounds; r++) {
  let t = performance.now(); dense = denseLabelMap(data, dims, height, width); times.dense.push(performance.now() - t);
  t = performance.now(); fast = labelMap(data, dims, height, width); times.shortcut.push(performance.now() - t);
}
const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
let differ = 0;
for (let p = 0; p < dense.length; p++) differ += dense[p] !== fast[p];
console.log(JSON.stringify({ dense: median(times.dense), shortcut: median(times.shortcut), differ }));
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pictures", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    branch = load_branches({"A": DEFAULT_MODEL_A})["A"]
    script = NODE_BENCH % (ROOT / "web" / "labelmap.js").as_uri()
    print(f"{'picture':32} {'size':>10} {'dense ms':>9} {'shortcut ms':>12} {'ratio':>6} {'pixels differ':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.pictures:
            image = load_rgb(path, name=str(path))
            logits = branch_logits(branch, image)
            logits_path = Path(tmp) / "logits.f32"
            logits_path.write_bytes(logits.numpy().astype("<f4").tobytes())
            out = subprocess.run(["node", "--input-type=module", "-e", script, str(logits_path), *map(str, logits.shape),
                                  str(image.height), str(image.width), str(args.rounds)], check=True, capture_output=True, text=True)
            r = json.loads(out.stdout)
            print(f"{path.name[:32]:32} {image.width:>4}x{image.height:<5} {r['dense']:9.1f} {r['shortcut']:12.1f} "
                  f"{r['dense'] / r['shortcut']:5.1f}x {r['differ']:>14}")


if __name__ == "__main__":
    main()
