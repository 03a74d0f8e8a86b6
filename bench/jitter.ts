// How irregular a 1 ms timer is on this machine with nothing else to do: the scheduling noise of the host,
// which every latency measured here sits on. Counted: gaps of more than 3 ms between two ticks. One probe
// per CPU (pinned with taskset when it is there), so a CPU that is paused more than the others shows.
//
//   node --import tsx bench/jitter.ts [--seconds 10] [--out bench/results/jitter.json]
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    out: { type: 'string', default: 'bench/results/jitter.json' },
    probe: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);

if (values.probe) {
  // In the probe process: note every gap of more than 3 ms between two ticks.
  const gapsMs: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > 3) gapsMs.push(now - last);
    last = now;
  }, 1);
  setTimeout(() => {
    clearInterval(timer);
    console.log(JSON.stringify(gapsMs));
  }, SECONDS * 1000);
} else {
  const pinned = spawnSync('taskset', ['--version']).status === 0;
  const probes = await Promise.all(
    Array.from({ length: availableParallelism() }, (_, cpu) => {
      const command = [process.execPath, '--import', 'tsx', 'bench/jitter.ts', '--probe', '--seconds', String(SECONDS)];
      return runProbe(pinned ? ['taskset', '-c', String(cpu), ...command] : command).then((gapsMs) => ({ cpu: pinned ? cpu : null, ...summarize(gapsMs) }));
    }),
  );
  writeResult(values.out, { date: new Date().toISOString(), seconds: SECONDS, probes });
  console.log('| CPU | gaps > 3 ms per second | time in them | longest |');
  console.log('| --- | --- | --- | --- |');
  for (const p of probes) console.log(`| ${p.cpu ?? 'any'} | ${p.perSecond} | ${p.percentOfTime}% | ${p.maxMs} ms |`);
}

async function runProbe(command: string[]): Promise<number[]> {
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(output);
}

function summarize(gapsMs: number[]) {
  const total = gapsMs.reduce((sum, ms) => sum + ms, 0);
  return { gaps: gapsMs.length, perSecond: round(gapsMs.length / SECONDS), percentOfTime: round((100 * total) / (SECONDS * 1000)), maxMs: round(Math.max(0, ...gapsMs)) };
}
