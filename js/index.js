// @translate-gan/runtime: run a `translate export` ONNX file in Node (onnxruntime-node) or in a
// browser (onnxruntime-web, WebGPU or WASM) with the pipeline of `translate run` (./pipeline.js).
//
//   import { loadModel } from '@translate-gan/runtime';
//   const model = await loadModel('zebra.onnx');                // card read from the file
//   const out = await model.run({ data, width, height, channels: 4 }, { tile: 256, onProgress, signal });
//   model.backend   // 'cpu' (onnxruntime-node), 'webgpu' or 'wasm': what actually runs it

import { readCard } from './card.js';
import {
  MIN_SIDE, TranslateError, checkTiling, decodePixels, fillHoles, luma, maskHole, resizeBicubic, runBackend, toUint,
} from './pipeline.js';

export { readCard, onnxMetadataProps, METADATA_KEY } from './card.js';
export {
  MIN_SIDE, MAX_TILES, BackendError, TranslateError, blendWindow, checkTiling, paddedLength, reflectIndex,
  resizeBicubic, tileCount, tileStarts,
} from './pipeline.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** The onnxruntime module for this environment: onnxruntime-node in Node, onnxruntime-web elsewhere. */
export async function defaultOrt() {
  const name = isNode ? 'onnxruntime-node' : 'onnxruntime-web';
  try {
    const module = await import(name);
    return module.default ?? module;
  } catch (e) {
    throw new TranslateError(`cannot import ${name} (${e.message}); install it (npm install ${name}) or pass { ort } to loadModel`);
  }
}

async function readBytes(source) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source === 'string' || source instanceof URL) {
    const text = String(source);
    if (isNode && !/^(https?|data|blob):/.test(text)) {
      const { readFile } = await import('node:fs/promises');
      const { fileURLToPath } = await import('node:url');
      try {
        return new Uint8Array(await readFile(text.startsWith('file:') ? fileURLToPath(text) : text));
      } catch (e) {
        throw new TranslateError(`${text}: cannot read the model (${e.code ?? e.message})`);
      }
    }
    const response = await fetch(text);
    if (!response.ok) throw new TranslateError(`${text}: cannot fetch the model (HTTP ${response.status})`);
    return new Uint8Array(await response.arrayBuffer());
  }
  throw new TranslateError('model must be a path, URL, ArrayBuffer or Uint8Array of a .onnx file');
}

function isOrtNode(ort) {
  return !!ort.env?.versions?.node;
}

async function webgpuAdapter() {
  if (typeof navigator === 'undefined' || !navigator.gpu) return 'this browser has no WebGPU (navigator.gpu)';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? null : 'navigator.gpu.requestAdapter() found no adapter';
  } catch (e) {
    return `navigator.gpu.requestAdapter() failed: ${e.message}`;
  }
}

async function createSession(ort, bytes, backend, sessionOptions) {
  const options = { graphOptimizationLevel: 'all', ...sessionOptions, executionProviders: [backend] };
  return ort.InferenceSession.create(bytes, options);
}

const firstLine = (e) => String(e?.message ?? e).split('\n')[0];

/** A WebGPU session and a note: onnxruntime-web quietly places nodes WebGPU has no kernel for on
 * its CPU (WASM) provider, so the session is first opened with that fallback disabled; when that
 * fails, it is opened again with the fallback and the note says so (never silent). */
async function createWebgpuSession(ort, bytes, sessionOptions) {
  const extra = sessionOptions.extra ?? {};
  const strict = { ...sessionOptions, extra: { ...extra, session: { ...extra.session, disable_cpu_ep_fallback: '1' } } };
  try {
    return { session: await createSession(ort, bytes, 'webgpu', strict), note: null };
  } catch (e) {
    const session = await createSession(ort, bytes, 'webgpu', sessionOptions);
    return { session, note: `some nodes run on the CPU (WASM) because WebGPU cannot run them all: ${firstLine(e)}` };
  }
}

/** Whether the model gives gray images back gray (pipeline.keeps_gray): RGB in and RGB out. */
export function keepsGray(card) {
  return Number(card.generator?.input_nc ?? 3) === 3 && Number(card.generator?.output_nc ?? 3) === 3;
}

/** Open a model: the ONNX file's bytes go to onnxruntime, its card to the pipeline.
 *
 * ``options.ort``: the onnxruntime module (default: onnxruntime-node in Node, onnxruntime-web
 * elsewhere). ``options.backend``: 'auto' (default: onnxruntime-node -> 'cpu'; onnxruntime-web ->
 * 'webgpu' when the browser has a WebGPU adapter and the session opens on it, else 'wasm', with
 * the reason in ``model.backendNote``), or exactly 'cpu' / 'webgpu' / 'wasm' / another execution
 * provider name (then a failure throws instead of falling back). On WebGPU, ``model.backendNote``
 * also says when some nodes run on onnxruntime-web's CPU provider instead (its partial fallback). ``options.sessionOptions`` go
 * to InferenceSession.create. */
