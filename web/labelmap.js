// The label map of a model's logits: the Python rule of animeparse.inference, in the browser.
// Plain arrays in, so that node can run it too (the benchmark and tests import it).

// How far a class must lead the runner-up at a logit-grid point (relative to 1 + |its logit|) to
// be trusted without interpolating: far above float rounding, below any difference that matters.
const SAFE_MARGIN = 1e-4;

// For each output index of a bilinear resize from inSize to outSize (align_corners=False): its two
// source indices (the second clamped to the last) and the second one's weight.
export function resizeAxis(outSize, inSize) {
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), f = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    i0[o] = Math.floor(src);
    i1[o] = Math.min(i0[o] + 1, inSize - 1);
    f[o] = src - i0[o];
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

// argmax over classes of the logits upsampled bilinearly to (height, width), as PyTorch's
// F.interpolate(..., mode="bilinear", align_corners=False): the Python label-map rule.
// Every upsampled score vector is a convex combination of the four logit vectors around it, so a
// pixel whose four corners have the same class leading all others (by a margin far above float
// rounding) takes that class without interpolating; only pixels near boundaries (about a third)
// interpolate all classes.
export function labelMap(data, dims, height, width) {
  const [, C, h, w] = dims;
  const ys = resizeAxis(height, h), xs = resizeAxis(width, w);
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
