#!/usr/bin/env node
// Times an ONNX model with ONNX Runtime (npm package onnxruntime-node, CPU) and prints its median
// latency, as effscale's --latency-cmd reads it (last line: "median_ms=X ..."):
//
//   node ort_latency.js MODEL.onnx RESOLUTION [THREADS] [RUNS] [BATCH]
//
//   effscale search --latency-cmd 'node scripts/ort_latency.js {onnx} {resolution} {threads}'
//
// The input is batch x 3 x RESOLUTION x RESOLUTION float32 (a fixed pseudo-random image; the
// model's first input). After WARMUP untimed runs it times RUNS runs (default 20) one after the
// other and prints their median, 10th and 90th percentiles in milliseconds. THREADS (default 1)
// is ORT's intra-op thread count. Find onnxruntime-node through NODE_PATH (scripts/ort_setup.sh
// installs it and prints the folder).
'use strict';

const WARMUP = 5;

function fail(message) {
  process.stderr.write(`ort_latency: ${message}\n`);
  process.exit(1);
}

function positiveInteger(text, what, fallback) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`${what} '${text}' is not a positive integer`);
  return n;
}

// Linear interpolation between order statistics, as effscale's summaries do.
function percentile(sorted, p) {
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 2 || args.length > 5) fail('usage: node ort_latency.js MODEL.onnx RESOLUTION [THREADS] [RUNS] [BATCH]');
  const [model] = args;
  const resolution = positiveInteger(args[1], 'RESOLUTION');
  const threads = positiveInteger(args[2], 'THREADS', 1);
  const runs = positiveInteger(args[3], 'RUNS', 20);
  const batch = positiveInteger(args[4], 'BATCH', 1);

  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (${e.message}): run scripts/ort_setup.sh and set NODE_PATH to the folder it prints`);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });

  // A fixed image from a 32-bit xorshift: the same input on every run and machine.
  const size = batch * 3 * resolution * resolution;
  const data = new Float32Array(size);
  let state = 0x9e3779b9;
  for (let i = 0; i < size; ++i) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = ((state >>> 0) / 4294967296) * 2 - 1;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, resolution, resolution]) };

  for (let i = 0; i < WARMUP; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const ms = (v) => v.toFixed(4);
  console.log(`median_ms=${ms(percentile(times, 0.5))} p10_ms=${ms(percentile(times, 0.1))} ` +
              `p90_ms=${ms(percentile(times, 0.9))} runs=${runs} threads=${threads} batch=${batch}`);
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