export async function loadModel(source, options = {}) {
  const ort = options.ort ?? await defaultOrt();
  const bytes = await readBytes(source);
  const name = typeof source === 'string' ? source : source instanceof URL ? source.href : 'model';
  const { metadata, card } = readCard(bytes, name);
  const wanted = options.backend ?? 'auto';
  let sessionOptions = options.sessionOptions ?? {};
  if (isOrtNode(ort) && metadata.precision === 'int8') {
    // onnxruntime's uint8 x int8 CPU kernels saturate on x86 CPUs without VNNI (AVX2: AMD Zen 2/3, Intel
    // before Ice Lake): measured here up to 96/255 off `translate run`. Its uint8 x uint8 kernels are exact
    // on every CPU, as the Python runtime chooses (translate.run.runtime.EXACT_INT8_SESSION_CONFIG);
    // onnxruntime-web's WASM kernels were exact without it.
    const extra = sessionOptions.extra ?? {};
    sessionOptions = { ...sessionOptions, extra: { ...extra, session: { x64quantprecision: '1', ...extra.session } } };
  }
  let session;
  let backend;
  let backendNote = null;
  if (wanted !== 'auto') {
    backend = wanted;
    try {
      if (backend === 'webgpu') ({ session, note: backendNote } = await createWebgpuSession(ort, bytes, sessionOptions));
      else session = await createSession(ort, bytes, backend, sessionOptions);
    } catch (e) {
      throw new TranslateError(`${name}: onnxruntime cannot run this model on ${backend} (${firstLine(e)})`);
    }
  } else if (isOrtNode(ort)) {
    backend = 'cpu';
    session = await createSession(ort, bytes, backend, sessionOptions);
  } else {
    const missing = await webgpuAdapter();
    if (!missing) {
      try {
        ({ session, note: backendNote } = await createWebgpuSession(ort, bytes, sessionOptions));
        backend = 'webgpu';
      } catch (e) {
        backendNote = `WebGPU could not open the model (${firstLine(e)}); running on WASM`;
      }
    } else {
      backendNote = `${missing}; running on WASM`;
    }
    if (!session) {
      backend = 'wasm';
      session = await createSession(ort, bytes, 'wasm', sessionOptions);
    }
  }
  return new Model(ort, session, metadata, card, backend, backendNote);
}

/** An opened model: ``card``, ``metadata``, ``backend`` (the execution provider in use),
 * ``backendNote`` (why 'auto' did not pick WebGPU, or null), ``run(image, options)``. */
export class Model {
  constructor(ort, session, metadata, card, backend, backendNote) {
    this.ort = ort;
    this.session = session;
    this.metadata = metadata;
    this.card = card;
    this.backend = backend;
    this.backendNote = backendNote;
    const inputs = metadata.inputs ?? [{ name: session.inputNames[0], channels: Number(card.generator?.input_nc ?? 3) }];
    this.inputNames = inputs.map((i) => i.name);
    this.inputChannels = inputs.map((i) => Number(i.channels));
    this.outputName = metadata.outputs?.[0]?.name ?? session.outputNames[0];
    this.fixedBatch = Number.isInteger(metadata.batch) ? metadata.batch : null;
    this.needsMask = (card.inputs ?? []).includes('mask');
  }

  /** The smallest side the network is shown (pipeline.min_side). */
  get minSide() {
    return Math.max(MIN_SIDE, Number(this.card.extra?.min_side ?? 0));
  }

