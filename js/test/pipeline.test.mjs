// The pipeline rules on their own (no model file needed): padding, tiles, blend weights, alpha,
// gray, cancellation, progress, and reading the card from ONNX metadata bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BackendError, Model, TranslateError, blendWindow, onnxMetadataProps, readCard, reflectIndex, tileStarts } from '../index.js';
import { runBackend } from '../pipeline.js';

const card = { name: 'toy', task: 'test', generator: { input_nc: 3 }, mean: 0.5, std: 0.5, multiple: 8, scale: 1, inputs: ['image'], extra: {} };

/** A fake onnxruntime: a session whose network is y = x * gain (an upscaler repeats pixels). */
function toyModel(cardOverrides = {}, { gain = 1, repeat = 1, calls = [] } = {}) {
  const c = { ...card, ...cardOverrides };
  const ort = { Tensor: class { constructor(type, data, dims) { Object.assign(this, { type, data, dims }); } } };
  const session = {
    inputNames: ['image'], outputNames: ['output'],
    async run(feeds) {
      const { data, dims: [b, ch, h, w] } = feeds.image;
      calls.push([b, ch, h, w]);
      const out = new Float32Array(b * ch * h * w * repeat * repeat);
      for (let i = 0; i < b * ch; i++) for (let y = 0; y < h * repeat; y++) for (let x = 0; x < w * repeat; x++) {
        out[(i * h * repeat + y) * w * repeat + x] = data[(i * h + Math.floor(y / repeat)) * w + Math.floor(x / repeat)] * gain;
      }
      return { output: { data: out, dims: [b, ch, h * repeat, w * repeat] } };
    },
  };
  return new Model(ort, session, { inputs: [{ name: 'image', channels: 3 }], outputs: [{ name: 'output' }], batch: 'dynamic' }, c, 'cpu', null);
}

function pixels(width, height, channels, seed = 1) {
  const data = new Uint8ClampedArray(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) { s = (s * 1103515245 + 12345) % 2147483648; data[i] = s % 256; }
  return { data, width, height, channels };
}

test('reflectIndex reflects like numpy, repeatedly for pads longer than the axis', () => {
  // np.pad(np.arange(3), (0, 7), mode="reflect") == [0 1 2 1 0 1 2 1 0 1]
  assert.deepEqual([...Array(10).keys()].map((i) => reflectIndex(i, 3)), [0, 1, 2, 1, 0, 1, 2, 1, 0, 1]);
  assert.deepEqual([-1, -2, -3].map((i) => reflectIndex(i, 3)), [1, 2, 1]);
  assert.equal(reflectIndex(5, 1), 0);
});

test('tiles cover the axis, the last one ending at its end', () => {
  assert.deepEqual(tileStarts(100, 40, 10), [0, 30, 60]);
  assert.deepEqual(tileStarts(40, 64, 16), [0]);
});

test('blend weights: zero outer quarter, symmetric rise adding up to 1, capped at half the tile', () => {
  const w = blendWindow(64, 16, true, true);
  assert.deepEqual(Array.from(w.subarray(0, 4)), [0, 0, 0, 0]);
  for (let k = 0; k < 16; k++) assert.ok(Math.abs(w[k] + w[15 - k] - 1) < 1e-6);
  assert.equal(w[32], 1);
  assert.equal(blendWindow(64, 16, false, false).every((v) => v === 1), true);
  assert.equal(blendWindow(10, 16, true, false)[5], 1); // band capped at 5
});

test('identity network: pixels come back exactly, untiled and tiled, alpha kept', async () => {
  const image = pixels(37, 29, 4);
  const model = toyModel();
  for (const tile of [0, 16]) {
    const out = await model.run(image, { tile, tileOverlap: 8 });
    assert.deepEqual([out.width, out.height, out.channels], [37, 29, 4]);
    assert.deepEqual(Array.from(out.data), Array.from(image.data), `tile ${tile}`);
  }
});

test("gray input to an RGB model: gray out (its luma), no alpha", async () => {
  const image = pixels(20, 18, 1);
  const out = await toyModel().run(image);
  assert.equal(out.channels, 1);
  assert.deepEqual(Array.from(out.data), Array.from(image.data));
  const withAlpha = pixels(20, 18, 2);
  const out2 = await toyModel().run(withAlpha, { tile: 16, tileOverlap: 8 });
  assert.equal(out2.channels, 2);
  assert.deepEqual(Array.from(out2.data), Array.from(withAlpha.data));
  const rgbOut = await toyModel({ generator: { input_nc: 3, output_nc: 1 } }).run(image);
  assert.equal(rgbOut.channels, 3, "a model with gray output gives RGB back");
});

