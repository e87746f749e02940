// The image pipeline of `translate run` (translate/run/pipeline.py and translate/run/holes.py),
// ported rule for rule so that a JavaScript app gets the same pixels as the Python runtime:
//
//   pixels (H, W, 1|3|4) -> rgb in [0, 1] -> (x - mean) / std [-> BT.601 luma] [+ mask channel]
//     -> reflect-pad bottom/right to the card's size multiple and to at least MIN_SIDE px
//        [or cut into overlapping tiles of that padded image]
//     -> backend(NCHW batch) -> [blend tiles with blendWindow weights] -> crop
//     -> y * std + mean -> clip to [0, 1] -> 8 / 16-bit; alpha kept (bicubic when scaled)
//
// No onnxruntime here: a backend is any async function (Float32Array NCHW, dims) -> {data, dims}.
// Arrays are HWC Float32Array planes; shapes are written (H, W, C) as in the Python docstrings.

/** The smallest side a network is shown (pipeline.MIN_SIDE). */
export const MIN_SIDE = 16;
/** The most tiles one image may be cut into (pipeline.MAX_TILES). */
export const MAX_TILES = 8192;

/** One-line error about the caller's input or options (like Python's TranslateError). */
export class TranslateError extends Error {
  constructor(message) { super(message); this.name = 'TranslateError'; }
}

/** The backend's output does not fit the card (pipeline.BackendError). */
export class BackendError extends TranslateError {
  constructor(message) { super(message); this.name = 'BackendError'; }
}

/** Length ``length`` padded up to a multiple of ``multiple``, at least ``minSide`` (pipeline._padded_length). */
export function paddedLength(length, multiple, minSide = 1) {
  return Math.ceil(Math.max(length, minSide) / multiple) * multiple;
}

/** The source index numpy's ``np.pad(mode="reflect")`` copies to index ``i`` of an axis of ``n``
 * (negative or beyond the end; reflection repeats, so a pad larger than the axis works too). */
export function reflectIndex(i, n) {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const j = ((i % period) + period) % period;
  return j < n ? j : period - j;
}

/** Start offsets of tiles of ``tile`` covering [0, length) with stride ``tile - overlap``; the last
 * tile ends at ``length`` (pipeline.tile_starts). */
export function tileStarts(length, tile, overlap) {
  if (length <= tile) return [0];
  const starts = [];
  for (let s = 0; s < length - tile; s += tile - overlap) starts.push(s);
  starts.push(length - tile);
  return starts;
}

/** The (h, w) of the tiles of an image padded to (height, width) (pipeline._tile_shape). */
export function tileShape(height, width, tile, multiple) {
  if (!tile) return [height, width];
  const side = Math.ceil(tile / multiple) * multiple;
  return [Math.min(side, height), Math.min(side, width)];
}

/** How many tiles an image of (H, W) ``size`` is cut into (pipeline.tile_count). */
export function tileCount(size, tile, overlap, multiple = 1, smallest = MIN_SIDE) {
  const [height, width] = size.map((n) => paddedLength(n, multiple, smallest));
  const [th, tw] = tileShape(height, width, tile, multiple);
  return tileStarts(height, th, overlap).length * tileStarts(width, tw, overlap).length;
}

/** Throw TranslateError unless ``tile`` (0 = none) and ``overlap`` suit a network of size multiple
 * ``multiple`` (pipeline.check_tiling: the same rules and limits). */
export function checkTiling(tile, overlap, multiple = 1, smallest = MIN_SIDE, size = null) {
  if (!Number.isInteger(tile) || !Number.isInteger(overlap) || tile < 0 || overlap < 0) {
    throw new TranslateError(`tile (${tile}) and tileOverlap (${overlap}) must be integers >= 0`);
  }
  if (!tile) return;
  const least = Math.max(multiple, smallest);
  if (tile < least) throw new TranslateError(`tile ${tile} is too small for this model; use at least ${least} (or 0 for no tiles)`);
  if (overlap >= tile) throw new TranslateError(`tileOverlap (${overlap}) must be smaller than tile (${tile})`);
  if (2 * overlap > tile) {
    throw new TranslateError(`tileOverlap ${overlap} is more than half of tile ${tile}: use tileOverlap ${Math.floor(tile / 2)} or less`);
  }
  if (size) {
    const count = tileCount(size, tile, overlap, multiple, smallest);
    if (count > MAX_TILES) {
      throw new TranslateError(`tile ${tile}: a ${size[1]}x${size[0]} image would take ${count} tiles, more than ${MAX_TILES}; use a larger tile`);
    }
  }
}

