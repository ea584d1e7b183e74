/**
 * Opening `--data`: an ImageNet-style folder (one subfolder per class, class index = sorted
 * folder name, as torchvision's ImageFolder), a CSV or JSONL list of (path, label), or an
 * IDX images file (its labels file beside it).
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { PssError } from '../errors.js';
import { loadInput } from '../image/input.js';
import { ioError, readTextChecked } from '../io/files.js';
import type { Model } from '../models/model.js';
import type { Dataset, Sample } from './dataset.js';
import { idxDataset } from './idx.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.bmp']);

export async function openDataset(source: string, model: Model, limit?: number): Promise<Dataset> {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(source);
  } catch {
    throw new PssError(`dataset not found: ${source}`);
  }
  let data: Dataset;
  if (stat.isDirectory()) {
    try {
      data = folderDataset(source, model);
    } catch (e) {
      throw ioError(e, 'read the dataset folder', source);
    }
  } else if (/idx3-ubyte(\.gz)?$/.test(source)) {
    const labels = source.replace('images-idx3', 'labels-idx1');
    const [c, h, w] = model.arch.inputShape;
    data = await idxDataset(source, labels, {
      ...model.arch.preprocessing,
      channels: c,
      height: h,
      width: w,
    });
  } else if (/\.(csv|jsonl)$/i.test(source)) data = await listDataset(source, model);
  else
    throw new PssError(`--data ${source}: expected a folder, a .csv or .jsonl list, or an IDX images file`);
  if (limit !== undefined && limit < data.length) {
    return {
      ...data,
      identity: data.identity ?? data.description,
      description: `${data.description}, first ${limit}`,
      length: limit,
    };
  }
  return data;
}

function imageSample(path: string, label: number, model: Model): Sample {
  return { id: path, label, load: async () => (await loadInput(path, model)).data };
}

function folderDataset(root: string, model: Model): Dataset {
  const classes = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  if (!classes.length) throw new PssError(`${root} has no class subfolders`);
  if (classes.length > model.numClasses)
    throw new PssError(
      `${root} has ${classes.length} class folders; ${model.name} has ${model.numClasses} classes`,
    );
  const items: [string, number][] = [];
  classes.forEach((cls, label) => {
    const files = readdirSync(join(root, cls), { recursive: true })
      .map(String)
      .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort();
    for (const f of files) items.push([join(root, cls, f), label]);
  });
  if (!items.length) throw new PssError(`${root} has no images in its class folders`);
  return {
    description: `folder:${resolve(root)} (${items.length} images, ${classes.length} classes)`,
    length: items.length,
    item: (i) => imageSample(items[i][0], items[i][1], model),
  };
}

async function listDataset(path: string, model: Model): Promise<Dataset> {
  const text = await readTextChecked(path, 'dataset list');
  const base = dirname(path);
  const rows: [string, number][] = [];
  const jsonl = /\.jsonl$/i.test(path);
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let file: unknown;
    let label: unknown;
    if (jsonl) {
      try {
        ({ path: file, label } = JSON.parse(line));
      } catch {
        throw new PssError(`${path}:${i + 1}: not a JSON object`);
      }
    } else {
      const cells = line.split(',').map((c) => c.trim());
      if (i === 0 && cells[1] !== undefined && Number.isNaN(Number(cells[1]))) return; // header
      [file, label] = [cells[0], Number(cells[1])];
    }
    const n = Number(label);
    if (typeof file !== 'string' || !file || !Number.isInteger(n) || n < 0 || n >= model.numClasses)
      throw new PssError(`${path}:${i + 1}: expected a path and a label in 0..${model.numClasses - 1}`);
    rows.push([resolve(base, file), n]);
  });
  if (!rows.length) throw new PssError(`${path} lists no images`);
  return {
    description: `list:${resolve(path)} (${rows.length} images)`,
    length: rows.length,
    item: (i) => imageSample(rows[i][0], rows[i][1], model),
  };
}
