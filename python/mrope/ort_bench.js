#!/usr/bin/env node
// Times one ONNX model in ONNX Runtime (onnxruntime-node) for scripts/bench-cpu.py.
//
// usage: node ort_bench.js DIR
// DIR/request.json:
//   {"model": "/abs/model.onnx", "threads": 1, "warmup": 3, "reps": 20,
//    "inputs": [{"name", "dtype", "shape", "file"}], "save_outputs": true,
//    "outputs": [{"name", "shape"}] (optional: float32 outputs to preallocate once),
//    "profile": true (optional: also report ORT's profiler kernel times, see below),
//    "node_groups": {"name": "regex"} (optional, with profile: kernel time of the
//    nodes whose names match, per group),
//    "optimized_model": "/abs/out.onnx" (optional: the timed session also writes
//    the graph ORT runs, after its optimizations, there: the node names the
//    profiler reports)}
// Tensor files hold raw little-endian bytes (see ort_run.js).
// The session is created once (intraOpNumThreads = threads, interOpNumThreads = 1,
// sequential execution, all graph optimizations), then `warmup` untimed runs and
// `reps` timed runs of session.run on the same feeds. Only session.run is timed
// (process start, model load and session creation are not).
// With "profile", a second session with enableProfiling runs warmup + reps times and
// kernel_median_ms is the median over the timed runs of the sum of the per-node
// kernel times ORT's profiler recorded (no session/binding overhead).
// Writes DIR/response.json: {"version", "preallocated_outputs", "median_ms", "kernel_median_ms",
//   "node_ops", "min_ms", "times_ms": [...],
//   "outputs": [{"name", "dtype", "shape", "file"}]} (outputs of the last run when
// save_outputs). Exits 2 when onnxruntime-node is missing, 1 on any ORT error
// (the message, e.g. an unknown contrib op, is on stderr).
'use strict';
const fs = require('fs');
const path = require('path');

// The same lookup as the run harness (MROPE_NODE_MODULES, then node_modules
// folders upwards).
const {findOrtWithPath: findOrt} = require('./ort_run.js');

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
};

