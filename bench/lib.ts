// Helpers shared by the benchmarks: measuring a server process, percentiles, a bearer token.
import fs from 'node:fs';
import { SignJWT } from 'jose';
import { JWT_SECRET } from '../test/helpers.ts';

export const benchToken = (sub = 'bench') =>
  new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2h').sign(new TextEncoder().encode(JWT_SECRET));

/** utime + stime of a process, in ms (Linux /proc; clock ticks of 1/100 s). */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * CPU of every process named `name` (PostgreSQL's `postgres`: its server and each connection's backend), in ms:
 * of every cluster on the machine and whatever else uses them, so measured with nothing else using PostgreSQL. A
 * backend that exits between two readings takes its CPU out of the second (the pools here keep theirs).
 */
export function cpuMsOfAll(name: string): number {
  let total = 0;
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name) total += cpuMs(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

export function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** p50, p90, p99 and max of unsorted values. */
export function latencySummary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: round(sorted.at(-1) ?? NaN) };
}

/** p-th percentile of values sorted ascending. */
export function percentile(sorted: number[], p: number): number {
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
}

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export async function inBatches<T>(n: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => make(i + j)))));
  return out;
}

export function writeResult(file: string, report: unknown): void {
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
}

/** A GraphQL request to `url` as `token`; throws on errors. */
export async function gqlAt(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as any;
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/**
 * Checks streamed tokens "<stream>:<k> " as they arrive: counts them, notes any out of order, and keeps
 * each one's latency from when the vendor wrote it (sentAt, keyed by the token).
 */
export class TokenChecker {
  delivered = 0;
  outOfOrder = 0;
  /** Every timed token: its stream, its index there, when the vendor wrote it, and its latency. */
  readonly timed: { stream: number; k: number; sentAt: number; ms: number }[] = [];
  readonly #next = new Map<number, number>();

  constructor(private readonly sentAt: Map<string, number>) {}

  get latencies(): number[] {
    return this.timed.map((t) => t.ms);
  }

  /** A delta carries one token, or several when the server coalesced what had queued up. */
  receive(stream: number, delta: string, now = performance.now()): void {
    for (const token of delta.trim().split(' ')) {
      const [from, k] = token.split(':').map(Number);
      if (from !== stream || k !== (this.#next.get(stream) ?? 0)) this.outOfOrder++;
      this.#next.set(stream, k + 1);
      this.delivered++;
      const sent = this.sentAt.get(token);
      if (sent !== undefined) {
        this.timed.push({ stream, k, sentAt: sent, ms: now - sent });
      }
    }
  }
}
