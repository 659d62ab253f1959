// animeparse in the browser: transformers.js loads the model's onnx/ export and ONNX Runtime Web
// runs it; the picture is preprocessed and the label map made by the same rules as in Python
// (animeparse.inference), so both give the same parts:
//   1. pad to the picture's frame, repeating the edge pixels (animeparse.images.pad_to_frame),
//   2. resize to the frame's input size (animeparse.model.input_size) with PIL's bilinear filter
//      (8-bit fixed point, as Pillow),
//   3. rescale and normalise with the processor's mean and std,
//   4. the model on those pixels and on their mirror image (one batch of two), the mean of the two
//      logits, the second mirrored back (animeparse.inference.FlipAveraged),
//   5. logits upsampled bilinearly to the frame (align_corners=False, as PyTorch), the picture's
//      window of it, argmax.
import { AutoModel, Tensor, env } from "@huggingface/transformers";
import { frameWindow, labelMap } from "./labelmap.js";

const params = new URLSearchParams(location.search);
const MODEL = params.get("model") ?? "animeparse-b0/model_a"; // under ../models/
const DTYPE = params.get("dtype") ?? "fp32"; // fp32: onnx/model.onnx, q8: onnx/model_quantized.onnx
const MODELS_URL = new URL("../models/", location.href).href;
const SCHEMA_URL = new URL("../animeparse/schemas/anime16.json", location.href).href;

env.allowRemoteModels = false; // never the Hub, never a CDN
env.allowLocalModels = true;
env.localModelPath = MODELS_URL;
env.useBrowserCache = false;
const ORT_DIST = new URL("./node_modules/onnxruntime-web/dist/", location.href).href;
env.backends.onnx.wasm.wasmPaths = {
  mjs: ORT_DIST + "ort-wasm-simd-threaded.asyncify.mjs",
  wasm: ORT_DIST + "ort-wasm-simd-threaded.asyncify.wasm",
};

const status = document.getElementById("status");
function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

// ---------------------------------------------------------------- preprocessing (Pillow's resize)

const PRECISION_BITS = 32 - 8 - 2; // Pillow's Resample.c

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter.
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1.0 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterScale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      k[x] = t < 1 ? 1 - t : 0;
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

function clip8(v) {
  if (v >= 255 * (1 << PRECISION_BITS)) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}

// One pass of Pillow's separable resize over 3-channel uint8 data along one axis.
function resamplePass(src, width, height, outSize, horizontal) {
  const inSize = horizontal ? width : height;
  const { bounds, kk, ksize } = coefficients(inSize, outSize);
  const outW = horizontal ? outSize : width, outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH * 3);
  const init = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const i = horizontal ? x : y;
      const min = bounds[i * 2], n = bounds[i * 2 + 1];
      for (let c = 0; c < 3; c++) {
        let ss = init;
        for (let j = 0; j < n; j++) {
          const s = horizontal ? (y * width + min + j) * 3 + c : ((min + j) * width + x) * 3 + c;
          ss += src[s] * kk[i * ksize + j];
        }
        out[(y * outW + x) * 3 + c] = clip8(ss);
      }
    }
  }
  return out;
}

// Image.resize((outW, outH), Image.BILINEAR): horizontal pass, then vertical, each only if needed.
function pilResize(rgb, width, height, outW, outH) {
  let data = rgb;
  if (outW !== width) data = resamplePass(data, width, height, outW, true);
  if (outH !== height) data = resamplePass(data, outW, height, outH, false);
  return data;
}

// The picture centered on its frame, its edge pixels repeated outward.
function padToFrame(rgb, width, height) {
  const { frameH, frameW, top, left } = frameWindow(height, width);
  if (frameW === width && frameH === height) return rgb;
  const out = new Uint8Array(frameH * frameW * 3);
  for (let y = 0; y < frameH; y++) {
    const sy = Math.min(Math.max(y - top, 0), height - 1);
    for (let x = 0; x < frameW; x++) {
      const s = (sy * width + Math.min(Math.max(x - left, 0), width - 1)) * 3, d = (y * frameW + x) * 3;
      out[d] = rgb[s];
      out[d + 1] = rgb[s + 1];
      out[d + 2] = rgb[s + 2];
    }
  }
  return out;
}

