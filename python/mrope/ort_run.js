#!/usr/bin/env node
// Runs ONNX models in ONNX Runtime (onnxruntime-node) for the Python harness mrope/ort.py.
//
// usage: node ort_run.js DIR
// DIR/request.json:
//   {"model": "/abs/model.onnx", "options": {"graphOptimizationLevel": "all", "intraOpNumThreads": 1},
//    "runs": [{"inputs": [{"name", "dtype", "shape", "file"}], "outputs": ["name", ...] | null}, ...]}
// Every tensor file holds raw little-endian bytes (bool: one byte per element).
// Writes DIR/response.json: {"version": "...", "runs": [{"outputs": [{"name", "dtype", "shape", "file"}]}]}
// and the output files next to it. Exits 2 with a message on stderr when onnxruntime-node is missing.
'use strict';
const fs = require('fs');
const path = require('path');

/** onnxruntime-node and the folder it was loaded from (exits 2 when missing). */
function findOrtWithPath() {
  const tried = [];
  const candidates = [];
  if (process.env.MROPE_NODE_MODULES) candidates.push(process.env.MROPE_NODE_MODULES);
  let dir = __dirname;
  for (;;) {
    candidates.push(path.join(dir, 'node_modules'));
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  for (const nm of candidates) {
    const p = path.join(nm, 'onnxruntime-node');
    tried.push(p);
    if (fs.existsSync(path.join(p, 'package.json'))) return [require(p), p];
  }
  process.stderr.write(
      'mrope: onnxruntime-node is not installed (looked in ' + tried.join(', ') + ').\n' +
      'Run scripts/setup.sh (or `npm install --ignore-scripts` at the repository root), ' +
      'or point MROPE_NODE_MODULES at a node_modules folder that holds onnxruntime-node@1.30.0.\n');
  process.exit(2);
}

function findOrt() {
  return findOrtWithPath()[0];
}


const ARRAYS = {
  float32: [Float32Array, 4], float64: [Float64Array, 8], float16: [Uint16Array, 2],
  int64: [BigInt64Array, 8], int32: [Int32Array, 4], int16: [Int16Array, 2], int8: [Int8Array, 1],
  uint64: [BigUint64Array, 8], uint32: [Uint32Array, 4], uint16: [Uint16Array, 2], uint8: [Uint8Array, 1],
  bool: [Uint8Array, 1],
};

function readTensor(ort, dir, t) {
  const entry = ARRAYS[t.dtype];
  if (!entry) throw new Error('unsupported dtype ' + t.dtype);
  const buf = fs.readFileSync(path.join(dir, t.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = new entry[0](ab);
  return new ort.Tensor(t.dtype, data, t.shape);
}

function writeTensor(dir, file, tensor) {
  let data = tensor.data;
  if (tensor.type === 'string') throw new Error('string outputs are not supported');
  // float16 may come back as Uint16Array or Float16Array depending on the platform: keep raw bits.
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(path.join(dir, file), bytes);
}

async function main() {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node ort_run.js DIR\n');
    process.exit(1);
  }
  const ort = findOrt();
  const req = JSON.parse(fs.readFileSync(path.join(dir, 'request.json'), 'utf8'));
  const opts = Object.assign({graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1,
                              executionProviders: ['cpu']}, req.options || {});
  const session = await ort.InferenceSession.create(req.model, opts);
  const resp = {version: ort.env.versions ? ort.env.versions.node : null,
                inputNames: session.inputNames, outputNames: session.outputNames, runs: []};
  let k = 0;
  for (const run of req.runs) {
    const feeds = {};
    for (const t of run.inputs) feeds[t.name] = readTensor(ort, dir, t);
    const names = run.outputs || session.outputNames;
    const res = await session.run(feeds, names);
    const outs = [];
    for (const name of names) {
      const t = res[name];
      const file = 'out' + (k++) + '.bin';
      writeTensor(dir, file, t);
      outs.push({name: name, dtype: t.type, shape: t.dims.map(Number), file: file});
    }
    resp.runs.push({outputs: outs});
  }
  fs.writeFileSync(path.join(dir, 'response.json'), JSON.stringify(resp));
}

module.exports = {findOrtWithPath};

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write('mrope ort_run.js: ' + (e && e.stack ? e.stack : String(e)) + '\n');
    process.exit(1);
  });
}
