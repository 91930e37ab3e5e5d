"""Checkpoints built in the tests: a mixed state dict and sharded safetensors."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file


def mixed_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A small transformer-like state dict with every kind of entry a scan meets."""
    g = torch.Generator().manual_seed(seed)
    return {
        "model.embed_tokens.weight": torch.randn(50, 16, generator=g) * 0.02,
        "model.layers.0.self_attn.q_proj.weight": torch.randn(16, 16, generator=g),
        "model.layers.0.mlp.up_proj.weight": torch.randn(40, 16, generator=g).to(torch.bfloat16),
        "model.layers.0.mlp.up_proj.bias": torch.randn(40, generator=g),
        "model.layers.0.input_layernorm.weight": torch.ones(16),
        "model.layers.10.self_attn.q_proj.weight": (torch.randn(16, 16, generator=g) * 3).half(),
        "model.layers.2.self_attn.q_proj.weight": torch.randn(16, 16, generator=g),
        "model.experts": torch.randn(2, 8, 16, generator=g),
        "model.position_ids": torch.arange(50, dtype=torch.int64).reshape(1, 50),
        "model.causal_mask": torch.ones(4, 4, dtype=torch.bool),
    }


def write_sharded(folder: Path, tensors: dict[str, torch.Tensor], n_shards: int) -> Path:
    """Split ``tensors`` over ``n_shards`` safetensors files plus an index, as transformers does.

    Returns:
        The path of ``model.safetensors.index.json``.
    """
    names = list(tensors)
    weight_map = {}
    for i in range(n_shards):
        shard = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {n: tensors[n].contiguous() for n in names[i::n_shards]}
        save_file(part, str(folder / shard))
        weight_map.update(dict.fromkeys(part, shard))
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    return index
