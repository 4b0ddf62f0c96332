"""fp16-stored weights: same graph, same outputs within fp16 rounding, half the bytes."""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from export.fp16_weights import store_weights_fp16


def _matmul_graph(path, w, b):
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", w.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", w.shape[1]])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_big_weights_become_fp16_and_outputs_hold(tmp_path):
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(64, 48)).astype(np.float32), rng.normal(size=48).astype(np.float32)
    _matmul_graph(tmp_path / "a.onnx", w, b)
    assert store_weights_fp16(tmp_path / "a.onnx", tmp_path / "h.onnx", min_elements=1024) == 1  # w only
    inits = {i.name: i.data_type for i in onnx.load(str(tmp_path / "h.onnx")).graph.initializer}
    assert inits == {"w__fp16": TensorProto.FLOAT16, "b": TensorProto.FLOAT}
    assert (tmp_path / "h.onnx").stat().st_size < 0.6 * (tmp_path / "a.onnx").stat().st_size
    x = rng.normal(size=(5, 64)).astype(np.float32)
    y32 = ort.InferenceSession(str(tmp_path / "a.onnx")).run(None, {"x": x})[0]
    y16 = ort.InferenceSession(str(tmp_path / "h.onnx")).run(None, {"x": x})[0]
    assert y16.dtype == np.float32 and np.allclose(y16, y32, rtol=1e-2, atol=1e-2)
