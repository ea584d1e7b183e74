/**
 * Writes the small offline example: TinyCNN with the deterministic (untrained) weights of
 * the parity tests, and one deterministic input. Rerun: npx tsx scripts/make-example.ts
 */
import { writeFileSync } from 'node:fs';
import { serializeNpy } from '../src/io/npy.js';
import { serializeSafeTensors } from '../src/io/safetensors.js';
import { deterministicInput } from '../src/models/deterministic.js';
import { Model } from '../src/models/model.js';
import { tinycnn } from '../src/models/tinycnn.js';

const model = Model.deterministic(tinycnn);
const tensors = Object.fromEntries(
  model.params.map((p) => [
    p.name,
    { dtype: 'F32' as const, shape: p.shape, data: model.weights.get(p.name)! },
  ]),
);
writeFileSync(
  'examples/tinycnn-deterministic.safetensors',
  serializeSafeTensors(tensors, { arch: 'tinycnn' }),
);
writeFileSync(
  'examples/tinycnn-input.npy',
  serializeNpy(deterministicInput('input', [3, 29, 29]), [3, 29, 29]),
);
