/** The ONNX importer's public face; the importer itself is src/models/onnx/ (import.ts first). */
export { importOnnx, type OnnxImport, onnxModel } from './onnx/import.js';
export { layerName } from './onnx/inspect.js';
