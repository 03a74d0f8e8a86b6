// A server at rest: how long from its process start until it serves, and how much memory it holds once it
// has served one page of conversations, on the embedded database and on a migrated PostgreSQL.
//
//   node --import tsx bench/footprint.ts [--rounds 3] [--command "node dist/main.js"] [--out bench/results/footprint.json]
//
// --command is what runs the server (default: the production command); its RSS is read from /proc, for the
// process that serves (npm's own process is not counted when the command is `npm start`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createScratchDatabase } from '../test/cluster.ts';
import { JWT_SECRET } from '../test/helpers.ts';
import { benchToken, gqlAt, round, rssKb, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    command: { type: 'string', default: 'node dist/main.js' },
    out: { type: 'string', default: 'bench/results/footprint.json' },
  },
});

const PAGE = `{ conversations(first: 20) { totalCount edges { node { id title preview messageCount messages(last: 5) { edges { node { role content } } } } } } }`;

/** The pid of the process listening for the server: the command itself, or its node child. */
function serverPid(pid: number): number {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.length ? serverPid(children.at(-1)!) : pid;
}

async function measure(databaseUrl: string) {
  const [command, ...args] = values.command.split(' ');
  const started = performance.now();
  const proc = spawn(command, args, {
    env: { PATH: process.env.PATH!, PORT: '0', DATABASE_URL: databaseUrl, AUTH_JWT_SECRET: JWT_SECRET, NODE_ENV: 'production', LOG_LEVEL: 'info' },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = /serving GraphQL at (http:\/\/[^"\s]+)/.exec(output);
      if (match) resolve(match[1]);
    });
    proc.stderr!.on('data', (chunk) => (output += chunk));
    proc.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  const servingMs = performance.now() - started;
  const token = await benchToken();
  for (let i = 0; i < 3; i++) await gqlAt(url, token, 'mutation { createConversation(input: { title: "footprint" }) { conversation { id } } }');
  await gqlAt(url, token, PAGE);
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // at rest
  const rssMb = rssKb(serverPid(proc.pid!)) / 1024;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
  return { servingMs: round(servingMs), rssMb: round(rssMb) };
}

const database = await createScratchDatabase('chat_footprint');
const rounds: { db: string; servingMs: number; rssMb: number }[] = [];
try {
  for (let i = 0; i < Number(values.rounds); i++) {
    rounds.push({ db: 'postgresql', ...(await measure(database.url)) });
    // The embedded default, a data directory: its first start migrates it (and loads the schema engine,
    // whose wasm stays for the life of the process); every later start finds it migrated.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-footprint-'));
    rounds.push({ db: 'pglite, first start', ...(await measure(`pglite:${dir}`)) });
    rounds.push({ db: 'pglite', ...(await measure(`pglite:${dir}`)) });
    fs.rmSync(dir, { recursive: true, force: true });
  }
} finally {
  await database.drop();
}
writeResult(values.out, { date: new Date().toISOString(), node: process.version, command: values.command, rounds });
console.log('| database | start → serving | idle RSS after one page |');
console.log('| --- | --- | --- |');
for (const r of rounds) console.log(`| ${r.db} | ${r.servingMs} ms | ${r.rssMb} MB |`);
process.exit(0);
