/**
 * The explorer's JSON API (server.ts answers the errors). Upload bodies are streamed to disk
 * under their limit (uploads.ts) before their turn in the queue; the heavy work (loading,
 * decoding, ONNX Runtime runs) goes through the one JobQueue.
 *
 *   GET  /api/state                         loaded models, architectures, unit sets, limits
 *   GET  /api/status                        what the server is computing now (the page polls it)
 *   POST /api/files?kind=&name=             body: weights, statistics or a preprocessing description → {id: "upload:f1"}
 *   POST /api/models          {arch, weights?, stats?, units?}   a built-in model (bundled, uploaded or cached weights)
 *   POST /api/models/onnx?name=&stats=&preprocessing=&units=   body: an .onnx file
 *   DELETE /api/models/:id                  release a model
 *   GET  /api/models/:id/examples/:file     a shipped example image
 *   POST /api/images?name=                  body: an image file → {id: "upload:u1"}
 *   POST /api/predict         {model, image, zero?}      top-5, optionally with units turned off
 *   POST /api/explain         {model, image, label, k?, boost?, filters?, profile?, standardize?: "z"|"pot"}
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { MAX_PIXELS } from '../image/budget.js';
import { UNIT_SETS, type UnitSet } from '../models/units.js';
import { STANDARDIZATIONS, type Standardization } from '../saliency/standardize.js';
import { unitName, unitsName } from '../saliency/units.js';
import type { Explorer } from './explorer.js';
import { HttpError, indexList, numberField, readJson, sendJson, stringField } from './http.js';
import { displayName } from './images.js';
import type { JobQueue } from './queue.js';
import { type FileKind, kindName } from './uploads.js';

export interface Limits {
  /** Largest image upload in bytes (default 20 MB). */
  imageBytes: number;
  /** Largest ONNX upload in bytes (default 200 MB). */
  onnxBytes: number;
  /** Largest weights or statistics upload (default 600 MB: VGG-19's weights are 550 MB). */
  fileBytes: number;
}

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  /** Fires when the browser gives up on the request. */
  signal: AbortSignal;
  /** Paths the request named itself (shown back in errors as typed; only with --allow-paths). */
  typed: string[];
}
export type Handler = (c: Context) => Promise<void>;

export const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};
const FILE_KINDS: readonly FileKind[] = ['weights', 'stats', 'preprocessing'];
const DESCRIPTION_BYTES = 1_000_000;

