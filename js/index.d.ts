// Types of @translate-gan/runtime (index.js, pipeline.js, card.js). Shapes as in the Python docs:
// pixel buffers are row-major (H, W, C); network batches are NCHW float32.

/** Pixels: ``channels`` values per pixel (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA), row-major.
 * Uint16Array data is 16-bit, any other 8-bit. An ImageData (RGBA) fits. */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels?: 1 | 2 | 3 | 4;
}

export interface TranslatedPixels {
  data: Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** The model card `translate export` embeds (translate.models.cards.ModelCard.to_dict()). */
export interface ModelCard {
  name: string;
  task: string;
  generator: { arch: string; input_nc?: number; output_nc?: number; [key: string]: unknown };
  mean: number;
  std: number;
  multiple: number;
  scale: number;
  inputs: string[];
  fixed_size: number | null;
  description?: string;
  licence?: string;
  source?: string;
  extra: Record<string, unknown>;
  [key: string]: unknown;
}

/** The JSON object under the ONNX metadata key "translate". */
export interface ExportMetadata {
  format: number;
  card: ModelCard;
  inputs?: { name: string; channels: number }[];
  outputs?: { name: string }[];
  batch?: 'dynamic' | number;
  precision?: 'fp32' | 'fp16' | 'int8';
  [key: string]: unknown;
}

export type Backend = 'auto' | 'cpu' | 'wasm' | 'webgpu' | (string & {});

export interface LoadOptions {
  /** The onnxruntime module (onnxruntime-node or onnxruntime-web); default: picked by environment. */
  ort?: unknown;
  /** 'auto' (default) or an exact execution provider, which then throws instead of falling back. */
  backend?: Backend;
  /** Passed to ort.InferenceSession.create (executionProviders is set from ``backend``). */
  sessionOptions?: Record<string, unknown>;
}

export interface Progress { done: number; total: number }

export interface RunOptions {
  /** Tile side in px (0 = whole image), as `translate run --tile`. */
  tile?: number;
  /** Overlap of tiles in px (default 32), as `--tile-overlap`. */
  tileOverlap?: number;
  /** Tiles per network call (default 1). */
  batchSize?: number;
  /** Inpainting models: the hole mask (white = hole), the image's size. */
  mask?: Pixels | null;
  /** Called after each network call. */
  onProgress?: (progress: Progress) => void;
  /** Stops the work between network calls (rejects with the signal's reason / an AbortError). */
  signal?: AbortSignal;
}

export class Model {
  readonly card: ModelCard;
  readonly metadata: ExportMetadata;
  /** The execution provider actually running the model: 'cpu' (onnxruntime-node), 'webgpu', 'wasm' ... */
  readonly backend: string;
  /** Why backend 'auto' did not pick WebGPU (or null). */
  readonly backendNote: string | null;
  readonly needsMask: boolean;
  readonly minSide: number;
  run(image: Pixels | ImageData, options?: RunOptions): Promise<TranslatedPixels>;
  release(): Promise<void>;
}

/** Open a `translate export` ONNX file (path in Node, URL, or its bytes). */
export function loadModel(source: string | URL | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<Model>;
export function defaultOrt(): Promise<unknown>;
export function keepsGray(card: ModelCard): boolean;

export function readCard(bytes: Uint8Array, source?: string): { metadata: ExportMetadata; card: ModelCard };
export function onnxMetadataProps(bytes: Uint8Array): Record<string, string>;
export const METADATA_KEY: 'translate';

export const MIN_SIDE: number;
export const MAX_TILES: number;
export class TranslateError extends Error {}
export class BackendError extends TranslateError {}
/** pipeline.blend_window: 1-D weights (size,) of a tile. */
export function blendWindow(size: number, overlap: number, atStart: boolean, atEnd: boolean): Float32Array;
export function tileStarts(length: number, tile: number, overlap: number): number[];
export function tileCount(size: [number, number], tile: number, overlap: number, multiple?: number, smallest?: number): number;
export function checkTiling(tile: number, overlap: number, multiple?: number, smallest?: number, size?: [number, number] | null): void;
export function paddedLength(length: number, multiple: number, minSide?: number): number;
export function reflectIndex(i: number, n: number): number;
/** cv2.resize(..., INTER_CUBIC) of a float (H, W) plane. */
export function resizeBicubic(plane: Float32Array, height: number, width: number, outH: number, outW: number): Float32Array;
