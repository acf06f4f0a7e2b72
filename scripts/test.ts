// `npm test`: type-check everything, build what the UI tests load, then run every suite
// with Node's test runner. Suites that need root (network namespaces) skip themselves with
// a stated reason elsewhere; CI runs as root, so there they run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
process.chdir(root);

function run(cmd: string, args: string[]): void {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
run(tsc, ['-p', 'tsconfig.json']);
if (existsSync('renderer/tsconfig.json')) run(tsc, ['-p', 'renderer/tsconfig.json']);
if (existsSync('scripts/build.ts')) run(process.execPath, ['scripts/build.ts']);

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.test.ts') ? [p] : [];
    })
    .sort();
}

// `npm test -- test/unit` (or single files) narrows the run.
const only = process.argv.slice(2);
const files = (only.length ? only : ['test/unit', 'test/integration', 'test/netlab', 'test/ui']).flatMap((p) =>
  p.endsWith('.ts') ? [p] : testFiles(p),
);
// Network-namespace suites start dozens of processes: they run after the rest, one file at a
// time, so that they neither starve nor are starved by the other suites on a 2-core machine.
const lab = files.filter((f) => f.includes('netlab'));
const rest = files.filter((f) => !f.includes('netlab'));
if (rest.length) run(process.execPath, ['--test', `--test-concurrency=${process.env.PARLEY_TEST_CONCURRENCY ?? 2}`, '--test-timeout=600000', ...rest]);
if (lab.length) run(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=600000', ...lab]);