export function apiRoutes(
  explorer: Explorer,
  queue: JobQueue,
  limits: Limits,
  headers: Record<string, string>,
): [string, RegExp, Handler][] {
  const { models, images, uploads } = explorer;
  const query = (c: Context, key: string) => c.url.searchParams.get(key) || undefined;
  const receive = (c: Context, name: string, limit: number, what: string) =>
    uploads.receive(c.req, name, limit, what, c.signal);
  /** A field that names one of `options` (absent: undefined, the default's choice), or a 400. */
  const oneOf = <T extends string>(
    key: string,
    v: string | undefined,
    options: readonly T[],
  ): T | undefined => {
    if (v === undefined || (options as readonly string[]).includes(v)) return v as T | undefined;
    throw new HttpError(400, `"${key}" must be one of ${options.join(', ')}, got ${JSON.stringify(v)}`);
  };
  /** The unit set the page asks for (absent: the architecture's default). */
  const unitsOf = (v: string | undefined) => oneOf('units', v, Object.keys(UNIT_SETS) as UnitSet[]);
  /** The standardisation the page asks for (absent: the server's, pss serve --standardize). */
  const standardizeOf = (v: string | undefined) => oneOf<Standardization>('standardize', v, STANDARDIZATIONS);
  /** A file reference from the page; a path (not an upload or a cache name) is "typed". */
  const ref = (c: Context, v: string | undefined) => {
    if (v && !/^(upload:|tv:|hf:|https?:)/.test(v)) c.typed.push(v);
    return v;
  };

  return [
    [
      'GET',
      /^\/api\/state$/,
      async (c) =>
        sendJson(c.res, 200, {
          initial: explorer.initialId,
          models: models.loaded(),
          architectures: models.architectures(),
          unitSets: UNIT_SETS,
          limits: { ...limits, maxPixels: MAX_PIXELS },
          allowPaths: models.options.allowPaths === true,
          standardize: { method: explorer.standardize, potQuantile: models.potQuantile },
          status: queue.status(),
        }),
    ],
    ['GET', /^\/api\/status$/, async (c) => sendJson(c.res, 200, queue.status())],
    [
      'POST',
      /^\/api\/files$/,
      async (c) => {
        const kind = query(c, 'kind') as FileKind;
        if (!FILE_KINDS.includes(kind))
          throw new HttpError(400, `"kind" must be one of ${FILE_KINDS.join(', ')}`);
        const name = displayName(query(c, 'name'), kindName(kind));
        const limit = kind === 'preprocessing' ? DESCRIPTION_BYTES : limits.fileBytes;
        const u = await receive(c, name, limit, `the ${kindName(kind)} ${name}`);
        if (u.bytes === 0) {
          await uploads.discard(u);
          throw new HttpError(400, `the ${kindName(kind)} ${name} is empty`);
        }
        const f = uploads.keep(u, kind);
        sendJson(c.res, 200, { id: `upload:${f.id}`, name: f.name, bytes: f.bytes, kind });
      },
    ],
    [
      'POST',
      /^\/api\/models$/,
      async (c) => {
        const body = await readJson(c.req);
        const arch = stringField(body, 'arch');
        const weights = ref(c, stringField(body, 'weights', true));
        const stats = ref(c, stringField(body, 'stats', true));
        const units = unitsOf(stringField(body, 'units', true));
        const m = await queue.run(
          `loading ${arch}`,
          () => models.loadBuiltin(arch, { weights, stats, units }),
          c.signal,
        );
        sendJson(c.res, 200, models.info(m));
      },
    ],
    [
      'POST',
      /^\/api\/models\/onnx$/,
      async (c) => {
        const name = displayName(query(c, 'name'), 'model.onnx');
        const stats = ref(c, query(c, 'stats'));
        const preprocessing = query(c, 'preprocessing');
        const units = unitsOf(query(c, 'units'));
        const u = await receive(c, name, limits.onnxBytes, `the ONNX file ${name}`);
        try {
          if (u.bytes === 0) throw new HttpError(400, `the ONNX file ${name} is empty`);
          const m = await queue.run(
            `importing ${name}`,
            () => models.loadOnnx(u, { stats, preprocessing, units }),
            c.signal,
          );
          sendJson(c.res, 200, models.info(m));
        } finally {
          await uploads.discard(u);
        }
      },
    ],
    [
      'DELETE',
      /^\/api\/models\/([^/]+)$/,
      async (c) => {
        const m = models.get(c.params[0]);
        if (m.pinned) throw new HttpError(400, `${m.title} was loaded by the command line and stays loaded`);
        await queue.run(`releasing ${m.title}`, () => models.release(m), c.signal);
        sendJson(c.res, 200, { released: m.id });
      },
    ],
    [
      'GET',
      /^\/api\/models\/([^/]+)\/examples\/([^/]+)$/,
      async (c) => {
        const m = models.get(c.params[0]);
        const data = await readFile(models.examplePath(m, c.params[1]));
        const type = IMAGE_TYPES[extname(c.params[1]).toLowerCase()] ?? 'application/octet-stream';
        c.res.writeHead(200, { 'content-type': type, 'cache-control': 'max-age=3600', ...headers });
        c.res.end(data);
      },
    ],
    [
      'POST',
      /^\/api\/images$/,
      async (c) => {
        const name = displayName(query(c, 'name'), 'image');
        const u = await receive(c, name, limits.imageBytes, `the image ${name}`);
        try {
          const image = await queue.run(`decoding ${name}`, () => images.addUpload(u), c.signal);
          sendJson(c.res, 200, image);
        } finally {
          await uploads.discard(u);
        }
      },
    ],
    [
      'POST',
      /^\/api\/predict$/,
      async (c) => {
        const body = await readJson(c.req);
        const m = models.get(stringField(body, 'model'));
        const image = stringField(body, 'image');
        const zero = indexList(body, 'zero', m.model.unitCount) ?? [];
        const t0 = Date.now();
        const what = zero.length
          ? `predicting with ${zero.length} ${unitsName(m.model.layers)} zeroed`
          : 'predicting';
        const { logits: _, ...p } = await queue.run(
          `${what} (${m.model.name})`,
          () => explorer.predict(m, image, zero),
          c.signal,
        );
        sendJson(c.res, 200, { ...p, model: m.id, image, elapsedMs: Date.now() - t0 });
      },
    ],
    [
      'POST',
      /^\/api\/explain$/,
      async (c) => {
        const body = await readJson(c.req);
        const m = models.get(stringField(body, 'model'));
        const image = stringField(body, 'image');
        const request = {
          label: numberField(body, 'label', { min: 0, max: m.model.numClasses - 1, integer: true }),
          k: numberField(body, 'k', { min: 1, max: m.model.unitCount, integer: true, fallback: 10 }),
          boost: numberField(body, 'boost', { min: 0, max: 1e6, fallback: 100 }),
          filters: indexList(body, 'filters', m.model.unitCount),
          profile: body.profile !== false,
          standardize: standardizeOf(stringField(body, 'standardize', true)),
        };
        if (request.filters?.length === 0) throw new HttpError(400, '"filters" is empty');
        const t0 = Date.now();
        const what = request.filters
          ? `${request.filters.length} chosen ${unitName(m.model.layers)}(s)`
          : `top ${request.k} ${unitsName(m.model.layers)}${(request.standardize ?? explorer.standardize) === 'pot' ? ' by POT' : ''}`;
        const r = await queue.run(
          `explaining (${what}, ${m.model.name})`,
          () => explorer.explain(m, image, request),
          c.signal,
        );
        sendJson(c.res, 200, { ...r, model: m.id, image, elapsedMs: Date.now() - t0 });
      },
    ],
  ];
}
