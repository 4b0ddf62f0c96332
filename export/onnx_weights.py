"""The weights inside an ONNX graph exported from torch, under the names torch gave them.

`torch.onnx.export` keeps most parameters under their state_dict names (`model.blocks.0.ln1.weight`) but
stores every `nn.Linear` weight as an anonymous MatMul operand (`onnx::MatMul_692`, transposed to (in, out)).
`onnx_state_dict` gives those back their module's name from the MatMul node's scope
(`/model/blocks.0/mlp/mlp.0/MatMul` -> `model.blocks.0.mlp.0.weight`, transposed back to (out, in)), and undoes
`export.fp16_weights` (fp16-stored initializers cast to fp32), so a torch model can be rebuilt from a shipped
graph with `load_state_dict`. Model-agnostic: the caller maps prefixes and checks the keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def onnx_initializers(path: str | Path) -> dict[str, np.ndarray]:
    """Every initializer of the graph, {name: array}; fp16-stored weights (`W__fp16` + Cast) come back as fp32
    under the name the graph reads them by."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Cast" and len(node.input) == 1 and node.input[0] in arrays:
            arrays[node.output[0]] = arrays.pop(node.input[0]).astype(np.float32)
    return arrays


def _module_path(node_name: str) -> str:
    """'/model/blocks.0/mlp/mlp.0/MatMul' -> 'model.blocks.0.mlp.0' (a scope named by its parent-relative
    dotted name replaces the parent component)."""
    parts: list[str] = []
    for comp in node_name.strip("/").split("/")[:-1]:
        if parts and comp.startswith(parts[-1] + "."):
            parts[-1] = comp
        else:
            parts.append(comp)
    return ".".join(parts)


def onnx_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """{torch parameter name: array}: named initializers as they are, anonymous MatMul/Gemm weights renamed to
    `<module>.weight` and transposed to torch's (out, in). Raises ValueError for an anonymous initializer it
    cannot place (the graph then was not a plain torch export)."""
    import onnx

    arrays = onnx_initializers(path)
    model = onnx.load(str(path), load_external_data=False)
    out = {name: a for name, a in arrays.items() if not name.startswith("onnx::")}
    placed = set()
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
            continue
        w = node.input[1]
        if not w.startswith("onnx::") or w not in arrays:
            continue
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute) if node.op_type == "Gemm" else False
        weight = arrays[w] if trans_b else arrays[w].T
        out[_module_path(node.name) + ".weight"] = np.ascontiguousarray(weight)
        placed.add(w)
    unplaced = [n for n in arrays if n.startswith("onnx::") and n not in placed]
    if unplaced:
        raise ValueError(f"{Path(path).name}: cannot name initializer(s) {', '.join(unplaced[:4])} "
                         "(not a MatMul/Gemm weight of a torch export)")
    return out