/** 1-D blend weights (size,) of a tile (pipeline.blend_window): the outer quarter of the band facing
 * another tile is 0, the middle half a raised cosine, the rest 1; the band is at most half the tile.
 * Computed as numpy does, in float32. */
export function blendWindow(size, overlap, atStart, atEnd) {
  const window = new Float32Array(size).fill(1);
  const band = Math.min(overlap, Math.floor(size / 2));
  if (band > 0) {
    const f = Math.fround;
    const rise = new Float32Array(band);
    for (let k = 0; k < band; k++) {
      const t = Math.min(1, Math.max(0, f(f(f(f(k) + f(0.5)) - f(band / 4)) / f(band / 2))));
      const s = f(Math.sin(f(f(0.5 * Math.PI) * t)));
      rise[k] = f(s * s);
    }
    if (atStart) window.set(rise, 0);
    if (atEnd) for (let k = 0; k < band; k++) window[size - band + k] = rise[band - 1 - k];
  }
  return window;
}

/** OpenCV's cv2.resize(..., INTER_CUBIC) of a float (H, W) plane to (outH, outW): half-pixel
 * centres, A = -0.75, edge pixels replicated. The alpha plane of a scaled output. */
export function resizeBicubic(plane, height, width, outH, outW) {
  const A = -0.75;
  const weights = (x) => {
    const c0 = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
    const c1 = ((A + 2) * x - (A + 3)) * x * x + 1;
    const c2 = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
    return [c0, c1, c2, 1 - c0 - c1 - c2];
  };
  const taps = (outLen, inLen) => {
    const scale = inLen / outLen;
    const result = [];
    for (let d = 0; d < outLen; d++) {
      const fx = (d + 0.5) * scale - 0.5;
      const sx = Math.floor(fx);
      const w = weights(Math.fround(fx - sx)).map(Math.fround);
      const idx = [-1, 0, 1, 2].map((k) => Math.min(Math.max(sx + k, 0), inLen - 1));
      result.push([idx, w]);
    }
    return result;
  };
  const xs = taps(outW, width);
  const ys = taps(outH, height);
  const rows = new Float32Array(height * outW);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outW; x++) {
      const [idx, w] = xs[x];
      let v = 0;
      for (let k = 0; k < 4; k++) v += plane[y * width + idx[k]] * w[k];
      rows[y * outW + x] = v;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const [idx, w] = ys[y];
    for (let x = 0; x < outW; x++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += rows[idx[k] * outW + x] * w[k];
      out[y * outW + x] = v;
    }
  }
  return out;
}

/** Decode a pixel buffer ({data, width, height, channels?} or an ImageData) into
 * {rgb (H, W, 3) Float32Array in [0, 1], alpha (H, W) or null, gray, peak}. Uint16Array data is
 * 16-bit (peak 65535), anything else 8-bit. */
export function decodePixels(image) {
  const { data, width, height } = image ?? {};
  if (!data || !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new TranslateError('image must be {data, width, height[, channels]} (or an ImageData) with a positive size');
  }
  const channels = image.channels ?? data.length / (width * height);
  if (![1, 2, 3, 4].includes(channels) || data.length !== width * height * channels) {
    throw new TranslateError(`image data has ${data.length} values for ${width}x${height} px: expected 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels per pixel`);
  }
  const peak = data instanceof Uint16Array ? 65535 : 255;
  const n = width * height;
  const gray = channels <= 2;
  const rgb = new Float32Array(n * 3);
  const alpha = channels === 2 || channels === 4 ? new Float32Array(n) : null;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.fround(data[p * channels + (gray ? 0 : c)] / peak);
    if (alpha) alpha[p] = Math.fround(data[p * channels + channels - 1] / peak);
  }
  return { rgb, alpha, gray, peak, height, width };
}

/** BT.601 luma of RGB in [0, 1] (cv2.COLOR_RGB2GRAY on float32: 0.299 R + 0.587 G + 0.114 B). */
export function luma(r, g, b) {
  const f = Math.fround;
  return f(f(f(f(0.299) * r) + f(f(0.587) * g)) + f(f(0.114) * b));
}

