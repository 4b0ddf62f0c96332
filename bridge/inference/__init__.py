"""ONNX inference for the runtime (onnxruntime only; never torch)."""

from bridge.inference.retrieval import RetrievalEncoders, TowerConfig, default_model_dir, load_text_tokenizer

__all__ = ["RetrievalEncoders", "TowerConfig", "default_model_dir", "load_text_tokenizer"]
