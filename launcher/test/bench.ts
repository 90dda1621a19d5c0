/**
 * Benchmark: time from `yolo-lab up` to a kernel's first execute reply,
 * with the image present (goal: under 3 s on the 2-core build machine).
 * The kernel is started as soon as `up` prints the URL (Jupyter answers),
 * while `up` goes on running the doctor inside; when `up` itself ends is
 * printed too.
 *   npm run bench [-- ROUNDS]        (default 3 rounds; median printed)
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

import { CLI, HOST_NET, IMAGE, yoloLab } from './helpers';
import { KernelClient } from './kernel';

/** Start `yolo-lab up`; resolves with the URL line as soon as it is printed, and with the exit later. */
function startUp(name: string): { url: Promise<string>; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [CLI, 'up', '--name', name, ...HOST_NET, '--image', IMAGE, '--runs', '/tmp/yolo-lab-bench-runs'],
    {
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  let err = '';
  child.stderr.on('data', chunk => (err += chunk));
  const url = new Promise<string>((done, fail) => {
    let out = '';
    child.stdout.on('data', chunk => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n')) done(line.trim());
    });
    child.on('close', code =>
      fail(new Error(`yolo-lab up exited (${code}) before printing the URL:\n${err}`))
    );
  });
  const exit = new Promise<number | null>(done => child.on('close', done));
  return { url, exit, stderr: () => err };
}

async function round(name: string): Promise<{ ready: number; reply: number; up: number }> {
  const t0 = performance.now();
  const run = startUp(name);
  const url = new URL(await run.url);
  const tReady = performance.now();
  const token = url.searchParams.get('token')!;
  const kernel = await KernelClient.start(url.origin, token);
  const reply = await kernel.execute('1 + 1');
  const tReply = performance.now();
  const code = await run.exit;
  const tUp = performance.now();
  try {
    if (reply.status !== 'ok') throw new Error(`execute failed: ${JSON.stringify(reply)}`);
    if (code !== 0) throw new Error(`yolo-lab up failed (${code}):\n${run.stderr()}`);
    await kernel.shutdown();
  } finally {
    await yoloLab(['down', name]);
  }
  return { ready: (tReady - t0) / 1000, reply: (tReply - t0) / 1000, up: (tUp - t0) / 1000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const results = [];
  for (let i = 0; i < rounds; i++) {
    const r = await round(`yolo-lab-bench-${process.pid}-${i}`);
    results.push(r);
    console.log(
      `round ${i + 1}: URL printed ${r.ready.toFixed(2)} s, first execute reply ${r.reply.toFixed(2)} s, ` +
        `up finished (doctor included) ${r.up.toFixed(2)} s`
    );
  }
  const m = median(results.map(r => r.reply));
  console.log(
    `median over ${rounds}: up -> first execute reply ${m.toFixed(2)} s (goal < 3 s); ` +
      `up -> URL ${median(results.map(r => r.ready)).toFixed(2)} s; up -> end of up (doctor done) ${median(results.map(r => r.up)).toFixed(2)} s`
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