// The model's input size for a frame: the processor's for a square (or taller) one; for a wider
// one the processor's height and a width in proportion, to a multiple of 32 (animeparse.model.input_size).
function inputSize(size, frameW, frameH) {
  if (frameW <= frameH) return [size.width, size.height];
  return [Math.max(size.width, roundHalfEven((frameW * size.height) / frameH / 32) * 32), size.height];
}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function pixelValues(rgb, width, height, processor) {
  const { frameH, frameW } = frameWindow(height, width);
  const frame = padToFrame(rgb, width, height);
  const [outW, outH] = inputSize(processor.size, frameW, frameH);
  const resized = processor.do_resize === false ? frame : pilResize(frame, frameW, frameH, outW, outH);
  const [h, w] = processor.do_resize === false ? [frameH, frameW] : [outH, outW];
  const scale = processor.do_rescale === false ? 1 : processor.rescale_factor ?? 1 / 255;
  const mean = processor.do_normalize === false ? [0, 0, 0] : processor.image_mean;
  const std = processor.do_normalize === false ? [1, 1, 1] : processor.image_std;
  // Two pictures: the frame, then its mirror image (each row reversed).
  const data = new Float32Array(2 * 3 * h * w), mirror = 3 * h * w;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const p = y * w + x, v = (resized[p * 3 + c] * scale - mean[c]) / std[c];
        data[c * h * w + p] = v;
        data[mirror + c * h * w + y * w + (w - 1 - x)] = v;
      }
  return new Tensor("float32", data, [2, 3, h, w]);
}

// The mean of a batch of two's logits (C, h, w each), the second mirrored back; float32 like PyTorch.
function flipAveraged(logits) {
  const [, C, h, w] = logits.dims, n = C * h * w, out = new Float32Array(n);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const p = (c * h + y) * w + x;
        out[p] = Math.fround(Math.fround(logits.data[p] + logits.data[n + (c * h + y) * w + (w - 1 - x)]) / 2);
      }
  return { data: out, dims: [1, C, h, w] };
}

// ---------------------------------------------------------------- drawing

function drawOverlay(rgb, labels, width, height, palette, opacity) {
  const canvas = document.getElementById("overlay");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const out = ctx.createImageData(width, height);
  for (let p = 0; p < width * height; p++) {
    const color = palette[labels[p]];
    for (let c = 0; c < 3; c++) out.data[p * 4 + c] = Math.round(rgb[p * 3 + c] * (1 - opacity) + color[c] * opacity);
    out.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
}

function drawLegend(names, palette, labels) {
  const present = new Set(labels);
  document.getElementById("legend").innerHTML = names
    .map((name, i) => (present.has(i) ? `<span><i style="background: rgb(${palette[i].join(",")})"></i>${name}</span>` : ""))
    .join("");
}

async function classPalette(names) {
  const schema = await (await fetch(SCHEMA_URL)).json();
  const known = Object.fromEntries(schema.classes.map((c) => [c.name, c.color]));
  // Classes the schema does not know get evenly spread hues.
  return names.map((name, i) => known[name] ?? hsl(i / names.length));
}

function hsl(hue) {
  const f = (n) => {
    const k = (n + hue * 12) % 12;
    return Math.round(255 * (0.5 - 0.5 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

// ---------------------------------------------------------------- the page

async function readRGB(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d");
  // Transparent pixels over white, as animeparse.images.load_rgb flattens them.
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, bitmap.width, bitmap.height);
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let p = 0; p < bitmap.width * bitmap.height; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = rgba[p * 4 + c];
  return { rgb, width: bitmap.width, height: bitmap.height };
}

async function main() {
  const processor = await (await fetch(`${MODELS_URL}${MODEL}/preprocessor_config.json`)).json();
  const model = await AutoModel.from_pretrained(MODEL, { dtype: DTYPE, device: "wasm" });
  const id2label = model.config.id2label;
  const names = Object.keys(id2label).sort((a, b) => a - b).map((i) => id2label[i]);
  const palette = await classPalette(names);
  setStatus("ready", `Model ${MODEL} (${DTYPE}) loaded: drop a picture.`);

  let last = null;
  const opacity = document.getElementById("opacity");
  const redraw = () => last && drawOverlay(last.rgb, last.labels, last.width, last.height, palette, Number(opacity.value));
  opacity.addEventListener("input", redraw);

  async function parse(file) {
    try {
      setStatus("parsing", `Parsing ${file.name}…`);
      const { rgb, width, height } = await readRGB(file);
      const started = performance.now();
      const { logits } = await model({ pixel_values: pixelValues(rgb, width, height, processor) });
      const mean = flipAveraged(logits);
      const labels = labelMap(mean.data, mean.dims, height, width);
      const ms = performance.now() - started;
      last = { rgb, labels, width, height };
      redraw();
      drawLegend(names, palette, labels);
      window.animeparse = { width, height, labels: Array.from(labels), names, ms };
      setStatus("done", `${file.name}: ${width}x${height}, parsed in ${Math.round(ms)} ms.`);
    } catch (error) {
      setStatus("error", `Cannot parse ${file.name}: ${error.message ?? error}`);
    }
  }

  document.getElementById("file").addEventListener("change", (e) => e.target.files[0] && parse(e.target.files[0]));
  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) parse(e.dataTransfer.files[0]);
  });
}

main().catch((error) => setStatus("error", `Cannot load model ${MODEL}: ${error.message ?? error}`));
