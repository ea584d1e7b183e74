/**
 * What `--weights` accepts, and the Hub's addresses:
 *
 * | spec                                  | means                                                           |
 * | ------------------------------------- | --------------------------------------------------------------- |
 * | `w.safetensors`, `/abs/path`          | a local file, used in place                                     |
 * | `file:///abs/path`                    | the same                                                        |
 * | `https://host/path/w.safetensors`     | downloaded once into the cache (`http://` too)                  |
 * | `hf:owner/repo[@revision][/file]`     | `$ENDPOINT/owner/repo/resolve/revision/file`; revision `main`,   |
 * |                                       | file `model.safetensors` by default                             |
 * | `tv:resnet50`                         | `hf:timm/resnet50.tv_in1k`: torchvision's ImageNet weights, as  |
 * |                                       | timm republishes them (resnet*, vgg*, densenet*, inception_v3)  |
 *
 * The Hub's base URL is $PSS_HF_ENDPOINT, else $HF_ENDPOINT (mirrors), else https://huggingface.co.
 */
import { fileURLToPath } from 'node:url';
import { PssError } from '../../errors.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
const DEFAULT_HUB_FILE = 'model.safetensors';
export const DEFAULT_REVISION = 'main';

export type WeightsSpec =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }
  | {
      kind: 'hub';
      url: string;
      owner: string;
      repo: string;
      revision: string;
      file: string;
      shorthand?: string;
    };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads a --weights value: a local path, an http(s)/file URL, `hf:owner/repo[@rev][/file]` or `tv:<arch>`. */
export function parseWeightsSpec(spec: string): WeightsSpec {
  if (/^https?:\/\//i.test(spec)) {
    try {
      return { kind: 'url', url: new URL(spec).href };
    } catch {
      throw new PssError(`not a valid URL: ${spec}`);
    }
  }
  if (/^file:\/\//i.test(spec)) {
    try {
      return { kind: 'file', path: fileURLToPath(spec) };
    } catch {
      throw new PssError(`not a valid file URL: ${spec}`);
    }
  }
  if (/^tv:/i.test(spec)) {
    const arch = spec.slice(3);
    if (!NAME.test(arch))
      throw new PssError(`bad weights reference ${spec}: expected tv:<architecture>, e.g. tv:resnet50`);
    return { ...parseHubRef(`hf:timm/${arch}.tv_in1k`), shorthand: spec };
  }
  if (/^hf:/i.test(spec)) return parseHubRef(spec);
  return { kind: 'file', path: spec };
}

function parseHubRef(spec: string): Extract<WeightsSpec, { kind: 'hub' }> {
  const bad = (why: string): never => {
    throw new PssError(
      `bad Hub reference ${spec}: ${why}; expected hf:owner/repo[@revision][/file], e.g. hf:timm/resnet50.tv_in1k`,
    );
  };
  const body = spec.slice(3).replace(/^\/\//, '');
  const m = body.match(/^([^/@]+)\/([^/@]+)(?:@([^/]+))?(?:\/(.+))?$/);
  if (!m) return bad('no owner/repo');
  const [, owner, repo, revision = DEFAULT_REVISION, file = DEFAULT_HUB_FILE] = m;
  if (!NAME.test(owner) || !NAME.test(repo)) bad(`"${owner}/${repo}" is not a repository name`);
  const parts = file.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) bad(`"${file}" is not a file path`);
  const url = `${hubEndpoint()}/${owner}/${repo}/resolve/${encodeURIComponent(revision)}/${parts
    .map(encodeURIComponent)
    .join('/')}`;
  return { kind: 'hub', url, owner, repo, revision, file };
}

/** The Hub's base URL: $PSS_HF_ENDPOINT, $HF_ENDPOINT, or https://huggingface.co. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.PSS_HF_ENDPOINT || env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT).replace(/\/+$/, '');
}

/** The architectures whose torchvision ImageNet weights timm publishes as timm/<arch>.tv_in1k. */
export const hasTorchvisionHubWeights = (arch: string): boolean =>
  /^(resnet\d+|vgg\d+(_bn)?|densenet\d+|inception_v3)$/.test(arch);

/** Added to a Hub reference's "not found": what the reference means. */
export function hubHint(ref: Extract<WeightsSpec, { kind: 'hub' }>): string {
  if (ref.shorthand)
    return `${ref.shorthand} means hf:${ref.owner}/${ref.repo}; timm publishes torchvision's ImageNet weights as timm/<arch>.tv_in1k for resnet*, vgg*, densenet* and inception_v3`;
  return `Hub references are hf:owner/repo[@revision][/file], the file ${DEFAULT_HUB_FILE} unless named`;
}

/** A download in messages: as the user named it, and the URL when that differs. */
export const describeDownload = (url: string, label: string): string =>
  label === url ? url : `${label} (${url})`;
