// The page of `translate export MODEL --web DIR`: everything it loads sits in DIR (no CDN):
// config.json (the model file, the WebGPU tile size), the model, runtime/ (the JavaScript runtime)
// and ort/ (onnxruntime-web's files). State for scripts and tests: document.body.dataset.state is
// loading | ready | running | done | error, window.translateResult the last {data, width, height, channels},
// window.translateModel the opened model (the runtime's Model).
import * as ort from './ort/ort.min.mjs';
import { loadModel } from './runtime/index.js';

const $ = (id) => document.getElementById(id);
const status = (text, error = false) => { $('status').textContent = text; $('status').className = error ? 'error' : ''; };
const setState = (state) => { document.body.dataset.state = state; };

ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
// Without cross-origin isolation (python -m http.server sends no COOP/COEP headers) WASM runs one thread.
ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

const config = await (await fetch('config.json')).json();
const wanted = new URLSearchParams(location.search).get('backend') || 'auto';
let model;
try {
  setState('loading');
  model = await loadModel(config.model, { ort, backend: wanted });
} catch (e) {
  status(`cannot load ${config.model}: ${e.message}`, true);
  setState('error');
  throw e;
}
window.translateModel = model; // for scripts: await translateModel.run({data, width, height, channels}, options)
const card = model.card;
$('title').textContent = card.name;
$('about').textContent = `${card.description || card.task} · ${card.scale}x · running on ${model.backend}` +
  (model.backendNote ? ` (${model.backendNote})` : '');
document.body.dataset.backend = model.backend;
status(`ready: ${model.backend}`);
setState('ready');

let controller = null;

/** RGBA ImageData of a file, without colour conversion or premultiplied alpha where the browser allows. */
async function pixelsOf(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = $('before');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, bitmap.width, bitmap.height);
}

function opaque(imageData) {
  const d = imageData.data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return false;
  return true;
}

async function translate(file) {
  if (model.needsMask) {
    status('this model fills holes and needs a mask: use the JavaScript runtime or `translate run --mask`', true);
    return;
  }
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  setState('running');
  $('download').hidden = true;
  $('cancel').disabled = false;
  try {
    const imageData = await pixelsOf(file);
    // drop an opaque alpha plane, so the model's RGB path is used (as for an RGB file)
    const rgb = opaque(imageData)
      ? { data: imageData.data.filter((_, i) => i % 4 !== 3), width: imageData.width, height: imageData.height, channels: 3 }
      : imageData;
    // WebGPU: one fixed tile shape, so the GPU buffers are reused; WASM: whole images up to 1024 px a side
    const tile = model.backend === 'webgpu' ? config.webgpuTile : (Math.max(rgb.width, rgb.height) > 1024 ? config.wasmTile : 0);
    const started = performance.now();
    const out = await model.run(rgb, {
      tile, tileOverlap: config.tileOverlap, signal,
      onProgress: ({ done, total }) => status(`${model.backend}: ${done} / ${total}`),
    });
    const ms = performance.now() - started;
    window.translateResult = out;
    const rgba = new ImageData(out.width, out.height);
    for (let p = 0; p < out.width * out.height; p++) {
      const c = out.channels;
      const gray = c <= 2;
      for (let k = 0; k < 3; k++) rgba.data[p * 4 + k] = out.data[p * c + (gray ? 0 : k)];
      rgba.data[p * 4 + 3] = c === 2 || c === 4 ? out.data[p * c + c - 1] : 255;
    }
    const canvas = $('after');
    canvas.width = out.width;
    canvas.height = out.height;
    canvas.getContext('2d').putImageData(rgba, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const link = $('download');
    URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = `${file.name.replace(/\.[^.]*$/, '')}_${card.name}.png`;
    link.hidden = false;
    status(`done in ${Math.round(ms)} ms on ${model.backend} (${out.width}x${out.height})`);
    setState('done');
  } catch (e) {
    status(e.name === 'AbortError' ? 'cancelled' : `error: ${e.message}`, e.name !== 'AbortError');
    setState(e.name === 'AbortError' ? 'ready' : 'error');
  } finally {
    $('cancel').disabled = true;
  }
}

$('file').addEventListener('change', () => $('file').files[0] && translate($('file').files[0]));
$('cancel').addEventListener('click', () => controller?.abort());
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) translate(e.dataTransfer.files[0]);
});