/** Float [0, 1] -> rounded integers as translate's to_uint: floor(clip(v) * peak + 0.5). */
export function toUint(v, peak) {
  return Math.floor(Math.min(1, Math.max(0, v)) * peak + 0.5);
}

/** The (H, W, C) network input of an (H, W, 3) rgb plane (pipeline._network_input). */
export function networkInput(rgb, height, width, mean, std, inChannels, extra = null) {
  const f = Math.fround;
  const c = inChannels + (extra ? 1 : 0);
  const x = new Float32Array(height * width * c);
  const m = f(mean);
  const s = f(std);
  for (let p = 0; p < height * width; p++) {
    if (inChannels === 1) {
      x[p * c] = f(f(luma(rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]) - m) / s);
    } else {
      for (let k = 0; k < 3; k++) x[p * c + k] = f(f(rgb[p * 3 + k] - m) / s);
    }
    if (extra) x[p * c + inChannels] = extra[p];
  }
  return x;
}

/** Reflect-pad an (H, W, C) plane to (outH, outW) at the bottom/right (or crop it at any offset
 * with reflection beyond the edges: ``top``/``left`` may be negative), as numpy's reflect pad. */
export function reflectCrop(x, height, width, channels, top, left, outH, outW) {
  const out = new Float32Array(outH * outW * channels);
  for (let y = 0; y < outH; y++) {
    const sy = reflectIndex(top + y, height);
    for (let xx = 0; xx < outW; xx++) {
      const sx = reflectIndex(left + xx, width);
      const from = (sy * width + sx) * channels;
      const to = (y * outW + xx) * channels;
      for (let k = 0; k < channels; k++) out[to + k] = x[from + k];
    }
  }
  return out;
}

function abortError(signal) {
  if (signal.reason !== undefined) return signal.reason;
  const e = new Error('translation aborted');
  e.name = 'AbortError';
  return e;
}

/** Run the backend on the (H, W, C) plane ``x`` (already padded), untiled or in tiles; returns
 * {y: (H*s, W*s, Cout) Float32Array, channels: Cout}. ``progress`` is called after each call. */
async function runTiles(x, height, width, channels, backend, { scale, tile, tileOverlap, multiple, batchSize, signal, progress }) {
  const [th, tw] = tileShape(height, width, tile, multiple);
  const boxes = [];
  for (const top of tileStarts(height, th, tileOverlap)) for (const left of tileStarts(width, tw, tileOverlap)) boxes.push([top, left]);
  const calls = Math.ceil(boxes.length / batchSize);
  let out = null;
  let weight = null;
  let cout = 0;
  const outH = height * scale;
  const outW = width * scale;
  for (let first = 0, call = 0; first < boxes.length; first += batchSize, call++) {
    if (signal?.aborted) throw abortError(signal);
    const chunk = boxes.slice(first, first + batchSize);
    const batch = new Float32Array(chunk.length * channels * th * tw);
    chunk.forEach(([top, left], b) => {
      // HWC tile -> CHW
      for (let k = 0; k < channels; k++) {
        const base = (b * channels + k) * th * tw;
        for (let yy = 0; yy < th; yy++) {
          const row = ((top + yy) * width + left) * channels + k;
          for (let xx = 0; xx < tw; xx++) batch[base + yy * tw + xx] = x[row + xx * channels];
        }
      }
    });
    const result = await backend(batch, [chunk.length, channels, th, tw]);
    if (signal?.aborted) throw abortError(signal);
    const [rb, rc, rh, rw] = result.dims;
    if (result.dims.length !== 4 || rb !== chunk.length || rh !== th * scale || rw !== tw * scale) {
      throw new BackendError(`backend returned shape (${result.dims}) for input (${chunk.length}, ${channels}, ${th}, ${tw}); expected (${chunk.length}, C_out, ${th * scale}, ${tw * scale}) (is the card's scale ${scale} right?)`);
    }
    if (rc !== 1 && rc !== 3) throw new BackendError(`backend returned ${rc} channels; expected 1 or 3`);
    const data = result.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new BackendError('the model produced NaN or infinite values, so nothing was written');
    }
    if (!out) {
      cout = rc;
      out = new Float32Array(outH * outW * cout);
      weight = boxes.length > 1 ? new Float32Array(outH * outW) : null;
    }
    const oh = th * scale;
    const ow = tw * scale;
    chunk.forEach(([top, left], b) => {
      if (!weight) { // one tile: the output itself
        for (let k = 0; k < cout; k++) {
          const base = (b * cout + k) * oh * ow;
          for (let i = 0; i < oh * ow; i++) out[i * cout + k] = data[base + i];
        }
        return;
      }
      const wy = blendWindow(oh, tileOverlap * scale, top > 0, top + th < height);
      const wx = blendWindow(ow, tileOverlap * scale, left > 0, left + tw < width);
      for (let yy = 0; yy < oh; yy++) {
        for (let xx = 0; xx < ow; xx++) {
          const w = Math.fround(wy[yy] * wx[xx]);
          const o = (top * scale + yy) * outW + left * scale + xx;
          for (let k = 0; k < cout; k++) out[o * cout + k] += data[(b * cout + k) * oh * ow + yy * ow + xx] * w;
          weight[o] += w;
        }
      }
    });
    progress?.(call + 1, calls);
  }
  if (weight) for (let o = 0; o < outH * outW; o++) for (let k = 0; k < cout; k++) out[o * cout + k] /= weight[o];
  return { y: out, channels: cout };
}

