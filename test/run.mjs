// Runs every test/**/*.test.ts with Node's test runner (Node 20 has no glob for --test).
// Extra arguments filter the files by substring: `npm test -- stats`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const filters = process.argv.slice(2);
const files = readdirSync('test', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts') && (!filters.length || filters.some((s) => f.includes(s))))
  .sort()
  .map((f) => `test/${f}`);
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files];
const { status } = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(status ?? 1);
