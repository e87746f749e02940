// The model card that `translate export` embeds in an ONNX file: ModelProto.metadata_props["translate"],
// a JSON object whose "card" is the full card (translate/models/cards.py, onnx_metadata).
// onnxruntime's JavaScript API does not expose custom metadata, so the few protobuf fields needed
// are read here from the file's bytes (wire format: varint keys, length-delimited messages).

import { TranslateError } from './pipeline.js';

/** The ONNX metadata_props key of translate's metadata. */
export const METADATA_KEY = 'translate';
/** The newest metadata format this runtime reads (cards.ONNX_METADATA_FORMAT). */
export const METADATA_FORMAT = 1;

const METADATA_PROPS = 14; // ModelProto.metadata_props (repeated StringStringEntryProto)

function readVarint(bytes, pos) {
  let value = 0;
  let shift = 1;
  for (;;) {
    if (pos >= bytes.length) throw new RangeError('truncated varint');
    const b = bytes[pos++];
    value += (b & 0x7f) * shift;
    if (b < 0x80) return [value, pos];
    shift *= 128;
  }
}

/** Iterate the top-level fields of a protobuf message: yields [fieldNumber, wireType, start, end]
 * where [start, end) is a length-delimited field's payload. */
function* fields(bytes, start = 0, end = bytes.length) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(bytes, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) { [, pos] = readVarint(bytes, pos); continue; }
    if (wire === 1) { pos += 8; continue; }
    if (wire === 5) { pos += 4; continue; }
    if (wire !== 2) throw new RangeError(`unsupported protobuf wire type ${wire}`);
    let length;
    [length, pos] = readVarint(bytes, pos);
    if (pos + length > end) throw new RangeError('truncated field');
    yield [field, wire, pos, pos + length];
    pos += length;
  }
}

/** The metadata_props of an ONNX model's bytes as a {key: value} object. */
export function onnxMetadataProps(bytes) {
  const decoder = new TextDecoder();
  const props = {};
  for (const [field, , start, end] of fields(bytes)) {
    if (field !== METADATA_PROPS) continue;
    let key = '';
    let value = '';
    for (const [f, , s, e] of fields(bytes, start, end)) {
      if (f === 1) key = decoder.decode(bytes.subarray(s, e));
      if (f === 2) value = decoder.decode(bytes.subarray(s, e));
    }
    props[key] = value;
  }
  return props;
}

/** {metadata, card} of a translate ONNX export (cards.read_onnx_metadata's checks; errors name ``source``). */
export function readCard(bytes, source = 'model') {
  let props;
  try {
    props = onnxMetadataProps(bytes);
  } catch (e) {
    throw new TranslateError(`${source}: not an ONNX model (cannot parse it: ${e.message}); export one with \`translate export\``);
  }
  const text = props[METADATA_KEY];
  if (text === undefined) {
    throw new TranslateError(`${source}: not a translate ONNX model (no '${METADATA_KEY}' metadata); export it with \`translate export\``);
  }
  let metadata;
  try {
    metadata = JSON.parse(text);
  } catch {
    metadata = null;
  }
  if (!metadata || typeof metadata.card !== 'object' || metadata.card === null) {
    throw new TranslateError(`${source}: the '${METADATA_KEY}' metadata is damaged (no model card); export it again`);
  }
  if (Number(metadata.format ?? 0) > METADATA_FORMAT) {
    throw new TranslateError(`${source}: exported by a newer translate (metadata format ${metadata.format}); upgrade this runtime`);
  }
  return { metadata, card: metadata.card };
}
