"""Video: frame sources (camera, file, folder, stream), the threaded frame pipeline that encodes them, and the
multi-object tracker that decodes them (`sam-trt video`)."""

from .pipeline import EncodedFrame, FramePipeline
from .sources import Frame, FrameSource, open_source
from .tracker import Prompt, Tracker, TrackerOptions, TrackResult

__all__ = ["EncodedFrame", "Frame", "FramePipeline", "FrameSource", "Prompt", "TrackResult", "Tracker",
           "TrackerOptions", "open_source"]