test('the network sees padded sizes (multiple, min side) and tiles of one shape', async () => {
  const calls = [];
  await toyModel({ multiple: 8 }, { calls }).run(pixels(37, 10, 3));
  assert.deepEqual(calls, [[1, 3, 16, 40]]);
  calls.length = 0;
  await toyModel({ multiple: 8 }, { calls }).run(pixels(70, 50, 3), { tile: 32, tileOverlap: 8 });
  assert.ok(calls.length > 1 && calls.every((c) => c[2] === 32 && c[3] === 32));
});

test('scaled model: output scale times larger, alpha resized bicubically (a flat alpha stays flat)', async () => {
  const image = pixels(9, 7, 4);
  for (let p = 0; p < 63; p++) image.data[p * 4 + 3] = 200;
  const out = await toyModel({ scale: 2, multiple: 1 }, { repeat: 2 }).run(image);
  assert.deepEqual([out.width, out.height, out.channels], [18, 14, 4]);
  for (let p = 0; p < 18 * 14; p++) assert.equal(out.data[p * 4 + 3], 200);
});

test('a model whose output does not match its card scale is a BackendError', async () => {
  await assert.rejects(toyModel({ scale: 2 }).run(pixels(16, 16, 3)), BackendError);
});

test('bad tiling options are one clear error', async () => {
  await assert.rejects(toyModel().run(pixels(40, 40, 3), { tile: 32, tileOverlap: 20 }), /more than half/);
  await assert.rejects(toyModel().run(pixels(40, 40, 3), { tile: 4 }), TranslateError);
});

test('progress is reported per network call and an AbortSignal stops between calls', async () => {
  const progress = [];
  const controller = new AbortController();
  const run = toyModel().run(pixels(64, 64, 3), {
    tile: 16, tileOverlap: 4,
    onProgress: (p) => { progress.push(p); if (p.done === 3) controller.abort(); },
    signal: controller.signal,
  });
  await assert.rejects(run, { name: 'AbortError' });
  assert.equal(progress.length, 3);
  assert.ok(progress[0].total > 3);
});

test('runBackend maps (x - mean) / std and back', async () => {
  const rgb = Float32Array.from({ length: 16 * 16 * 3 }, (_, i) => (i % 17) / 16);
  const seen = [];
  const out = await runBackend(rgb, 16, 16, async (data, dims) => { seen.push(...data.subarray(0, 3)); return { data, dims }; },
    { mean: 0.5, std: 0.5, multiple: 4 });
  assert.deepEqual(seen, [-1, -0.625, -0.25]); // channel 0 of pixels 0, 1, 2 (NCHW): values 0, 3/16, 6/16
  assert.deepEqual(Array.from(out), Array.from(rgb));
});

function protobufEntry(key, value) {
  const enc = new TextEncoder();
  const field = (n, bytes) => [n * 8 + 2, ...varint(bytes.length), ...bytes];
  const varint = (v) => { const out = []; while (v >= 128) { out.push((v % 128) | 128); v = Math.floor(v / 128); } out.push(v); return out; };
  const entry = [...field(1, enc.encode(key)), ...field(2, enc.encode(value))];
  return [...field(14, entry)];
}

test('the card is read from the ONNX metadata_props bytes; files without it are refused', () => {
  const big = 'x'.repeat(300); // a length that needs a two-byte varint
  const bytes = Uint8Array.from([8, 9, ...protobufEntry('other', big), ...protobufEntry('translate', JSON.stringify({ format: 1, card }))]);
  assert.deepEqual(Object.keys(onnxMetadataProps(bytes)), ['other', 'translate']);
  assert.equal(readCard(bytes).card.name, 'toy');
  assert.throws(() => readCard(Uint8Array.from([8, 9]), 'x.onnx'), /x.onnx: not a translate ONNX model/);
  assert.throws(() => readCard(Uint8Array.from(protobufEntry('translate', '{"format": 9, "card": {}}'))), /newer translate/);
});
