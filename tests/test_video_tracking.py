"""Tracker: quality on a generated clip with ground truth, stable ids, one decoder batch per frame, lost
and re-acquired objects, keyframes; prompt files and command-line groups."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam_trt.data import generate_video, rng_for
from sam_trt.data.scenes import compose, finish_image, make_background, random_object
from sam_trt.errors import InputError
from sam_trt.metrics import mask_iou, mask_to_box
from sam_trt.video.evaluate import encode_clip, oracle_miou, track_clip, tracking_ious, tracking_miou
from sam_trt.video.prompts import check_in_frame, objects_from_args, parse_prompts, read_prompts
from sam_trt.video.tracker import Prompt, Tracker, TrackerOptions

pytest.importorskip("onnxruntime")

# The CI clip (a ring and a bar crossing the frame): not among the seeds the tracker was tuned on; its seed
# was fixed before measuring. It gives 0.81, close to its per-frame GT-box ceiling of 0.83. It is a
# favourable clip, not a typical one: over 16 held-out clips of this setting tracking averages 0.63 and
# 19% reach 0.80, with a ceiling of 0.77 (benchmarks/results/video_tracking_tune.md). The demo model, not
# the tracker, sets that ceiling.
CLIP_SEED, CLIP_FRAMES, CLIP_OBJECTS = 9001, 32, (2, 2)


@pytest.fixture(scope="module")
def backend():
    from sam_trt.runtime.loader import load_backend

    return load_backend("demo", backend="ort")


@pytest.fixture(scope="module")
def clip():
    return generate_video(rng_for(CLIP_SEED), num_frames=CLIP_FRAMES, num_objects=CLIP_OBJECTS)


@pytest.fixture(scope="module")
def tracked(backend, clip):
    return track_clip(backend, clip.frames, clip.masks[0])


def test_tracking_miou_on_generated_clip(tracked, clip):
    miou = tracking_miou(tracked, clip.masks)
    per_object = {k: round(float(np.mean(v)), 3) for k, v in tracking_ious(tracked, clip.masks).items()}
    assert miou >= 0.80, (miou, per_object)


# Ten clips of the same setting, seeds fixed before measuring and never used for tuning; a typical spread
# (two of them lose an object). Measured: tracking 0.656 mean vs the per-frame GT-box ceiling 0.753, a ratio
# of 0.87 (4 of 10 clips reach 0.80). The bound catches a tracker that drifts, not the demo model's limits.
HELD_OUT_SEEDS = range(700, 710)


def test_tracking_stays_near_the_decoders_ceiling_on_typical_clips(backend):
    tracked, ceiling = [], []
    for seed in HELD_OUT_SEEDS:
        video = generate_video(rng_for(seed), num_frames=CLIP_FRAMES, num_objects=CLIP_OBJECTS)
        embeddings = encode_clip(backend, video.frames)
        ceiling.append(oracle_miou(backend, video.frames, video.masks, embeddings))
        results = track_clip(backend, video.frames, video.masks[0], embeddings=embeddings)
        tracked.append(tracking_miou(results, video.masks))
    assert np.mean(tracked) >= 0.8 * np.mean(ceiling), (tracked, ceiling)


def test_exit_handling_drops_objects_that_left_the_frame(backend):
    # Held-out clip 707: its triangle leaves the frame at frame 6. Without exit handling the tracker keeps a
    # mask on the background for the remaining 25 frames (benchmarks/video_tracking.py, "exit handling").
    video = generate_video(rng_for(707), num_frames=CLIP_FRAMES, num_objects=CLIP_OBJECTS)
    results = track_clip(backend, video.frames, video.masks[0], TrackerOptions(exit_fraction=0.3),
                         encode_clip(backend, video.frames))
    first_area = {k: m.sum() for k, m in video.masks[0].items()}
    for t, frame in enumerate(results):
        for r in frame:
            truth = video.masks[t].get(r.object_id)
            if truth is None:
                assert not r.mask.any() and r.lost, (t, r.object_id)  # gone: nothing reported
            elif truth.sum() >= 0.8 * first_area[r.object_id] and not _touches_border(truth):
                assert not r.lost, (t, r.object_id)  # fully in view: still tracked


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_ids_stable_and_masks_follow_their_objects(tracked, clip):
    ids = sorted(clip.masks[0])
    for frame, results in zip(clip.masks, tracked):
        assert [r.object_id for r in results] == ids
        for r in results:  # each reported mask overlaps its own object more than any other
            if r.lost or r.object_id not in frame:
                continue
            own = float(mask_iou(r.mask, frame[r.object_id]))
            assert all(own >= float(mask_iou(r.mask, m)) for k, m in frame.items() if k != r.object_id)


class CountingBackend:
    """Wraps a backend and records the prompt batch size of every decode call."""

    def __init__(self, backend):
        self.inner, self.batches = backend, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def decode(self, embedding, coords, labels, mask_input, has_mask):
        self.batches.append((coords.shape[0], has_mask.copy()))
        return self.inner.decode(embedding, coords, labels, mask_input, has_mask)


def test_one_decoder_batch_per_frame_with_mask_prior(backend, clip):
    counting = CountingBackend(backend)
    track_clip(counting, clip.frames[:4], clip.masks[0])
    assert [b for b, _ in counting.batches] == [len(clip.masks[0])] * 4
    assert not counting.batches[0][1].any()  # frame 0: the user's boxes alone
    assert counting.batches[1][1].all()  # then every object gets its previous logits as mask_input


def blink_clip(seed: int = 5) -> tuple[list[np.ndarray], np.ndarray]:
    """An object on frames 0-5 and 10-15, gone (background only) on frames 6-9."""
    rng = rng_for(seed)
    size = (240, 320)
    background = make_background(size, rng, "train")
    obj = random_object(size, rng, "train")
    obj.center, obj.scale = (160.0, 120.0), 40.0
    canvas, (mask,) = compose([obj], background, rng, "train")
    with_obj = finish_image(canvas, rng, noise=2.0, blur=False)
    without = finish_image(background, rng, noise=2.0, blur=False)
    return [with_obj] * 6 + [without] * 4 + [with_obj] * 6, mask


def test_lost_and_reacquired(backend):
    frames, mask = blink_clip()
    results = track_clip(backend, np.stack(frames), {7: mask})
    lost = [r[0].lost for r in results]
    assert lost[:6] == [False] * 6 and all(lost[6:10]) and lost[-1] is False, lost
    assert all(not r[0].mask.any() for r in results[6:10])
    assert float(mask_iou(results[-1][0].mask, mask)) >= 0.7
    assert {r[0].object_id for r in results} == {7}


def test_keyframe_restarts_an_object(backend, clip):
    tracker = Tracker(backend)
    first = sorted(clip.masks[0])[0]
    tracker.add(first, Prompt(box=np.array([0, 0, 20, 20])))  # a wrong start
    image, input_size = backend.preprocess(clip.frames[0])
    tracker.step(backend.encode(image), clip.frames[0].shape[:2], input_size)
    tracker.add(first, Prompt(box=mask_to_box(clip.masks[1][first])))  # keyframe on frame 1
    image, input_size = backend.preprocess(clip.frames[1])
    (result,) = tracker.step(backend.encode(image), clip.frames[1].shape[:2], input_size)
    assert float(mask_iou(result.mask, clip.masks[1][first])) >= 0.5


def test_prompt_file_schema(tmp_path):
    data = {"objects": [
        {"id": 4, "keyframes": [{"frame": 0, "box": [1, 2, 30, 40]},
                                {"frame": 9, "points": [[5, 6], [7, 8]], "labels": [1, 0]}]},
        {"box": [10, 10, 20, 20]},
        {"points": [[3, 4, 1], [9, 9, 0]]},
    ]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    objects = read_prompts(path)
    assert [o.object_id for o in objects] == [4, 1, 2]
    assert sorted(objects[0].keyframes) == [0, 9]
    assert objects[0].keyframes[9].labels.tolist() == [1, 0]
    assert objects[1].keyframes[0].box.tolist() == [10, 10, 20, 20]
    assert objects[2].keyframes[0].labels.tolist() == [1, 0]
    check_in_frame(objects, (240, 320))
    with pytest.raises(InputError, match="outside the 25x25 frame"):
        check_in_frame(objects, (25, 25))


@pytest.mark.parametrize("data, message", [
    ([1, 2], "top level"),
    ({"objects": []}, "top level"),
    ({"objects": [{"id": 0, "box": [0, 0, 1, 1]}]}, "positive integer"),
    ({"objects": [{"id": 1, "box": [0, 0, 1, 1]}, {"id": 1, "box": [0, 0, 1, 1]}]}, "appears twice"),
    ({"objects": [{"box": [5, 5, 1, 1]}]}, "x1 < x0"),
    ({"objects": [{"points": [[1, 2]], "labels": [0]}]}, "foreground point"),
    ({"objects": [{"points": [[1, 2]], "labels": [1, 1]}]}, "one 1"),
    ({"objects": [{"keyframes": [{"frame": -1, "box": [0, 0, 1, 1]}]}]}, "frame must be"),
])
def test_malformed_prompts(data, message):
    with pytest.raises((ValueError, TypeError), match=message):
        parse_prompts(data)


def test_malformed_prompt_file_is_one_line(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"objects": [{"id": 1, "points": [[1]]}]}))
    with pytest.raises(InputError) as info:
        read_prompts(path)
    assert "\n" not in str(info.value) and "p.json" in str(info.value)


def test_command_line_groups():
    objects = objects_from_args([("point", (1, 2, 1)), ("point", (3, 4, 0)), ("box", (0, 0, 9, 9)),
                                 ("point", (5, 5, 1)), ("point", (6, 6, 1))])
    assert [o.object_id for o in objects] == [1, 2, 3]
    assert objects[0].keyframes[0].labels.tolist() == [1, 0]
    assert objects[1].keyframes[0].box is not None and objects[1].keyframes[0].points.tolist() == [[5, 5]]
    assert objects[2].keyframes[0].box is None
    with pytest.raises(InputError, match="only background points"):
        objects_from_args([("point", (1, 2, 0))])


def test_show_window_events_edit_the_tracker(backend, clip):
    from types import SimpleNamespace

    from sam_trt.video.show import apply_events

    tracker = Tracker(backend)
    tracker.add(3, Prompt(box=np.array([0, 0, 10, 10])))
    window = SimpleNamespace(events=[("negative", 5, 5), ("add", 40, 50), ("negative", 60, 70)], selected=None)
    apply_events(window, tracker)
    assert tracker.object_ids == [3, 4] and window.selected == 4 and window.events == []
    assert tracker.tracks[4].prompt.points.tolist() == [[40, 50], [60, 70]]
    assert tracker.tracks[4].prompt.labels.tolist() == [1, 0]
    assert len(tracker.tracks[3].negatives) == 0  # a negative point with nothing selected is ignored
    image, input_size = backend.preprocess(clip.frames[0])
    results = tracker.step(backend.encode(image), clip.frames[0].shape[:2], input_size)
    assert [r.object_id for r in results] == [3, 4]
