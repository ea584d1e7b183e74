/** The state dict inside a checkpoint: the tensors by name, wherever training code put them. */
import { PssError } from '../../errors.js';
import { PyDict, type PyValue } from '../pickle.js';
import { describe, TorchTensor } from './tensor.js';

/** Keys under which training checkpoints wrap their state dict. */
const WRAPPERS = ['state_dict', 'model', 'model_state_dict'];

const isStateDict = (v: PyValue): v is PyDict =>
  v instanceof PyDict &&
  [...v.values()].some((x) => x instanceof TorchTensor) &&
  [...v.keys()].every((k) => typeof k === 'string');

/**
 * The tensors of a state dict: the checkpoint itself, or the dict it holds under
 * `state_dict`, `model` or `model_state_dict` (training checkpoints). `num_batches_tracked`
 * and non-tensor entries are left out; a `module.` prefix on every name (nn.DataParallel)
 * is removed.
 */
export function stateDictTensors(root: PyValue, what: string): Map<string, TorchTensor> {
  let sd: PyDict | undefined;
  if (isStateDict(root)) sd = root;
  else if (root instanceof PyDict)
    for (const key of WRAPPERS) {
      const v = root.get(key) ?? null;
      if (isStateDict(v)) {
        sd = v;
        break;
      }
    }
  if (!sd)
    throw new PssError(
      `${what} holds no state dict: expected a dict of tensors, or one under "${WRAPPERS.join('", "')}"; it holds ${describe(root)}`,
    );
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of sd)
    if (v instanceof TorchTensor && !(k as string).endsWith('num_batches_tracked')) out.set(k as string, v);
  const names = [...out.keys()];
  if (names.length && names.every((n) => n.startsWith('module.')))
    return new Map([...out].map(([k, v]) => [k.slice('module.'.length), v]));
  return out;
}
