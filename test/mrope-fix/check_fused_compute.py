"""`mrope-fix --positions compute` on fused RoPE sites, run in ONNX Runtime.

The fused zoo (test/models/zoo-fused: com.microsoft.RotaryEmbedding /
MRotaryEmbedding, opset-23 RotaryEmbedding, GroupQueryAttention do_rotary)
and the exporter spellings of the spelling zoo (test/models/zoo-spellings:
the GenAI builder's per-token caches read through Range(B*S), torch
dynamo's RotaryEmbedding-23 fed pre-gathered caches). Per bug model and arch:

1. `mrope-fix --positions compute -o` writes a model that takes the
   original's inputs minus its positions, plus what compute mode documents
   (input_ids, attention_mask, image/video grids; Qwen2.5-VL also
   second_per_grid_ts; a KV-cache decoder also past_rope_deltas) and
   nothing else;
2. fed a multimodal batch, it equals the correct twin fed the reference
   positions (mrope.reference.rope_index of the same batch and arch), and
   its rope_deltas equal the reference's; under --arch qwen2.5-vl the
   video's temporal row is scaled (second_per_grid_ts) so that positions
   reach past B*S (the constant-cache zoo: still below its 64 cache rows;
   the per-token caches computed in the graph: far beyond);
3. fed a text-only batch (empty grids) it equals the original fed its own
   1D positions;
4. `mrope-fix --check` on it finds no bug.
Each correct model with a [3, B, S] positions input gets its positions
computed the same way and equals the original fed the reference positions.

Tolerance 1e-5: the fixed graph runs the same fused kernels over the same
(or equally computed) caches as the twin; only the float order may differ.
GroupQueryAttention (its own positions, a KV cache): the prefill and one
decode step (past_rope_deltas fed back) against the twin.

The cases and checks live in python/mrope/zoo/fused_harness.py (shared with
scripts/metamorphic.py, which runs them on rewritten variants).

usage: check_fused_compute.py MROPE_FIX MODELS_DIR
"""
import os
import sys

from mrope.zoo import fused_harness as fh


def main():
    tool, root = sys.argv[1:3]
    jobs = [(f"{n} --arch {a}", fh.check_compute_bug,
             (tool, z, os.path.join(root, z, n + ".onnx"), os.path.join(root, z, t + ".onnx"), a))
            for z, n, t, a in fh.COMPUTE_CASES]
    jobs += [(f"{n} --arch {a} (correct)", fh.check_compute_correct,
              (tool, z, os.path.join(root, z, n + ".onnx"), a))
             for z, n, a in fh.COMPUTE_CORRECT]
    return fh.run_cases(jobs)


if __name__ == "__main__":
    sys.exit(main())