/** Translate one (H, W, 3) rgb plane in [0, 1] (pipeline.run_backend): returns the
 * (H*s, W*s, 3) Float32Array in [0, 1]. ``extra`` (H, W) is appended as a raw channel (a mask). */
export async function runBackend(rgb, height, width, backend, options) {
  const { mean, std, multiple, scale = 1, inChannels = 3, tile = 0, tileOverlap = 32, batchSize = 1,
    smallest = MIN_SIDE, extra = null, signal, progress } = options;
  if (tile) checkTiling(tile, tileOverlap, multiple, smallest);
  const x0 = networkInput(rgb, height, width, mean, std, inChannels, extra);
  const channels = inChannels + (extra ? 1 : 0);
  const ph = paddedLength(height, multiple, smallest);
  const pw = paddedLength(width, multiple, smallest);
  const x = ph === height && pw === width ? x0 : reflectCrop(x0, height, width, channels, 0, 0, ph, pw);
  const { y, channels: cout } = await runTiles(x, ph, pw, channels, backend,
    { scale, tile, tileOverlap, multiple, batchSize, signal, progress });
  // crop, map back, clip, gray -> RGB
  const outH = height * scale;
  const outW = width * scale;
  const rowW = pw * scale;
  const out = new Float32Array(outH * outW * 3);
  const f = Math.fround;
  for (let yy = 0; yy < outH; yy++) {
    for (let xx = 0; xx < outW; xx++) {
      const src = (yy * rowW + xx) * cout;
      const dst = (yy * outW + xx) * 3;
      for (let k = 0; k < 3; k++) {
        const v = f(f(y[src + (cout === 1 ? 0 : k)] * f(std)) + f(mean));
        out[dst + k] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return out;
}

/** Square context windows [top, left, side] covering each hole of an (H, W) 0/1 mask
 * (holes.hole_windows: holes closer than ``merge`` px share a window; side = max(window, 2 x the
 * hole's longest side); shifted inside the image where it is large enough; sorted). */
export function holeWindows(hole, height, width, window, merge = 8) {
  // dilate with a (2 merge + 1)^2 square (separable max), then 8-connected components
  const grown = new Uint8Array(height * width);
  const rowMax = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let d = Math.max(0, x - merge); d <= Math.min(width - 1, x + merge) && !v; d++) v = hole[y * width + d] ? 1 : 0;
      rowMax[y * width + x] = v;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let d = Math.max(0, y - merge); d <= Math.min(height - 1, y + merge) && !v; d++) v = rowMax[d * width + x];
      grown[y * width + x] = v;
    }
  }
  const label = new Int32Array(height * width).fill(-1);
  const boxes = [];
  for (let start = 0; start < height * width; start++) {
    if (!grown[start] || label[start] >= 0) continue;
    let [y0, y1, x0, x1] = [height, -1, width, -1];
    const stack = [start];
    label[start] = boxes.length;
    while (stack.length) {
      const p = stack.pop();
      const py = Math.floor(p / width);
      const px = p % width;
      y0 = Math.min(y0, py); y1 = Math.max(y1, py); x0 = Math.min(x0, px); x1 = Math.max(x1, px);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const ny = py + dy;
          const nx = px + dx;
          if (ny < 0 || nx < 0 || ny >= height || nx >= width) continue;
          const q = ny * width + nx;
          if (grown[q] && label[q] < 0) { label[q] = boxes.length; stack.push(q); }
        }
      }
    }
    boxes.push([y0, y1 + 1, x0, x1 + 1]);
  }
  const windows = [];
  for (const [by0, by1, bx0, bx1] of boxes) {
    // the bounding box of the hole pixels inside the component's box
    let [y0, y1, x0, x1] = [Infinity, -1, Infinity, -1];
    for (let y = by0; y < by1; y++) {
      for (let x = bx0; x < bx1; x++) {
        if (hole[y * width + x]) { y0 = Math.min(y0, y); y1 = Math.max(y1, y + 1); x0 = Math.min(x0, x); x1 = Math.max(x1, x + 1); }
      }
    }
    if (y1 < 0) continue;
    const side = Math.max(window, 2 * Math.max(y1 - y0, x1 - x0));
    let top = Math.floor((y0 + y1 - side) / 2);
    let left = Math.floor((x0 + x1 - side) / 2);
    if (side <= height) top = Math.min(Math.max(top, 0), height - side);
    if (side <= width) left = Math.min(Math.max(left, 0), width - side);
    windows.push([top, left, side]);
  }
  return windows.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
}

