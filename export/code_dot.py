"""Write the one-node ONNX graph that bridge/library/code_dot.py runs (the runtime has no `onnx` package):

    python -m export.code_dot            # bridge/assets/kernels/code_dot.onnx

MatMulInteger(codes uint8 (n, d), weights int8 (d, 2)) -> int32 (n, 2). tests/export/test_code_dot.py checks
that the shipped file is exactly what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bridge.paths import code_dot_model

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime the project supports (>= 1.17)


def code_dot_bytes() -> bytes:
    from onnx import TensorProto, checker, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["codes", "weights"], ["dots"], name="code_dot")],
        "code_dot",
        [helper.make_tensor_value_info("codes", TensorProto.UINT8, ["n", "d"]),
         helper.make_tensor_value_info("weights", TensorProto.INT8, ["d", 2])],
        [helper.make_tensor_value_info("dots", TensorProto.INT32, ["n", 2])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="midibridge")
    model.ir_version = IR_VERSION
    checker.check_model(model)
    return model.SerializeToString()


def main(argv: list[str] | None = None) -> None:
    out = Path(argv[0]) if argv else code_dot_model()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(code_dot_bytes())


if __name__ == "__main__":
    main(sys.argv[1:])
