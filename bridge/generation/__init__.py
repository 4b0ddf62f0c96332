"""Harmony-aware generation runtime: token vocabulary, encoding, prompt controls, numpy sampling over ONNX.

Pure numpy (plus onnxruntime for the models): the daemon imports this without torch.
"""
