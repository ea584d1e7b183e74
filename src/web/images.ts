/**
 * The explorer's uploaded images (the last few), decoded once on upload and preprocessed once
 * per model, and the page's image references: "example:<file>" or "upload:<id>".
 */
import { basename } from 'node:path';
import { PssError } from '../errors.js';
import { loadInput } from '../image/input.js';
import { loadImage } from '../image/load.js';
import type { PreprocessedImage } from '../image/preprocess.js';
import { readFileChecked } from '../io/files.js';
import type { ImageBatch } from '../saliency/engine.js';
import { NotFound } from './errors.js';
import type { LoadedModel, ModelStore } from './models.js';
import type { Upload } from './uploads.js';

interface StoredImage {
  id: string;
  name: string;
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Preprocessed for each model it was used with. */
  prepared: Map<string, PreprocessedImage>;
}

/** An image as a model sees it: preprocessed, as a batch of one, and with its display copy. */
export interface ModelInput {
  name: string;
  x: PreprocessedImage;
  batch: ImageBatch & { display: PreprocessedImage['display'] };
}

/** Turns a file name from the page into something safe to show. */
export function displayName(name: string | null | undefined, fallback: string): string {
  const clean = basename(String(name ?? ''))
    .replace(/[\p{C}]/gu, '')
    .trim()
    .slice(0, 120);
  return clean || fallback;
}

export class ImageStore {
  private readonly images = new Map<string, StoredImage>();
  private next = 1;

  /** `models` gives the shipped examples' paths. */
  constructor(
    private readonly models: ModelStore,
    private readonly max = 8,
  ) {}

  /** An upload on disk (see add); the upload's file is the caller's to remove. */
  async addUpload(upload: Upload) {
    return this.add(await readFileChecked(upload.path, 'image file', upload.bytes), upload.name);
  }

  /** Decodes an image (to refuse a bad one now, with the decoder's message) and keeps it. */
  async add(bytes: Uint8Array, fileName: string) {
    const img = await loadImage(bytes, { name: fileName });
    const stored: StoredImage = {
      id: `u${this.next++}`,
      name: fileName,
      bytes,
      width: img.width,
      height: img.height,
      prepared: new Map(),
    };
    this.images.set(stored.id, stored);
    for (const id of [...this.images.keys()].slice(0, Math.max(0, this.images.size - this.max)))
      this.images.delete(id);
    return { id: `upload:${stored.id}`, name: stored.name, width: stored.width, height: stored.height };
  }

  /** An image reference from the page, preprocessed for the model. */
  async input(m: LoadedModel, ref: string): Promise<ModelInput> {
    let name: string;
    let x: PreprocessedImage;
    if (ref.startsWith('example:')) {
      name = ref.slice('example:'.length);
      x = await loadInput(this.models.examplePath(m, name), m.model);
    } else if (ref.startsWith('upload:')) {
      const img = this.images.get(ref.slice('upload:'.length));
      if (!img) throw new NotFound('that image is no longer on the server; choose it again');
      name = img.name;
      let p = img.prepared.get(m.id);
      if (!p) {
        p = await loadInput(img.bytes, m.model);
        img.prepared.set(m.id, p);
      }
      x = p;
    } else {
      throw new PssError(`"image" must be example:<file> or upload:<id>, got ${JSON.stringify(ref)}`);
    }
    return { name, x, batch: { data: x.data, shape: [1, ...x.shape], display: x.display } };
  }

  clear(): void {
    this.images.clear();
  }
}
