// GatherElements and GatherND reading a per-position table at positions:
// the same read as Gather along the cache row, spelled element by element
// (`torch.gather(cache, 0, pos[:, None].expand(-1, F))`) or by coordinates
// (`cache[pos[..., None]]` as exporters write it). What they must not read:
// a gather along the channels, an index that varies along the channels,
// batch_dims, more than one coordinate.
// RUN: mrope-opt %s -split-input-file --rope-print-meaning -o /dev/null | FileCheck %s

// CHECK-LABEL: graph @gathers
// CHECK: meaning Cos node cos_table #0: cos of Range node arange (1d), 2 freqs [seq, chan{f0-1, f0-1}]
// GatherND by [B, S, 1] positions: [B, S] of the index, then the channels.
// CHECK: meaning Unsqueeze node pos_u #0: positions of input 'position_ids' (1d) [batch, seq, bcast]
// CHECK: meaning GatherND node nd #0: cos of input 'position_ids' (1d), 2 freqs [batch, seq, chan{f0-1, f0-1}]
// GatherElements by the positions of one sequence [S, 1] expanded to
// [S, 4]: the index's seq axis, the table's channels.
// CHECK: meaning Expand node pos_e #0: positions of input 'position_ids' (1d) [seq, bcast]
// CHECK: meaning GatherElements node elems #0: cos of input 'position_ids' (1d), 2 freqs [seq, chan{f0-1, f0-1}]
// Along the channels: not a read at positions.
// CHECK: meaning GatherElements node by_chan #0: unknown (GatherElements: gathers along an axis that is not a cache row)
// An index [B, S] that varies along the table's channel axis.
// CHECK: meaning GatherElements node mixed #0: unknown (GatherElements: index varies along an axis of the table)
// CHECK: meaning GatherND node nd_batch #0: unknown (GatherND: batch_dims not 0)
// Two coordinates per index: not a cache row read.
// CHECK: meaning GatherND node nd_two #0: unknown (GatherND: index is not positions with one coordinate)
module attributes {onnx.opset_import = [#onnx.opset<"", 17>]} {
  onnx.graph @gathers(%pos: tensor<1x4xi64> {onnx.name = "position_ids"}) -> (tensor<1x4x4xf32> {onnx.name = "a"}, tensor<4x4xf32> {onnx.name = "b"}, tensor<4x4xf32> {onnx.name = "c"}, tensor<1x4xf32> {onnx.name = "d"}, tensor<1x4xf32> {onnx.name = "e"}, tensor<1xf32> {onnx.name = "f"}) {
    %inv = onnx.initializer "inv_freq" : tensor<2xf32> = dense<[1.0, 0.01]>
    %start = onnx.initializer "start" : tensor<i64> = dense<0>
    %limit = onnx.initializer "limit" : tensor<i64> = dense<64>
    %delta = onnx.initializer "delta" : tensor<i64> = dense<1>
    %reps = onnx.initializer "reps" : tensor<2xi64> = dense<[1, 2]>
    %last = onnx.initializer "last" : tensor<1xi64> = dense<-1>
    %col = onnx.initializer "col" : tensor<2xi64> = dense<[4, 1]>
    %wide = onnx.initializer "wide" : tensor<2xi64> = dense<[4, 4]>
    %two = onnx.initializer "two" : tensor<1x2xi64> = dense<[[1, 2]]>
    %r = onnx.node "Range"(%start, %limit, %delta) {name = "arange"} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<64xi64>
    %rf = onnx.node "Cast"(%r) {attrs = {to = 1 : i64}, name = "arange_f"} : (tensor<64xi64>) -> tensor<64xf32>
    %o = onnx.node "Einsum"(%rf, %inv) {attrs = {equation = "i,j->ij"}, name = "outer"} : (tensor<64xf32>, tensor<2xf32>) -> tensor<64x2xf32>
    %t = onnx.node "Tile"(%o, %reps) {name = "tiled"} : (tensor<64x2xf32>, tensor<2xi64>) -> tensor<64x4xf32>
    %c = onnx.node "Cos"(%t) {name = "cos_table"} : (tensor<64x4xf32>) -> tensor<64x4xf32>
    %pu = onnx.node "Unsqueeze"(%pos, %last) {name = "pos_u"} : (tensor<1x4xi64>, tensor<1xi64>) -> tensor<1x4x1xi64>
    %nd = onnx.node "GatherND"(%c, %pu) {name = "nd"} : (tensor<64x4xf32>, tensor<1x4x1xi64>) -> tensor<1x4x4xf32>
    %pc = onnx.node "Reshape"(%pos, %col) {name = "pos_col"} : (tensor<1x4xi64>, tensor<2xi64>) -> tensor<4x1xi64>
    %pe = onnx.node "Expand"(%pc, %wide) {name = "pos_e"} : (tensor<4x1xi64>, tensor<2xi64>) -> tensor<4x4xi64>
    %ge = onnx.node "GatherElements"(%c, %pe) {attrs = {axis = 0 : i64}, name = "elems"} : (tensor<64x4xf32>, tensor<4x4xi64>) -> tensor<4x4xf32>
    %gc = onnx.node "GatherElements"(%c, %pe) {attrs = {axis = 1 : i64}, name = "by_chan"} : (tensor<64x4xf32>, tensor<4x4xi64>) -> tensor<4x4xf32>
    %gm = onnx.node "GatherElements"(%c, %pos) {attrs = {axis = 0 : i64}, name = "mixed"} : (tensor<64x4xf32>, tensor<1x4xi64>) -> tensor<1x4xf32>
    %nb = onnx.node "GatherND"(%c, %pu) {attrs = {batch_dims = 1 : i64}, name = "nd_batch"} : (tensor<64x4xf32>, tensor<1x4x1xi64>) -> tensor<1x4xf32>
    %n2 = onnx.node "GatherND"(%c, %two) {name = "nd_two"} : (tensor<64x4xf32>, tensor<1x2xi64>) -> tensor<1xf32>
    onnx.return %nd, %ge, %gc, %gm, %nb, %n2 : tensor<1x4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1xf32>
  }
}
