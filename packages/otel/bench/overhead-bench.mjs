// Diagnostics overhead benchmark: what the client's diagnostics_channel events cost, with nobody listening,
// with no-op subscribers on every channel, and with the OpenTelemetry bridge on, against the client as it was
// before the events existed (built from git, BASELINE_REF), all on one local etcd, in one run.
//
//   npm run bench -w @etcdkit/otel           (ROUNDS=15 for more rounds, SCALE=2 for twice the operations)
//
// Each round runs every variant once, in a rotating order; a variant's ratio in a round is the baseline's time
// divided by its own (>1: faster than the baseline). The table gives the median ratio over the rounds and its
// spread (min-max). "baseline again" is the baseline measured twice per round: its spread is the noise.
import { execFileSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ClientChannels, Client as CurrentClient, KeysAPI as CurrentKeysAPI } from '@etcdkit/client';
import { RecipeChannels } from '@etcdkit/recipes';
import { startCluster } from '@etcdkit/testkit';
import { metrics, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { instrument } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
/** The last commit before the diagnostics events (the client as it was). */
const BASELINE_REF = process.env.BASELINE_REF ?? '4bde06cf3ca9e42c9dc9291c38162ce2b9453f44';
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const scale = Number(process.env.SCALE ?? 1);
const N_SEQ = Math.round(300 * scale);
const N_CONC = Math.round(2000 * scale);
const N_WATCH = Math.round(30 * scale);
const CONCURRENCY = 64;

/** Builds packages/client/src at BASELINE_REF into a scratch folder (inside the repository, for node_modules). */
function buildBaseline() {
  const dir = join(root, '.bench-baseline', BASELINE_REF.slice(0, 12));
  const entry = join(dir, 'dist', 'index.js');
  if (existsSync(entry)) return entry;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tar = execFileSync('git', [
    '-C',
    root,
    'archive',
    '--format=tar',
    BASELINE_REF,
    'packages/client/src',
  ]);
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.base.json'),
      compilerOptions: {
        rootDir: 'packages/client/src',
        outDir: 'dist',
        declaration: false,
        declarationMap: false,
        sourceMap: false,
      },
      include: ['packages/client/src'],
    }),
  );
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
    stdio: 'inherit',
  });
  return entry;
}

function wrap(Client, KeysAPI, endpoint) {
  const client = new Client({ endpoints: [endpoint] });
  const keys = new KeysAPI(client);
  return {
    set: (key, value) => keys.set(key, value),
    get: (key) => keys.get(key),
    watch: (key, waitIndex) => keys.watcher(key, { afterIndex: waitIndex - 1 }).next(),
    close: () => client.close(),
  };
}

/** No-op subscribers on every client and recipes channel, while `on`. */
function noopSubscribers() {
  const names = [...Object.values(ClientChannels), ...Object.values(RecipeChannels)];
  const noop = () => {};
  return {
    on: () => {
      for (const name of names) subscribe(name, noop);
    },
    off: () => {
      for (const name of names) unsubscribe(name, noop);
    },
  };
}

/** The OpenTelemetry bridge with SDK providers (batched spans and periodic metrics into memory), while `on`. */
function otelBridge() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1000 })],
  });
  let instrumentation;
  return {
    on: () => {
      instrumentation = instrument({ tracerProvider, meterProvider });
    },
    flush: async () => {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
    },
    off: () => {
      instrumentation?.close();
      spans.reset();
      exporter.reset();
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      metrics.disable();
    },
  };
}

async function timeSequential(n, op) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return performance.now() - t0;
}

async function timeConcurrent(n, op) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await op(next++);
    }),
  );
  return performance.now() - t0;
}

/** Total time from each write leaving to its watch event arriving, over n events. */
async function watchTime(n, client, writer, key) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const { node } = await writer.set(key, `w${i}`);
    const waiting = client.watch(key, node.modifiedIndex + 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const t0 = performance.now();
    await writer.set(key, `x${i}`);
    await waiting;
    total += performance.now() - t0;
  }
  return total;
}