/** Fill the holes of an (H, W, 3) rgb plane (holes.fill_holes) with a backend taking image + mask
 * at ``window`` px; known pixels are kept exactly, only hole pixels are replaced. Holes whose
 * window must be resized (a hole longer than window / 2) are refused: that resize is OpenCV's. */
export async function fillHoles(rgb, hole, height, width, window, backend, { mean, std, signal, progress }) {
  const out = Float32Array.from(rgb);
  const todo = Uint8Array.from(hole, (v) => (v ? 1 : 0));
  const windows = holeWindows(todo, height, width, window);
  for (const [index, [top, left, side]] of windows.entries()) {
    if (side !== window) {
      throw new TranslateError(`a hole of this mask is longer than ${window / 2} px (it needs a ${side} px window, resized to ${window}); the JavaScript runtime fills holes of up to ${window / 2} px: use \`translate run\` for larger ones`);
    }
    const crop = reflectCrop(out, height, width, 3, top, left, side, side).map((v) => Math.min(1, Math.max(0, v)));
    const cropHole = Float32Array.from(reflectCrop(Float32Array.from(todo), height, width, 1, top, left, side, side));
    const filled = await runBackend(crop, side, side, backend, { mean, std, multiple: 1, extra: cropHole, signal });
    for (let y = Math.max(top, 0); y < Math.min(top + side, height); y++) {
      for (let x = Math.max(left, 0); x < Math.min(left + side, width); x++) {
        const p = y * width + x;
        if (!todo[p]) continue;
        const q = ((y - top) * side + (x - left)) * 3;
        for (let k = 0; k < 3; k++) out[p * 3 + k] = filled[q + k];
      }
    }
    for (let y = Math.max(top, 0); y < Math.min(top + side, height); y++) {
      for (let x = Math.max(left, 0); x < Math.min(left + side, width); x++) todo[y * width + x] = 0;
    }
    progress?.(index + 1, windows.length);
  }
  return out;
}

/** A mask ({data, width, height[, channels]} or ImageData, white = hole) as an (H, W) 0/1 array:
 * luma > 0.5 of its RGB (as translate reads mask files). */
export function maskHole(mask, height, width) {
  const m = decodePixels(mask);
  if (m.height !== height || m.width !== width) {
    throw new TranslateError(`the mask is ${m.width}x${m.height} but the image is ${width}x${height}; give a mask of the image's size (white = hole)`);
  }
  const hole = new Uint8Array(height * width);
  for (let p = 0; p < height * width; p++) {
    const luma = 0.299 * m.rgb[p * 3] + 0.587 * m.rgb[p * 3 + 1] + 0.114 * m.rgb[p * 3 + 2];
    hole[p] = luma > 0.5 ? 1 : 0;
  }
  return hole;
}
