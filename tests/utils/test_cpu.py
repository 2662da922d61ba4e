"""utils.cpu: the native-bf16 test (one home for the static step and Paddle Inference)."""
import paddle
import pytest

from paddleseg_lite.utils.cpu import cpu_has_fast_bf16


@pytest.mark.parametrize("onednn,fast,want", [(True, True, True), (True, False, False), (False, True, False)])
def test_cpu_has_fast_bf16_needs_onednn_and_native_bf16(monkeypatch, onednn, fast, want):
    monkeypatch.setattr(paddle.base.core, "is_compiled_with_onednn", lambda: onednn)
    monkeypatch.setattr(paddle.base.core, "supports_bfloat16_fast_performance", lambda: fast)
    assert cpu_has_fast_bf16() is want
