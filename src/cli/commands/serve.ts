/** `pss serve`: the web explorer — a local page over the same library, until Ctrl+C. */
import { defineCommand } from 'citty';
import { PssError } from '../../errors.js';
import { Explorer } from '../../web/explorer.js';
import { startServer } from '../../web/server.js';
import { engineOptions, modelArgs, modelSpec, rankArgs, runtimeArgs } from '../args.js';
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
        'Address to listen on. The explorer reads local files named in the page (weights, statistics): keep it on the loopback address unless the network is yours',
      valueHint: 'address',
    },
    ...modelArgs,
    stats: {
      ...rankArgs.stats,
      description: 'Validation statistics for --model (default: the bundled ones)',
    },
    ...runtimeArgs,
  },
  async run({ args }) {
    const port = intFlag(args.port, 'port', 0)!;
    if (port > 65535) throw new PssError(`--port must be at most 65535, got ${port}`);
    await using explorer = new Explorer(engineOptions(args));
    if (args.weights || args.model !== 'fashion-cnn') console.error(`loading ${args.model}…`);
    await explorer.loadInitial({ ...modelSpec(args), stats: args.stats });
    const server = await startServer({ explorer, host: args.host, port });
    console.log(`pss explorer: ${server.url}  (Ctrl+C stops it)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    console.log('pss explorer: stopping');
    await server.close();
  },
});

export default Object.assign(command, {
  ownSignals: true,
  help: {
    notes: [
      'Everything is computed on this machine, in the server process, with ONNX Runtime (the same code as the other commands). Uploads are limited to 20 MB for images and 200 MB for ONNX files; the page never downloads weights: give a local file, or weights already in the download cache (fetch them once with pss saliency --weights tv:<arch>).',
    ],
    examples: [
      ['pss serve', 'the bundled Fashion-MNIST model and its examples at http://127.0.0.1:8765/'],
      [
        'pss serve --model resnet50 --weights tv:resnet50 --stats resnet50-val.safetensors',
        'start with ResNet-50 (downloaded once into the cache) and its validation statistics',
      ],
      ['pss serve --port 0', 'any free port'],
    ],
  },
});
