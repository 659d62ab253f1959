// The label map of a model's logits: the Python rule of animeparse.inference, in the browser.
// Plain arrays in, so that node can run it too (the benchmark and tests import it).

// How far a class must lead the runner-up at a logit-grid point (relative to 1 + |its logit|) to
// be trusted without interpolating: far above float rounding, below any difference that matters.
const SAFE_MARGIN = 1e-4;

// The widest frame (width / height) a picture is parsed in (animeparse.images.MAX_ASPECT).
export const MAX_ASPECT = 2;

// Where a height x width picture sits, centered, on the frame it is padded to before the model
// sees it: a square for a tall picture, the picture itself up to 2:1, a wider one padded to 2:1
// (animeparse.images.frame_window).
export function frameWindow(height, width) {
  const frameH = Math.max(height, Math.ceil(width / MAX_ASPECT));
  const frameW = Math.max(width, frameH);
  return { frameH, frameW, top: Math.floor((frameH - height) / 2), left: Math.floor((frameW - width) / 2) };
}

// For the output indices first .. first + count - 1 of a bilinear resize from inSize to outSize
// (align_corners=False): their two source indices (the second clamped to the last) and the second
// one's weight.
export function resizeAxis(outSize, inSize, first = 0, count = outSize) {
  const scale = inSize / outSize;
  const i0 = new Int32Array(count), i1 = new Int32Array(count), f = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const src = Math.max((first + k + 0.5) * scale - 0.5, 0);
    i0[k] = Math.floor(src);
    i1[k] = Math.min(i0[k] + 1, inSize - 1);
    f[k] = src - i0[k];
  }
  return { i0, i1, f };
}

// Each logit-grid point's leading class, or -1 where the runner-up is within the margin.
function leaders(data, C, n) {
  const lead = new Int16Array(n);
  for (let p = 0; p < n; p++) {
    let best = data[p], second = -Infinity, arg = 0;
    for (let c = 1; c < C; c++) {
      const v = data[c * n + p];
      if (v > best) { second = best; best = v; arg = c; } else if (v > second) second = v;
    }
    lead[p] = best - second > SAFE_MARGIN * (1 + Math.abs(best)) ? arg : -1;
  }
  return lead;
}

// argmax over classes of the logits (of the picture's frame) upsampled bilinearly to that frame,
// as PyTorch's F.interpolate(..., mode="bilinear", align_corners=False), in the
// picture's (height, width) window: the Python label-map rule.
// Every upsampled score vector is a convex combination of the four logit vectors around it, so a
// pixel whose four corners have the same class leading all others (by a margin far above float
// rounding) takes that class without interpolating; only pixels near boundaries (about a third)
// interpolate all classes.
export function labelMap(data, dims, height, width) {
  const [, C, h, w] = dims;
  const { frameH, frameW, top, left } = frameWindow(height, width);
  const ys = resizeAxis(frameH, h, top, height), xs = resizeAxis(frameW, w, left, width);
  const lead = leaders(data, C, h * w);
  const labels = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y] * w, r1 = ys.i1[y] * w, fy = ys.f[y];
    for (let x = 0; x < width; x++) {
      const a = xs.i0[x], b = xs.i1[x], fx = xs.f[x], p = y * width + x;
      const l = lead[r0 + a];
      if (l >= 0 && l === lead[r0 + b] && l === lead[r1 + a] && l === lead[r1 + b]) { labels[p] = l; continue; }
      let best = -Infinity;
      for (let c = 0, base = 0; c < C; c++, base += h * w) {
        const top = data[base + r0 + a] * (1 - fx) + data[base + r0 + b] * fx;
        const bottom = data[base + r1 + a] * (1 - fx) + data[base + r1 + b] * fx;
        const v = top * (1 - fy) + bottom * fy;
        if (v > best) { best = v; labels[p] = c; } // first maximum wins, as argmax
      }
    }
  }
  return labels;
}
