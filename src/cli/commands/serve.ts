/** `pss serve`: the web explorer — a local page over the same library, until Ctrl+C. */
import { defineCommand } from 'citty';
import { PssError } from '../../errors.js';
import { exposureWarning, isLoopback, newToken, parseOrigins } from '../../web/access.js';
import { Explorer } from '../../web/explorer.js';
import { startServer } from '../../web/server.js';
import {
  engineOptions,
  modelArgs,
  modelSpec,
  rankArgs,
  runtimeArgs,
  standardizeArgs,
  standardizeFlags,
} from '../args.js';
import { intFlag } from '../parse.js';

const command = defineCommand({
  meta: {
    name: 'serve',
    description:
      'Start the web explorer: pick a model and an image, see the prediction, the filter-saliency profile (hover, click a filter for its input-space map), Grad-CAM, and the prediction with chosen filters zeroed. Serves on 127.0.0.1 until interrupted.',
  },
  args: {
    port: {
      type: 'string',
      default: '8765',
      description: 'Port to listen on (0: any free port; the URL is printed)',
      valueHint: 'n',
    },
    host: {
      type: 'string',
      default: '127.0.0.1',
      description:
        'Address to listen on. Off the loopback interface every request must carry a token, printed once in the URL',
      valueHint: 'address',
    },
    'allow-origin': {
      type: 'string',
      description:
        'Other origins whose pages may use the explorer (comma-separated, e.g. http://myhost:8765)',
      valueHint: 'origins',
    },
    'allow-paths': {
      type: 'boolean',
      default: false,
      description:
        'Let the page name files on this machine by path (weights, statistics); otherwise it uploads them',
    },
    ...modelArgs,
    stats: {
      ...rankArgs.stats,
      description: 'Validation statistics for --model (default: the bundled ones)',
    },
    ...standardizeArgs,
    ...runtimeArgs,
  },
  async run({ args }) {
    const port = intFlag(args.port, 'port', 0)!;
    if (port > 65535) throw new PssError(`--port must be at most 65535, got ${port}`);
    const allowOrigins = parseOrigins(args['allow-origin']);
    const allowPaths = args['allow-paths'] === true;
    const token = isLoopback(args.host) ? undefined : newToken();
    // refused before anything loads: a non-loopback address needs the token (it always gets one)
    const warning = exposureWarning({ host: args.host, port, allowOrigins, token, allowPaths });
    const how = standardizeFlags(args);
    const explorer = new Explorer({
      ...engineOptions(args),
      allowPaths,
      standardize: how.method,
      potQuantile: how.q,
    });
    if (args.weights || args.model !== 'fashion-cnn') console.error(`loading ${args.model}…`);
    await explorer.loadInitial({ ...modelSpec(args), stats: args.stats });
    // --standardize pot is refused at start when the model's statistics cannot serve it
    explorer.models.standardized(explorer.models.get(explorer.initialId), how.method);
    const server = await startServer({ explorer, host: args.host, port, allowOrigins, token });
    if (warning) console.error(warning.replace(`:${port}`, `:${server.port}`));
    console.log(`pss explorer: ${server.url}  (Ctrl+C stops it)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    // a second signal, or a job that outlasts the grace time, ends the process at once
    const now = () => process.exit(130);
    process.once('SIGINT', now);
    process.once('SIGTERM', now);
    console.log('pss explorer: stopping');
    const stopped = await server.close(2000);
    if (!stopped) {
      console.error('pss explorer: a computation was still running; stopped without waiting for it');
      explorer.uploads.close();
      process.exit(0);
    }
    await explorer[Symbol.asyncDispose]();
  },
});

export default Object.assign(command, {
  ownSignals: true,
  help: {
    notes: [
      'Everything is computed on this machine, in the server process, with ONNX Runtime (the same code as the other commands). Uploads are streamed to a private temporary folder and limited to 20 MB for images, 200 MB for ONNX files and 600 MB for weights; the page never downloads weights: upload a file, or use weights already in the download cache (fetch them once with pss saliency --weights tv:<arch>). The page names files on this machine only with --allow-paths.',
    ],
    examples: [
      ['pss serve', 'the bundled Fashion-MNIST model and its examples at http://127.0.0.1:8765/'],
      [
        'pss serve --model resnet50 --weights tv:resnet50 --stats resnet50-val.safetensors',
        'start with ResNet-50 (downloaded once into the cache) and its validation statistics',
      ],
      ['pss serve --port 0', 'any free port'],
      [
        'pss serve --standardize pot',
        'the page starts ranking by POT (the bundled statistics keep tails); it can switch to z',
      ],
      [
        'pss serve --host 0.0.0.0',
        'on every interface: the printed URL carries the token every request needs',
      ],
    ],
  },
});
