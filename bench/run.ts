// vxnet benchmarks: each figure beside the reference it must beat (or the kernel limit it cannot),
// measured in the same run on the same machine. `npm run bench` (full), `npm run bench -- --smoke`
// (small sizes, run by the test command so that the suite cannot rot). Writes bench/results.json;
// a full run also rewrites the figures table of docs/performance.md.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../test/helpers/agent';
import { attachFigures } from './attach';
import { bulkFigures } from './bulk';
import { BenchCluster } from './cluster';
import { convergenceFigures } from './convergence';
import { dataPlaneFigures } from './dataplane';
import { dockerFigures } from './docker';
import { dnsFigures } from './dns';
import { beginSection, figures } from './figures';
import { chartable, sectionChart, slug } from './chart';
import { performanceBlock, withBlock } from './report';
import { scaleFigures } from './scale';
import { N, SMOKE } from './sizes';

// The sections in order, each printing its heading and figures; the numbers are the headings'.
async function main(): Promise<void> {
  console.log(
    `vxnet bench${SMOKE ? ' (smoke: small sizes)' : ''} on ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}`,
  );
  const cluster = new BenchCluster();
  process.on('SIGINT', () => void cluster.stop().then(() => process.exit(130)));
  try {
    const c = await cluster.start();
    beginSection('Connect and attach');
    const connect = await attachFigures(c);
    beginSection('Convergence');
    await convergenceFigures(c);
    beginSection('Bulk programming');
    const bulkNetId = await bulkFigures(c);
    beginSection('Scale, memory and restart');
    await scaleFigures(c, bulkNetId, connect);
    beginSection('Data plane');
    dataPlaneFigures(c);
    beginSection('Names');
    await dnsFigures(c);
  } finally {
    await cluster.stop();
  }
  console.log("\n8. Docker 20.10: the vxnet plugin against Docker's own overlay driver (2 hosts, etcd cluster store)");
  beginSection('Docker');
  await dockerFigures(N.docker);
  writeResults();
}

// bench/results.json always; the figures table of docs/performance.md on a full run.
function writeResults(): void {
  const out = {
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      kernel: os.release(),
      node: process.version,
      smoke: SMOKE,
      date: new Date().toISOString(),
    },
    figures,
  };
  fs.mkdirSync(path.join(ROOT, 'bench'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote bench/results.json (${figures.length} figures)`);
  // Only a full run's figures describe vxnet; the smoke run's small sizes would replace them.
  if (!SMOKE) {
    const charts = path.join(ROOT, 'docs', 'charts');
    fs.mkdirSync(charts, { recursive: true });
    for (const [name, inSection] of sections(figures))
      if (chartable(inSection).length)
        fs.writeFileSync(path.join(charts, `${slug(name)}.svg`), sectionChart(name, inSection));
    const doc = path.join(ROOT, 'docs', 'performance.md');
    fs.writeFileSync(doc, withBlock(fs.readFileSync(doc, 'utf8'), performanceBlock(out)));
    console.log('wrote the figures table of docs/performance.md');
  }
  const missed = figures.filter((f) => f.target && !f.met);
  console.log(missed.length ? `targets not met: ${missed.map((f) => f.name).join('; ')}` : 'every target met');
}

function sections(all: typeof figures): Map<string, typeof figures> {
  const by = new Map<string, typeof figures>();
  for (const f of all) {
    const name = f.section ?? 'Other';
    by.set(name, [...(by.get(name) ?? []), f]);
  }
  return by;
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