function readTensor(ort, dir, t) {
  const ctor = ARRAYS[t.dtype];
  if (!ctor) throw new Error('unsupported dtype ' + t.dtype);
  const buf = fs.readFileSync(path.join(dir, t.file));
  // Copy into a fresh, aligned ArrayBuffer.
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return new ort.Tensor(t.dtype, new ctor(ab), t.shape);
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function main() {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node ort_bench.js DIR\n');
    process.exit(1);
  }
  const [ort, ortDir] = findOrt();
  const req = JSON.parse(fs.readFileSync(path.join(dir, 'request.json'), 'utf8'));
  const threads = req.threads || 1;
  const session = await ort.InferenceSession.create(req.model, Object.assign({
    graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', executionProviders: ['cpu'],
  }, req.optimized_model ? {
    optimizedModelFilePath: req.optimized_model,
    // Errors only: ORT warns that a graph optimized at level 'all' may be
    // host-specific, which is why it is asked for (the graph this host runs).
    logSeverityLevel: 3,
  } : {}));
  const feeds = {};
  for (const t of req.inputs) feeds[t.name] = readTensor(ort, dir, t);
  // Outputs: preallocated once (req.outputs: [{name, shape}]) when the binding
  // accepts that, so ORT writes straight into them and no run pays for copying
  // its results into fresh JS buffers; otherwise ORT allocates them every run.
  let fetches = null;
  if (req.outputs) {
    fetches = {};
    for (const o of req.outputs) {
      const n = o.shape.reduce((a, b) => a * b, 1);
      fetches[o.name] = new ort.Tensor('float32', new Float32Array(n), o.shape);
    }
    try {
      await session.run(feeds, fetches);
    } catch (e) {
      process.stderr.write('ort_bench.js: preallocated outputs refused (' + e.message +
                           '); ORT allocates outputs every run\n');
      fetches = null;
    }
  }
  const run = () => (fetches ? session.run(feeds, fetches) : session.run(feeds));
  let res = null;
  for (let i = 0; i < (req.warmup || 0); ++i) res = await run();
  const times = [];
  for (let i = 0; i < (req.reps || 1); ++i) {
    const t0 = nowMs();
    res = await run();
    times.push(nowMs() - t0);
  }
  if (fetches) res = fetches;
  const sorted = times.slice().sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const outputs = [];
  if (req.save_outputs) {
    let k = 0;
    for (const name of session.outputNames) {
      const t = res[name];
      const file = 'out' + (k++) + '.bin';
      fs.writeFileSync(path.join(dir, file),
                       Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      outputs.push({name: name, dtype: t.type, shape: t.dims.map(Number), file: file});
    }
  }
  // ORT's own view: a second session with the profiler on; per run, the sum of
  // the nodes' kernel times (what ORT's kernels took, without the session and
  // binding around them).
  let kernelMedian = null;
  let nodeOps = null;
  const groupMedians = {};
  if (req.profile) {
    const prefix = path.join(dir, 'ortprof');
    const prof = await ort.InferenceSession.create(req.model, {
      graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1,
      executionMode: 'sequential', executionProviders: ['cpu'], enableProfiling: true,
      profileFilePrefix: prefix,
    });
    const profRun = () => (fetches ? prof.run(feeds, fetches) : prof.run(feeds));
    const warm = req.warmup || 0;
    for (let i = 0; i < warm + (req.reps || 1); ++i) await profRun();
    prof.endProfiling();
    const file = fs.readdirSync(dir).filter((f) => f.startsWith('ortprof')).sort().pop();
    if (file) {
      const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run')
                       .sort((a, b) => a.ts - b.ts);
      const nodes = events.filter((e) => e.cat === 'Node' && /_kernel_time$/.test(e.name));
      nodeOps = Array.from(new Set(nodes.map((e) => (e.args && e.args.op_name) || e.name)));
      const sums = runs.slice(warm).map((r) => nodes
          .filter((e) => e.ts >= r.ts && e.ts + e.dur <= r.ts + r.dur)
          .reduce((a, e) => a + e.dur, 0) / 1000);
      const s2 = sums.slice().sort((a, b) => a - b);
      const m = s2.length;
      if (m) kernelMedian = m % 2 ? s2[(m - 1) / 2] : 0.5 * (s2[m / 2 - 1] + s2[m / 2]);
      // Optional "node_groups": {group: regex on node names} -> the median
      // per-run kernel time of the nodes whose name matches.
      for (const [group, pattern] of Object.entries(req.node_groups || {})) {
        const re = new RegExp(pattern);
        const g = runs.slice(warm).map((r) => nodes
            .filter((e) => re.test(e.name) && e.ts >= r.ts && e.ts + e.dur <= r.ts + r.dur)
            .reduce((a, e) => a + e.dur, 0) / 1000).sort((a, b) => a - b);
        const k = g.length;
        groupMedians[group] = k ? (k % 2 ? g[(k - 1) / 2] : 0.5 * (g[k / 2 - 1] + g[k / 2])) : null;
      }
      for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('ortprof')))
        fs.unlinkSync(path.join(dir, f));
    }
  }
  const version = JSON.parse(fs.readFileSync(path.join(ortDir, 'package.json'), 'utf8')).version;
  fs.writeFileSync(path.join(dir, 'response.json'), JSON.stringify(
      {version: version, preallocated_outputs: fetches !== null, median_ms: median,
       kernel_median_ms: kernelMedian, group_kernel_median_ms: groupMedians, node_ops: nodeOps, min_ms: sorted[0], times_ms: times, outputs: outputs}));
}

main().catch((e) => {
  process.stderr.write('mrope ort_bench.js: ' + (e && e.message ? e.message : String(e)) + '\n');
  process.exit(1);
});
