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


def test_vllm_engine_refuses_ptuning_adapters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from models.engines.base import AdapterInfo
    from models.engines.vllm_engine import VllmEngine
    from models.errors import UnsupportedRequestError

    info = AdapterInfo("persona-ptuning-x", "persona", "ptuning", str(tmp_path))
    with pytest.raises(UnsupportedRequestError, match="peft engine"):
        VllmEngine(tmp_path, {"persona-ptuning-x": info})