  /** One network call: NCHW float32 (batch, C, h, w) -> {data, dims}; channels split among the inputs. */
  async backendCall(batch, dims) {
    const [b, c, h, w] = dims;
    const n = this.fixedBatch;
    if (n !== null && b !== n) {
      const outs = [];
      let outDims = null;
      for (let start = 0; start < b; start += n) {
        const count = Math.min(n, b - start);
        const chunk = new Float32Array(n * c * h * w);
        chunk.set(batch.subarray(start * c * h * w, (start + count) * c * h * w));
        const r = await this.backendCall(chunk, [n, c, h, w]);
        outDims = r.dims;
        outs.push(r.data.subarray(0, count * (r.data.length / n)));
      }
      const data = new Float32Array(outs.reduce((s, o) => s + o.length, 0));
      let offset = 0;
      for (const o of outs) { data.set(o, offset); offset += o.length; }
      return { data, dims: [b, ...outDims.slice(1)] };
    }
    const feeds = {};
    let first = 0;
    this.inputNames.forEach((name, i) => {
      const ci = this.inputChannels[i];
      const part = new Float32Array(b * ci * h * w);
      for (let k = 0; k < b; k++) {
        part.set(batch.subarray((k * c + first) * h * w, (k * c + first + ci) * h * w), k * ci * h * w);
      }
      feeds[name] = new this.ort.Tensor('float32', part, [b, ci, h, w]);
      first += ci;
    });
    if (first !== c) throw new TranslateError(`the model takes ${first} channels, the pipeline gave ${c}`);
    const results = await this.session.run(feeds);
    const output = results[this.outputName];
    const data = output.data instanceof Float32Array ? output.data : Float32Array.from(output.data);
    const outDims = output.dims.map(Number);
    for (const t of Object.values(results)) t.dispose?.();
    Object.values(feeds).forEach((t) => t.dispose?.());
    return { data, dims: outDims };
  }

  /** Translate an image as `translate run` does.
   *
   * ``image``: {data, width, height[, channels]} with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels per
   * pixel, Uint8Array / Uint8ClampedArray (8-bit) or Uint16Array (16-bit); an ImageData works.
   * Options: ``tile`` (0 = whole image) and ``tileOverlap`` (default 32) as `--tile` /
   * `--tile-overlap`; ``batchSize`` tiles per call; ``mask`` (inpainting models: same layout,
   * white = hole); ``onProgress({done, total})`` after each network call; ``signal`` (AbortSignal)
   * stops between network calls.
   * Returns {data, width, height, channels}: RGB (3) or RGBA (4) when the input had alpha; a gray
   * input comes back gray (1, or 2 with alpha) when ``keepsGray(card)``, as `translate run` does;
   * same bit depth, ``card.scale`` times larger; the alpha plane is kept (bicubic when scaled). */
  async run(image, options = {}) {
    const { tile = 0, tileOverlap = 32, batchSize = 1, mask = null, onProgress, signal } = options;
    if (signal?.aborted) throw signal.reason ?? Object.assign(new Error('translation aborted'), { name: 'AbortError' });
    const card = this.card;
    const scale = Number(card.scale ?? 1);
    const decoded = decodePixels(image);
    const { height, width, peak } = decoded;
    const progress = onProgress ? (done, total) => onProgress({ done, total }) : undefined;
    const backend = (batch, dims) => this.backendCall(batch, dims);
    let rgb;
    if (this.needsMask) {
      if (!mask) throw new TranslateError(`${card.name} is an inpainting model: give the hole as a mask (white = hole)`);
      if (decoded.gray) throw new TranslateError(`${card.name}: the inpainting model needs an RGB image, not a gray one`);
      const window = card.fixed_size ?? card.extra?.image_size;
      rgb = await fillHoles(decoded.rgb, maskHole(mask, height, width), height, width, Number(window), backend,
        { mean: card.mean, std: card.std, signal, progress });
    } else {
      if (mask) throw new TranslateError(`${card.name} is a ${card.task} model; a mask applies to inpainting models only`);
      checkTiling(tile, tileOverlap, card.multiple, this.minSide, [height, width]);
      rgb = await runBackend(decoded.rgb, height, width, backend, {
        mean: card.mean, std: card.std, multiple: card.multiple, scale, inChannels: Number(card.generator?.input_nc ?? 3),
        tile, tileOverlap, batchSize, smallest: this.minSide, signal, progress,
      });
    }
    const outH = height * scale;
    const outW = width * scale;
    let alpha = decoded.alpha;
    if (alpha && scale !== 1) alpha = resizeBicubic(alpha, height, width, outH, outW);
    // gray in, gray out for RGB-in, RGB-out models (pipeline.keeps_gray): the output's BT.601 luma
    const grayOut = decoded.gray && keepsGray(card);
    const colours = grayOut ? 1 : 3;
    const channels = colours + (alpha ? 1 : 0);
    const data = peak === 65535 ? new Uint16Array(outH * outW * channels) : new Uint8ClampedArray(outH * outW * channels);
    for (let p = 0; p < outH * outW; p++) {
      if (grayOut) data[p * channels] = toUint(luma(rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]), peak);
      else for (let k = 0; k < 3; k++) data[p * channels + k] = toUint(rgb[p * 3 + k], peak);
      if (alpha) data[p * channels + colours] = toUint(alpha[p], peak);
    }
    return { data, width: outW, height: outH, channels };
  }

  /** Release onnxruntime's session. */
  async release() {
    await this.session.release?.();
  }
}
