// Parity with the Python runtime: the cases (exported models, input pixels, the pixels
// `translate run model.onnx` wrote, and the Python tiling rules' values) are prepared by
// tests/js/test_node_parity.py, which points TRANSLATE_PARITY_MANIFEST at them. Without it
// these tests skip (the pure pipeline tests in pipeline.test.mjs still run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { blendWindow, loadModel, tileStarts } from '../index.js';

// TRANSLATE_PARITY_BACKEND=wasm runs the cases on onnxruntime-web's WASM backend (its Node.js build)
// instead of onnxruntime-node's CPU provider.
const backend = process.env.TRANSLATE_PARITY_BACKEND ?? 'cpu';
const ort = backend === 'wasm' ? await import('onnxruntime-web') : await import('onnxruntime-node');

const manifestPath = process.env.TRANSLATE_PARITY_MANIFEST;
const skip = manifestPath ? false : 'TRANSLATE_PARITY_MANIFEST not set (run tests/js/test_node_parity.py)';
const manifest = manifestPath ? JSON.parse(await readFile(manifestPath, 'utf8')) : { blend: [], tileStarts: [], cases: [] };
const dir = manifestPath ? path.dirname(manifestPath) : '.';

async function raw(file, bitDepth) {
  const bytes = await readFile(path.join(dir, file));
  return bitDepth === 16 ? new Uint16Array(Uint8Array.from(bytes).buffer) : new Uint8Array(bytes); // little-endian, as numpy wrote it
}

test('blend weights equal the Python pipeline.blend_window', { skip }, () => {
  assert.ok(manifest.blend.length > 0);
  for (const { size, overlap, atStart, atEnd, weights } of manifest.blend) {
    const js = blendWindow(size, overlap, atStart, atEnd);
    assert.equal(js.length, weights.length);
    const worst = Math.max(0, ...Array.from(js, (w, i) => Math.abs(w - weights[i])));
    assert.ok(worst <= 1e-6, `blend_window(${size}, ${overlap}, ${atStart}, ${atEnd}): max difference ${worst}`);
  }
});

test('tile starts equal the Python pipeline.tile_starts', { skip }, () => {
  assert.ok(manifest.tileStarts.length > 0);
  for (const { length, tile, overlap, starts } of manifest.tileStarts) {
    assert.deepEqual(tileStarts(length, tile, overlap), starts, `tile_starts(${length}, ${tile}, ${overlap})`);
  }
});

const models = new Map();
for (const c of manifest.cases) {
  test(`${c.name}: ${backend} output within 1/255 of translate run`, { skip }, async () => {
    if (!models.has(c.model)) models.set(c.model, await loadModel(path.join(dir, c.model), { ort: ort.default ?? ort, backend }));
    const model = models.get(c.model);
    assert.equal(model.backend, backend);
    const image = { data: await raw(c.input, c.bitDepth), width: c.width, height: c.height, channels: c.channels };
    const mask = c.mask ? { data: await raw(c.mask, 8), width: c.width, height: c.height, channels: 1 } : null;
    const calls = [];
    const out = await model.run(image, { tile: c.tile, tileOverlap: c.tileOverlap, mask, onProgress: (p) => calls.push(p) });
    assert.ok(calls.length >= 1 && calls.at(-1).done === calls.at(-1).total, 'progress reached its total');
    assert.deepEqual([out.width, out.height, out.channels], [c.expectedWidth, c.expectedHeight, c.expectedChannels]);
    await writeFile(path.join(dir, c.output), out.data);
    const expected = await raw(c.expected, c.bitDepth);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(out.data[i] - expected[i]));
    const peak = c.bitDepth === 16 ? 65535 : 255;
    assert.ok(worst <= peak / 255, `max difference ${worst} / ${peak} > 1/255`);
    if (c.tile) assert.ok(calls.at(-1).total > 1, 'the tiled case ran more than one tile');
  });
}