/**
 * A dispatcher that answers every request at once (in a microtask) with a small etcd reply: what a call costs
 * the client itself, without the network, etcd or undici.
 */
const stubDispatcher = (() => {
  const body = Buffer.from(
    JSON.stringify({ action: 'get', node: { key: '/k', value: 'v', modifiedIndex: 5, createdIndex: 5 } }),
  );
  const headers = {
    'content-type': 'application/json',
    'x-etcd-index': '5',
    'x-raft-index': '9',
    'x-raft-term': '2',
  };
  const controller = { abort() {}, pause() {}, resume() {}, aborted: false, paused: false, reason: null };
  return {
    dispatch(_options, handler) {
      queueMicrotask(() => {
        handler.onRequestStart?.(controller, {});
        handler.onResponseStart(controller, 200, headers, 'OK');
        handler.onResponseData(controller, body);
        handler.onResponseEnd(controller, {});
      });
      return true;
    },
    close: async () => {},
    destroy: async () => {},
  };
})();

/** Microseconds of wall time per `get` through the stub dispatcher (the process does nothing else). */
async function stubGetMicros(keys, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await keys.get('/k');
  return ((performance.now() - t0) * 1000) / n;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const baselineEntry = buildBaseline();
const baseline = await import(pathToFileURL(baselineEntry).href);
const cluster = await startCluster({ size: 1 });
const endpoint = cluster.clientURLs[0];
const noop = noopSubscribers();
const otel = otelBridge();
const none = { on: () => {}, off: () => {} };
const variants = [
  { name: 'baseline', client: wrap(baseline.Client, baseline.KeysAPI, endpoint), listeners: none },
  { name: 'baseline again', client: wrap(baseline.Client, baseline.KeysAPI, endpoint), listeners: none },
  { name: 'no subscriber', client: wrap(CurrentClient, CurrentKeysAPI, endpoint), listeners: none },
  { name: 'no-op subscribers', client: wrap(CurrentClient, CurrentKeysAPI, endpoint), listeners: noop },
  { name: 'OpenTelemetry bridge', client: wrap(CurrentClient, CurrentKeysAPI, endpoint), listeners: otel },
];
const writer = wrap(baseline.Client, baseline.KeysAPI, endpoint);
const rows = [
  ['sequential set', (c, v) => timeSequential(N_SEQ, (i) => c.set(`/bench-otel/${v}/s${i % 50}`, 'v'))],
  ['sequential get', (c, v) => timeSequential(N_SEQ, (i) => c.get(`/bench-otel/${v}/s${i % 50}`))],
  ['concurrent get', (c, v) => timeConcurrent(N_CONC, (i) => c.get(`/bench-otel/${v}/s${i % 50}`))],
  ['watch', (c, v) => watchTime(N_WATCH, c, writer, `/bench-otel/${v}/w`)],
];

try {
  // Warm-up: every variant once through every row (JIT, connections).
  for (const variant of variants) {
    variant.listeners.on();
    for (const [, run] of rows) await run(variant.client, variant.name.replaceAll(' ', '-'));
    variant.listeners.off();
  }
  /** ratios[row][variant] = one speed ratio per round; cpuRatios likewise, for this process's CPU time */
  const ratios = rows.map(() => variants.map(() => []));
  const cpuRatios = rows.map(() => variants.map(() => []));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [r, [, run]] of rows.entries()) {
      const times = new Array(variants.length);
      const cpu = new Array(variants.length);
      for (let k = 0; k < variants.length; k++) {
        const v = (k + round) % variants.length;
        const variant = variants[v];
        variant.listeners.on();
        const cpu0 = process.cpuUsage();
        times[v] = await run(variant.client, variant.name.replaceAll(' ', '-'));
        // The bridge's export work (spans and metrics flushed) counts for its variant.
        await variant.listeners.flush?.();
        const used = process.cpuUsage(cpu0);
        cpu[v] = used.user + used.system;
        variant.listeners.off();
      }
      for (let v = 0; v < variants.length; v++) {
        ratios[r][v].push(times[0] / times[v]);
        cpuRatios[r][v].push(cpu[v] / cpu[0]);
      }
    }
  }
  const shown = variants.slice(1);
  console.log(
    `## @etcdkit/otel: the cost of the diagnostics events (etcd ${cluster.version}, 1 member, one run)\n`,
  );
  console.log(
    `Speed ratio = the client before the events (${BASELINE_REF.slice(0, 7)}) / the variant, per round (>1: faster).\n`,
  );
  const table = (values) => {
    console.log(`| operation | ${shown.map((v) => v.name).join(' | ')} |`);
    console.log(`|---|${shown.map(() => '---').join('|')}|`);
    for (const [r, [label]] of rows.entries()) {
      const cells = shown.map((_, i) => {
        const perRound = values[r][i + 1];
        const spread = `${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}`;
        return `${median(perRound).toFixed(2)}x (${spread})`;
      });
      console.log(`| ${label} | ${cells.join(' | ')} |`);
    }
  };
  table(ratios);
  console.log(
    `\nThis process's CPU time (user + system: the client, and the bridge's export work) = the variant / the client before the events, per round (<1: less CPU).\n`,
  );
  table(cpuRatios);
  // The client's own cost per call, without the network: each variant through the stub dispatcher.
  const stubKeys = variants.map((_, v) => {
    const module = v < 2 ? baseline : { Client: CurrentClient, KeysAPI: CurrentKeysAPI };
    return new module.KeysAPI(
      new module.Client({ endpoints: ['http://127.0.0.1:9'], dispatcher: stubDispatcher }),
    );
  });
  const N_STUB = Math.round(50_000 * scale);
  for (const [v, keys] of stubKeys.entries()) {
    variants[v].listeners.on();
    await stubGetMicros(keys, N_STUB / 5);
    variants[v].listeners.off();
  }
  const micros = variants.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + round) % variants.length;
      variants[v].listeners.on();
      micros[v].push(await stubGetMicros(stubKeys[v], N_STUB));
      await variants[v].listeners.flush?.();
      variants[v].listeners.off();
    }
  }
  console.log(
    `\nThe client's own time per \`get\`, without the network (a stub dispatcher that answers at once, ${N_STUB} calls a round): median µs (min-max), and the median of per-round differences to the client before the events.\n`,
  );
  console.log(`| | client before the events | ${shown.map((v) => v.name).join(' | ')} |`);
  console.log(`|---|---|${shown.map(() => '---').join('|')}|`);
  const cell = (values) =>
    `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;
  console.log(
    `| µs per get | ${cell(micros[0])} | ${shown.map((_, i) => cell(micros[i + 1])).join(' | ')} |`,
  );
  const diff = (v) => median(micros[v].map((value, round) => value - micros[0][round]));
  console.log(
    `| difference | | ${shown.map((_, i) => `${diff(i + 1) >= 0 ? '+' : ''}${diff(i + 1).toFixed(2)} µs`).join(' | ')} |`,
  );
  console.log(
    `\n(median and min-max over ${ROUNDS} rounds; ${N_SEQ} sequential ops, ${N_CONC} concurrent ops (${CONCURRENCY} at a time), ${N_WATCH} watch events per round; node ${process.version})`,
  );
  console.log(
    '\n"baseline again" is the same client as the baseline: its spread is the noise of this machine. "no subscriber" is this client with nobody listening; "no-op subscribers" has an empty function on every client and recipes channel; "OpenTelemetry bridge" runs `instrument()` with SDK providers (spans batched, metrics read every second, both into memory).',
  );
} finally {
  for (const variant of variants) await variant.client.close();
  await writer.close();
  await otel.shutdown();
  await cluster.close();
}
