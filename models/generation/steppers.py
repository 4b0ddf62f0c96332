"""Torch eager steppers with the same `reset()/feed(tokens) -> logits` interface as the ONNX ones in
bridge.generation.runtime, so the sampling loops (and the benchmark) run unchanged on either."""

from __future__ import annotations

import numpy as np
import torch

from bridge.generation import vocab as V
from models.generation.backbone import Backbone
from models.generation.melody import MelodyXL


class TorchBackboneStepper:
    def __init__(self, model: Backbone):
        self.model = model.eval()
        self.reset()

    def reset(self) -> None:
        self.k, self.v, self.past_harm = self.model.empty_cache(1)
        self.harm = 0

    @torch.no_grad()
    def feed(self, tokens: list[int]) -> np.ndarray:
        harm = []
        for t in tokens:
            if V.is_chord(t):
                self.harm = V.harm_of_token(t)
            harm.append(self.harm)
        logits, self.k, self.v, self.past_harm = self.model(torch.tensor([tokens]), torch.tensor([harm]), self.k,
                                                            self.v, self.past_harm)
        return logits[0, -1].numpy()


class TorchMelodyStepper:
    def __init__(self, model: MelodyXL):
        self.model = model.eval()
        self.reset()

    def reset(self) -> None:
        self.mems, self.mask = self.model.empty_memory(1)

    @torch.no_grad()
    def feed(self, tokens: list[int]) -> np.ndarray:
        t = torch.tensor([tokens])
        logits, hidden = self.model(t, self.mems, self.mask)
        self.mems, self.mask = self.model.update_memory(self.mems, self.mask, hidden, t != V.PAD,
                                                        self.model.cfg.mem_len)
        return logits[0, -1].numpy()


class TorchModels:
    """Duck-types bridge.generation.runtime.GenerationModels for the generation loops."""

    def __init__(self, backbone: Backbone, melody: MelodyXL):
        self.backbone = TorchBackboneStepper(backbone)
        self.melody = TorchMelodyStepper(melody)
