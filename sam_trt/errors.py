"""Errors sam-trt raises for bad input: one line that names the problem and the fix."""


class SamTrtError(Exception):
    """Base class: every message is a single line a user can act on."""


class CheckpointError(SamTrtError):
    """A checkpoint file is missing, unreadable, or for another model type."""


class InputError(SamTrtError, ValueError):
    """An image, prompt or tensor handed to the API has the wrong shape, type or values."""


class ImageNotSetError(SamTrtError, RuntimeError):
    """A prompt was given before `set_image` (the official API raises RuntimeError here too)."""


class BackendError(SamTrtError):
    """A backend is unknown, unavailable on this machine, or misconfigured."""
