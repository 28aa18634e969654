"""The fast CPU LoRA ops against vLLM's reference ops, on random tensors."""

from __future__ import annotations

import pytest
import torch

from models.engines import vllm_lora_ops as fast

reference = pytest.importorskip("vllm.lora.ops.torch_ops.lora_ops")

pytestmark = pytest.mark.vllm


def _case(seed: int, tokens: int = 37, slots: int = 3, rank: int = 8, width: int = 64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(tokens, width, generator=g)
    a = torch.randn(slots, 1, rank, width, generator=g)
    b = torch.randn(slots, 1, width, rank, generator=g)
    indices = torch.randint(0, slots, (tokens,), generator=g)
    return x, a, b, indices


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shrink_and_expand_match_the_reference(seed: int) -> None:
    x, a, b, indices = _case(seed)
    ours, theirs = torch.zeros(x.shape[0], 8), torch.zeros(x.shape[0], 8)
    fast.bgmv_shrink(x, a, ours, indices, 0.5)
    reference.bgmv_shrink(x, a, theirs, indices, 0.5)
    torch.testing.assert_close(ours, theirs)

    base = torch.randn(x.shape[0], 64)
    ours_out, theirs_out = base.clone(), base.clone()
    fast.bgmv_expand(ours, b, ours_out, indices, add_inputs=True)
    reference.bgmv_expand(theirs, b, theirs_out, indices, add_inputs=True)
    torch.testing.assert_close(ours_out, theirs_out)

    ours_slice, theirs_slice = base.clone(), base.clone()
    fast.bgmv_expand_slice(ours, b[:, :, :16], ours_slice, indices, 8, 16, add_inputs=True)
    reference.bgmv_expand_slice(theirs, b[:, :, :16], theirs_slice, indices, 8, 16, True)
    torch.testing.assert_close(ours_slice, theirs_slice)


def test_single_adapter_fast_path_matches_the_reference() -> None:
    x, a, _, _ = _case(5)
    indices = torch.full((x.shape[0],), 2)
    ours, theirs = torch.zeros(x.shape[0], 8), torch.zeros(x.shape[0], 8)
    fast.bgmv_shrink(x, a, ours, indices)
    reference.bgmv_shrink(x, a, theirs, indices)
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
    for only_zero in (False, True):
        rows = torch.full_like(indices, 1) if only_zero else indices
        ours, theirs = torch.full((x.shape[0], 8), 7.0), torch.full((x.shape[0], 8), 7.0)
        fast.bgmv_shrink(x, a, ours, rows, 0.5)
        reference.bgmv_shrink(x, a, theirs, rows, 0.5)
        torch.testing.assert_close(ours, theirs)

        base = torch.randn(x.shape[0], 64)
        ours_out, theirs_out = base.clone(), base.clone()
        fast.bgmv_expand(ours, b, ours_out, rows, add_inputs=add_inputs)
        reference.bgmv_expand(theirs, b, theirs_out, rows, add_inputs=add_inputs)
        torch.testing.assert_close(ours_out, theirs_out)

        ours_slice, theirs_slice = base.clone(), base.clone()
        fast.bgmv_expand_slice(ours, b[:, :, :16], ours_slice, rows, 8, 16, add_inputs)
        reference.bgmv_expand_slice(theirs, b[:, :, :16], theirs_slice, rows, 8, 16, add_inputs)
        torch.testing.assert_close(ours_slice, theirs_slice)


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
    reference.bgmv_shrink(x, a, theirs, indices)
    assert torch.any(ours != 0)
    torch.testing.assert_close(ours, theirs)


class _Wrapper:
    """The two methods of vLLM's punica wrapper that skip_zero_layers wraps."""

    def __init__(self) -> None:
        self.token_lora_indices = torch.tensor([-1])
        self.calls = 0

    def update_metadata(self, indices: torch.Tensor) -> None:
        self.token_lora_indices = indices

    def add_lora_linear(self, y, x, lora_a_stacked, lora_b_stacked, scale, slices, **kw):  # type: ignore[no-untyped-def]
        self.calls += 1


def test_layers_where_every_active_adapter_is_empty_are_skipped() -> None:
    class Wrapper(_Wrapper):
        pass

    fast.skip_zero_layers(Wrapper)
    a = (torch.zeros(3, 1, 8, 16), torch.zeros(3, 1, 8, 16))
    a[1][2] = 1.0  # slot 2 has weights in this layer's second slice only
    wrapper = Wrapper()
    x, y = torch.randn(4, 16), torch.zeros(4, 32)

    def call(indices: list[int]) -> int:
        before = wrapper.calls
        wrapper.update_metadata(torch.tensor(indices))
        wrapper.add_lora_linear(y, x, a, (), 1.0, (16, 16))
        return wrapper.calls - before

    assert call([0, 0, 1, -1]) == 0  # only empty slots
    assert call([-1, -1, -1, -1]) == 0  # no adapter at all
    assert call([0, 2, -1, 1]) == 1  # slot 2 has weights
    assert call([2, 2, 2, 2]) == 1


def test_vllm_engine_refuses_ptuning_adapters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from models.engines.base import AdapterInfo
    from models.engines.vllm_engine import VllmEngine
    from models.errors import UnsupportedRequestError

    info = AdapterInfo("persona-ptuning-x", "persona", "ptuning", str(tmp_path))
    with pytest.raises(UnsupportedRequestError, match="peft engine"):
        VllmEngine(tmp_path, {"persona-ptuning-x": info})
