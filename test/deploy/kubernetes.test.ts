/**
 * deploy/kubernetes/: every manifest against the Kubernetes API schema, offline — the JSON
 * schema validators of kubernetes-models (types, enums, required fields), and its TypeScript
 * types, whose excess-property check catches the misspelt field the schema lets through
 * (`backofLimitPerIndex` would be ignored by the API server, silently). Then what makes the
 * two Jobs one pipeline: the shard count the same in completions and PSS_SHARDS, retries per
 * index that resume, the merge reading the folder the shards are written to, flags pss has.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1';
import { PersistentVolumeClaim } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import stats from '../../src/cli/commands/stats.js';

const DIR = 'deploy/kubernetes';
const MODELS = {
  Job: { make: (o: object) => new Job(o as never), type: 'IJob', from: 'kubernetes-models/batch/v1/Job' },
  PersistentVolumeClaim: {
    make: (o: object) => new PersistentVolumeClaim(o as never),
    type: 'IPersistentVolumeClaim',
    from: 'kubernetes-models/v1/PersistentVolumeClaim',
  },
} as const;

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked against the schema below
type Manifest = { file: string; kind: keyof typeof MODELS; metadata: { name: string }; [k: string]: any };

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} is valid YAML`);
      const o = doc.toJS();
      assert.ok(Object.hasOwn(MODELS, o.kind), `${file}: a ${o.kind}, which this test knows`);
      out.push({ ...o, file });
    }
  }
  return out;
}

const manifests = loadManifests();
const byName = (name: string) => {
  const m = manifests.find((x) => x.metadata.name === name);
  assert.ok(m, `a manifest named ${name}`);
  return m;
};

describe('deploy/kubernetes against the Kubernetes API', () => {
  it('every document passes the API schema', () => {
    assert.ok(manifests.length >= 4, `${manifests.length} documents`);
    for (const { file, ...m } of manifests)
      assert.doesNotThrow(() => MODELS[m.kind].make(m).validate(), `${file}: ${m.kind} ${m.metadata.name}`);
  });

  it('a field the schema does not know is caught too (TypeScript excess-property check)', () => {
    const dir = join('test-artifacts', `kubernetes-types-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const write = (docs: readonly Manifest[]) => {
      const kinds = [...new Set(docs.map((m) => m.kind))];
      const lines = kinds.map((k) => `import type { ${MODELS[k].type} } from '${MODELS[k].from}';`);
      docs.forEach(({ file: _f, ...m }, i) => {
        lines.push(`export const m${i}: ${MODELS[m.kind].type} = ${JSON.stringify(m)};`);
      });
      writeFileSync(join(dir, 'manifests.ts'), `${lines.join('\n')}\n`);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            types: [],
          },
          files: ['manifests.ts'],
        }),
      );
      const r = spawnSync(join('node_modules', '.bin', 'tsc'), ['-p', dir], { encoding: 'utf8' });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    try {
      const ok = write(manifests);
      assert.equal(ok.code, 0, ok.out);
      // The check can fail: the Job with one field misspelt.
      const job = structuredClone(byName('pss-stats'));
      job.spec.backofLimitPerIndex = job.spec.backoffLimitPerIndex;
      delete job.spec.backoffLimitPerIndex;
      assert.doesNotThrow(() => new Job(job as never).validate(), 'the schema alone lets it through');
      const bad = write([job]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.out, /'"?backofLimitPerIndex"?' does not exist in type 'IJobSpec'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the Indexed Job and its merge Job are one pipeline', async () => {
    const job = byName('pss-stats');
    const merge = byName('pss-stats-merge');
    const spec = job.spec;
    const [pod] = spec.template.spec.containers;
    const env = Object.fromEntries(pod.env.map((e: { name: string }) => [e.name, e]));
    assert.equal(spec.completionMode, 'Indexed');
    assert.ok(spec.parallelism <= spec.completions);
    assert.equal(env.PSS_SHARDS.value, String(spec.completions), 'PSS_SHARDS is the completions');
    assert.equal(
      env.PSS_JOB_UID.valueFrom.fieldRef.fieldPath,
      "metadata.labels['batch.kubernetes.io/controller-uid']",
    );
    assert.ok(spec.backoffLimitPerIndex >= 1, 'each index is retried');
    assert.equal(spec.podReplacementPolicy, 'Failed', 'never two pods of one index at once');
    assert.equal(spec.template.spec.restartPolicy, 'Never');
    const failIndex = spec.podFailurePolicy.rules.find((r: { action: string }) => r.action === 'FailIndex');
    assert.deepEqual(failIndex.onExitCodes, { containerName: pod.name, operator: 'In', values: [1] });

    const args: string[] = pod.args;
    const after = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
    assert.equal(args[0], 'stats');
    assert.equal(after(args, '--shard'), 'auto');
    assert.ok(args.includes('--resume'), 'a retried index continues its checkpoint');
    const [mergePod] = merge.spec.template.spec.containers;
    const shards = after(args, '--out-dir');
    assert.deepEqual(mergePod.args.slice(0, 3), ['stats', 'merge', shards]);
    assert.equal(pod.image, mergePod.image);

    // Every flag is one of pss stats' (stats merge has --out alone).
    const flags = Object.keys(stats.args as object);
    for (const a of args.filter((x) => x.startsWith('--')))
      assert.ok(flags.includes(a.slice(2)), `pss stats has ${a}`);
    assert.deepEqual(
      mergePod.args.filter((x: string) => x.startsWith('--')),
      ['--out'],
    );

    // The shards' folder and the merged file are on the same claim, mounted where both look.
    const claims = new Set(
      manifests.filter((m) => m.kind === 'PersistentVolumeClaim').map((m) => m.metadata.name),
    );
    const claimOf = (j: Manifest, path: string) => {
      const podSpec = j.spec.template.spec;
      const mount = podSpec.containers[0].volumeMounts.find(
        (v: { mountPath: string }) => path === v.mountPath || path.startsWith(`${v.mountPath}/`),
      );
      assert.ok(mount, `${j.metadata.name} mounts a volume at ${path}`);
      const volume = podSpec.volumes.find((v: { name: string }) => v.name === mount.name);
      const claim = volume?.persistentVolumeClaim?.claimName;
      assert.ok(claims.has(claim), `${j.metadata.name}: ${path} is on a claim of volumes.yaml (${claim})`);
      return { claim, readOnly: Boolean(mount.readOnly) };
    };
    assert.deepEqual(claimOf(job, shards), claimOf(merge, shards));
    assert.equal(claimOf(job, shards).readOnly, false);
    assert.equal(claimOf(merge, posix.dirname(after(mergePod.args, '--out'))).readOnly, false);
    const work = manifests.find((m) => m.metadata.name === claimOf(job, shards).claim)!;
    assert.deepEqual(work.spec.accessModes, ['ReadWriteMany'], 'every pod writes into it at once');
  });
});
