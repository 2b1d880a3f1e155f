#!/usr/bin/env node
// Runs an ONNX model once with ONNX Runtime (npm package onnxruntime-node) and writes its first
// output, for tests/onnx_test.cpp ([ort]) to compare with effscale's oneDNN network.
//
//   node ort_infer.js MODEL.onnx IN.f32 OUT.f32 [THREADS]
//
// IN.f32 is raw float32 (host byte order) in NCHW order; the batch is its size divided by
// C * H * W of the model's first input, whose other dimensions must be fixed numbers. OUT.f32
// receives the first output as raw float32. THREADS (default 1) sets ORT's intra-op threads.
// Find onnxruntime-node through NODE_PATH (scripts/ort_setup.sh prints the folder).
'use strict';

const fs = require('fs');

function fail(message) {
  process.stderr.write(`ort_infer: ${message}\n`);
  process.exit(1);
}

async function main() {
  const [modelPath, inputPath, outputPath, threadsText = '1'] = process.argv.slice(2);
  if (!outputPath) fail('usage: node ort_infer.js MODEL.onnx IN.f32 OUT.f32 [THREADS]');
  const threads = Number(threadsText);
  if (!Number.isInteger(threads) || threads < 1) fail(`THREADS '${threadsText}' is not a positive integer`);

  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (${e.message}); run scripts/ort_setup.sh and set NODE_PATH to the folder it prints`);
  }

  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const name = session.inputNames[0];
  const meta = session.inputMetadata && session.inputMetadata[0];
  if (!meta || !Array.isArray(meta.shape)) fail('this onnxruntime-node does not report input shapes (need 1.20 or later)');
  const perImage = meta.shape.slice(1);
  if (perImage.some((d) => typeof d !== 'number' || d < 1)) fail(`input '${name}' has shape [${meta.shape}]: only the first dimension may be symbolic`);
  const imageSize = perImage.reduce((a, b) => a * b, 1);

  const bytes = fs.readFileSync(inputPath);
  if (bytes.length % 4 !== 0 || bytes.length === 0 || (bytes.length / 4) % imageSize !== 0) {
    fail(`${inputPath} has ${bytes.length} bytes, not a whole number of ${imageSize}-float images`);
  }
  // Copy into a fresh, aligned buffer: a Buffer may share a pool at an odd offset.
  const data = new Float32Array(bytes.length / 4);
  new Uint8Array(data.buffer).set(bytes);
  const batch = data.length / imageSize;

  const results = await session.run({ [name]: new ort.Tensor('float32', data, [batch, ...perImage]) });
  const output = results[session.outputNames[0]];
  if (output.type !== 'float32') fail(`output '${session.outputNames[0]}' is ${output.type}, not float32`);
  fs.writeFileSync(outputPath, Buffer.from(output.data.buffer, output.data.byteOffset, output.data.byteLength));
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
