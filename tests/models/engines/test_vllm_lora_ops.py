"""The fast CPU LoRA ops against vLLM's reference ops, on random tensors."""

from __future__ import annotations

import pytest
import torch

from models.engines import vllm_lora_ops as fast

reference = pytest.importorskip("vllm.lora.ops.torch_ops.lora_ops")
# vLLM loads replyd's plugin (which replaces these in the module) when a test starts an engine,
# so keep the reference ops as they were when this file was collected.
REFERENCE_SHRINK = reference.bgmv_shrink
REFERENCE_EXPAND = reference.bgmv_expand
REFERENCE_EXPAND_SLICE = reference.bgmv_expand_slice
assert REFERENCE_SHRINK is not fast.bgmv_shrink

pytestmark = pytest.mark.vllm


def _case(seed: int, tokens: int = 37, slots: int = 3, rank: int = 8, width: int = 64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(tokens, width, generator=g)
    a = torch.randn(slots, 1, rank, width, generator=g)
    b = torch.randn(slots, 1, width, rank, generator=g)
    indices = torch.randint(0, slots, (tokens,), generator=g)
    return x, a, b, indices


def _assert_ops_match(x, a, b, indices, add_inputs: bool = True, start: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    """Shrink, expand and expand-slice of ours against the reference, on the same inputs.

    ``start`` fills the shrink's output first, so an op that should overwrite it must.
    """
    ours, theirs = torch.full((x.shape[0], 8), start), torch.full((x.shape[0], 8), start)
    fast.bgmv_shrink(x, a, ours, indices, 0.5)
    REFERENCE_SHRINK(x, a, theirs, indices, 0.5)
    torch.testing.assert_close(ours, theirs)

    base = torch.randn(x.shape[0], 64)
    ours_out, theirs_out = base.clone(), base.clone()
    fast.bgmv_expand(ours, b, ours_out, indices, add_inputs=add_inputs)
    REFERENCE_EXPAND(theirs, b, theirs_out, indices, add_inputs=add_inputs)
    torch.testing.assert_close(ours_out, theirs_out)

    ours_slice, theirs_slice = base.clone(), base.clone()
    fast.bgmv_expand_slice(ours, b[:, :, :16], ours_slice, indices, 8, 16, add_inputs)
    REFERENCE_EXPAND_SLICE(theirs, b[:, :, :16], theirs_slice, indices, 8, 16, add_inputs)
    torch.testing.assert_close(ours_slice, theirs_slice)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shrink_and_expand_match_the_reference(seed: int) -> None:
    x, a, b, indices = _case(seed)
    _assert_ops_match(x, a, b, indices)


def test_single_adapter_fast_path_matches_the_reference() -> None:
    x, a, _, _ = _case(5)
    indices = torch.full((x.shape[0],), 2)
    ours, theirs = torch.zeros(x.shape[0], 8), torch.zeros(x.shape[0], 8)
    fast.bgmv_shrink(x, a, ours, indices)
    REFERENCE_SHRINK(x, a, theirs, indices)
    torch.testing.assert_close(ours, theirs)


def test_rows_without_an_adapter_get_nothing() -> None:
    # The reference gathers weights[-1] (the last slot's adapter) for these rows.
    x, a, _, indices = _case(7)
    indices[::2] = -1
    out = torch.ones(x.shape[0], 8)
    fast.bgmv_shrink(x, a, out, indices)
    assert torch.all(out[::2] == 0)
    assert torch.all(out[1::2] != 0)


def _zeroed(slot: int, seed: int = 11):  # type: ignore[no-untyped-def]
    x, a, b, indices = _case(seed)
    a[slot] = 0
    b[slot] = 0
    return x, a, b, indices


@pytest.mark.parametrize("add_inputs", [True, False])
def test_zero_filled_slots_give_the_reference_result(add_inputs: bool) -> None:
    # Slot 1 holds no weights for this layer (an adapter trained on other modules): skipped.
    x, a, b, indices = _zeroed(1)
    _assert_ops_match(x, a, b, indices, add_inputs, start=7.0)
    _assert_ops_match(x, a, b, torch.full_like(indices, 1), add_inputs, start=7.0)


def test_a_slot_filled_after_it_was_seen_empty_is_used() -> None:
    # vLLM writes an adapter into a free slot in place; the cached "all zeros" must not stick.
    x, a, _, _ = _zeroed(2)
    indices = torch.full((x.shape[0],), 2)
    out = torch.ones(x.shape[0], 8)
    fast.bgmv_shrink(x, a, out, indices)
    assert torch.all(out == 0)
    a[2, 0].copy_(torch.randn(8, 64, generator=torch.Generator().manual_seed(3)))
    ours, theirs = torch.zeros(x.shape[0], 8), torch.zeros(x.shape[0], 8)
    fast.bgmv_shrink(x, a, ours, indices)
    REFERENCE_SHRINK(x, a, theirs, indices)
    assert torch.any(ours != 0)
    torch.testing.assert_close(ours, theirs)


class _Wrapper:
    """The two methods of vLLM's punica wrapper that skip_zero_layers wraps."""

    def __init__(self) -> None:
        self.token_lora_indices = torch.tensor([-1])
        self.fallbacks = 0

    def update_metadata(self, indices: torch.Tensor) -> None:
        self.token_lora_indices = indices

    def add_lora_linear(self, y, x, lora_a_stacked, lora_b_stacked, scale, slices, **kw):  # type: ignore[no-untyped-def]
        self.fallbacks += 1


def _lean_wrapper() -> _Wrapper:
    class Wrapper(_Wrapper):
        pass

    fast.skip_zero_layers(Wrapper)
    return Wrapper()


def _layer(seed: int, slots: int = 4, rank: int = 16, width: int = 32, sizes=(32, 8, 8)):  # type: ignore[no-untyped-def]
    """A q/k/v-like layer: three slices, the last slot left empty as vLLM leaves free slots."""
    g = torch.Generator().manual_seed(seed)
    a = tuple(torch.randn(slots, 1, rank, width, generator=g) for _ in sizes)
    b = tuple(torch.randn(slots, 1, size, rank, generator=g) for size in sizes)
    for weights in a + b:
        weights[-1] = 0
    return a, b, sizes


def _reference_linear(y, x, a, b, scale, sizes, indices):  # type: ignore[no-untyped-def]
    """vLLM's add_lora_linear with its reference ops: float32 buffer, expand per slice."""
    out, offset = y.clone(), 0
    for lora_a, lora_b, size in zip(a, b, sizes, strict=True):
        buffer = torch.zeros(x.shape[0], lora_a.shape[2], dtype=torch.float32)
        REFERENCE_SHRINK(x, lora_a, buffer, indices, scale)
        REFERENCE_EXPAND_SLICE(buffer, lora_b, out, indices, offset, size, True)
        offset += size
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(
    "indices",
    [[1] * 6, [0, 1, 1, 3, 0, 2], [3, 3, 1, 3, 3, 3], [2, 0, 1, 2, 0, 1], [-1, 1, -1, 0, 2, -1]],
)
def test_lean_add_lora_linear_matches_the_reference(dtype: torch.dtype, indices: list[int]) -> None:
    # Slot 3 is empty: the reference also gives its rows (and -1 rows, via weights[-1]) nothing.
    a, b, sizes = _layer(21)
    a, b = tuple(w.to(dtype) for w in a), tuple(w.to(dtype) for w in b)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, 32, generator=g).to(dtype)
    y = torch.randn(6, sum(sizes), generator=g).to(dtype)
    rows = torch.tensor(indices)
    wrapper = _lean_wrapper()
    wrapper.update_metadata(rows)
    ours = y.clone()
    wrapper.add_lora_linear(ours, x, a, b, 0.5, sizes)
    assert wrapper.fallbacks == 0
    theirs = _reference_linear(y, x, a, b, 0.5, sizes, rows)
    torch.testing.assert_close(ours, theirs)
    if indices.count(3) < len(indices):
        assert not torch.equal(ours, y)


def test_layers_where_every_active_adapter_is_empty_are_left_alone() -> None:
    a, b, sizes = _layer(22)
    a[0][1] = 0  # slot 1 is empty in this layer's first slice only: still has work
    for slice_a in a:
        slice_a[2] = 0  # slot 2 is empty in the whole layer
    wrapper = _lean_wrapper()
    x, y = torch.randn(4, 32), torch.randn(4, 48)
    for indices, changed in (
        ([3, 3, -1, 2], False),
        ([-1, -1, -1, -1], False),
        ([1, 1, 1, 1], True),
        ([2, 0, -1, 3], True),
    ):
        out = y.clone()
        wrapper.update_metadata(torch.tensor(indices))
        wrapper.add_lora_linear(out, x, a, b, 1.0, sizes)
        assert torch.equal(out, y) is not changed, indices
    assert wrapper.fallbacks == 0


def test_calls_of_another_shape_go_to_vllms_own_method() -> None:
    a, b, sizes = _layer(23)
    wrapper = _lean_wrapper()
    x, y = torch.randn(4, 32), torch.zeros(4, 48)
    wrapper.update_metadata(torch.tensor([0, 1, 0, 1]))
    wrapper.add_lora_linear(y, x, a, b, 1.0, sizes, buffer=(torch.zeros(4, 16),) * 3)
    wrapper.add_lora_linear(y, torch.randn(5, 32), a, b, 1.0, sizes)  # padded rows
    assert wrapper.fallbacks == 2
    wrapper.add_lora_linear(y, x, a, b, 1.0, sizes)
    assert wrapper.fallbacks == 2


def test_vllm_engine_refuses_ptuning_adapters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from models.engines.base import AdapterInfo
    from models.engines.vllm_engine import VllmEngine
    from models.errors import UnsupportedRequestError

    info = AdapterInfo("persona-ptuning-x", "persona", "ptuning", str(tmp_path))
    with pytest.raises(UnsupportedRequestError, match="peft engine"):
        VllmEngine(tmp_path, {"persona-ptuning-x": info})
