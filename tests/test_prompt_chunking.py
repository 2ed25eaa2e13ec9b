"""Prompt batches split into engine-sized runs (and padded to CUDA-graph sizes) decode exactly like one run,
through the ORT demo backend."""

from __future__ import annotations

import numpy as np
import pytest

from sam_trt.data.scenes import generate_scene
from sam_trt.runtime.chunking import decode_in_chunks, pad_rows
from sam_trt.runtime.loader import load_backend


@pytest.fixture(scope="module")
def setup():
    backend = load_backend("demo", backend="ort", threads=1)
    scene = generate_scene(7, size=(256, 256), num_objects=(4, 4))
    embedding = backend.encode(backend.preprocess(scene.image)[0])
    return backend, embedding


def _prompts(batch: int, points: int = 3, seed: int = 0):
    """B prompts of N points: positives/negatives, a box on some, a mask input on some."""
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 255, (batch, points, 2)).astype(np.float32)
    labels = rng.integers(0, 2, (batch, points)).astype(np.float32)
    labels[::3, -2:] = [2, 3]  # box corners
    labels[1::4, -1] = -1  # padding point
    low = 64
    mask_input = rng.normal(0, 4, (batch, 1, low, low)).astype(np.float32)
    has_mask = (np.arange(batch) % 2).astype(np.float32)
    return coords, labels, mask_input, has_mask


@pytest.mark.parametrize("batch,max_batch", [(1, 16), (5, 16), (16, 16), (17, 16), (32, 16), (35, 16), (7, 2),
                                             (9, 1)])
def test_chunked_decode_equals_one_run(setup, batch, max_batch):
    backend, embedding = setup
    prompts = _prompts(batch, seed=batch)
    calls = []

    def counting_decode(*args):
        calls.append(args[1].shape[0])
        assert args[1].shape[0] <= max_batch
        return backend.decode(*args)

    iou, low_res = decode_in_chunks(counting_decode, embedding, *prompts, max_batch=max_batch)
    ref_iou, ref_low = backend.decode(embedding, *prompts)
    assert calls == [min(max_batch, batch - i) for i in range(0, batch, max_batch)]
    assert iou.shape == ref_iou.shape == (batch, 4) and low_res.shape == ref_low.shape
    np.testing.assert_allclose(iou, ref_iou, atol=1e-4)
    np.testing.assert_allclose(low_res, ref_low, atol=1e-3)
    assert ((low_res > 0) == (ref_low > 0)).mean() > 0.9999


@pytest.mark.parametrize("batch,size", [(1, 2), (3, 4), (5, 8), (9, 16)])
def test_padding_to_a_graph_size_does_not_change_the_real_rows(setup, batch, size):
    backend, embedding = setup
    prompts = _prompts(batch, points=2, seed=100 + batch)
    padded = pad_rows(prompts, size)
    assert all(p.shape[0] == size for p in padded)
    iou, low_res = backend.decode(embedding, *padded)
    ref_iou, ref_low = backend.decode(embedding, *prompts)
    np.testing.assert_allclose(iou[:batch], ref_iou, atol=1e-4)
    np.testing.assert_allclose(low_res[:batch], ref_low, atol=1e-3)
    np.testing.assert_allclose(low_res[batch:], np.repeat(ref_low[-1:], size - batch, 0), atol=1e-3)


def test_torch_decoder_graph_wrapper_pads_to_graph_sizes_exactly():
    """DecoderGraphs' padding path (its eager warm-up runs, which need no GPU) keeps the real rows; CUDA graphs
    themselves are checked in test_gpu.py; asking for them without CUDA is a one-line error."""
    import torch

    from sam_trt.errors import BackendError
    from sam_trt.runtime.torch_cuda import DecoderGraphs

    backend = load_backend("demo", backend="torch")
    with pytest.raises(BackendError, match="cuda_graphs needs a CUDA device"):
        load_backend("demo", backend="torch", cuda_graphs=True)
    seen = []

    def decode(*inputs):
        seen.append(inputs[1].shape[0])
        return backend._decode_tensors(*inputs)

    graphs = DecoderGraphs(decode, sizes=(1, 2, 4, 8), warmup=10**6)
    embedding = backend.encode(backend.preprocess(generate_scene(3).image)[0])
    for batch in (3, 5, 9):
        prompts = [torch.as_tensor(p) for p in _prompts(batch, seed=batch)]
        iou, low_res = graphs(embedding, *prompts)
        ref_iou, ref_low = backend._decode_tensors(embedding, *prompts)
        assert iou.shape == (batch, 4)
        torch.testing.assert_close(iou, ref_iou, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(low_res, ref_low, atol=1e-4, rtol=1e-4)
    assert seen == [4, 8, 9], "3 -> 4 and 5 -> 8 padded; 9 exceeds every graph size and runs as is"
