#!/usr/bin/env node
// node check-model.mjs ORT_WEB_DIST MODEL.onnx
// Opens MODEL with onnxruntime-web's WASM backend (the dist folder of an installed onnxruntime-web)
// and runs one small image through the runtime's pipeline: what `translate export --web` asks
// before it writes a folder, so an operator the installed onnxruntime-web lacks (an fp16 or int8
// kernel) is found by that very onnxruntime-web, not guessed from a list. Prints one JSON line:
// {"ok": true, "backend": "wasm", "ms": ...} or {"ok": false, "error": "..."}.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { loadModel } from './index.js';

const [dist, modelPath] = process.argv.slice(2);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
try {
  const ort = await import(pathToFileURL(path.join(dist, 'ort.node.min.mjs')).href);
  ort.env.wasm.numThreads = 1;
  const model = await loadModel(modelPath, { ort: ort.default ?? ort, backend: 'wasm' });
  const card = model.card;
  const side = Math.max(card.fixed_size ?? 0, card.multiple ?? 1, model.minSide);
  const image = { data: new Uint8Array(side * side * 3).map((_, i) => (i * 7) % 256), width: side, height: side, channels: 3 };
  let mask = null;
  if (model.needsMask) {
    mask = { data: new Uint8Array(side * side), width: side, height: side, channels: 1 };
    for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) mask.data[y * side + x] = 255;
  }
  const start = performance.now();
  const out = await model.run(image, { mask });
  say({ ok: true, backend: model.backend, ms: performance.now() - start, size: [out.width, out.height] });
} catch (e) {
  say({ ok: false, error: String(e?.message ?? e).split('\n').filter(Boolean).slice(0, 3).join(' ') });
}
