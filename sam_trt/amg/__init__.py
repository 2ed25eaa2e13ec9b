"""Automatic mask generation ("segment everything"): the official SamAutomaticMaskGenerator on any backend."""

from .generator import DEMO_AMG_SETTINGS, OUTPUT_MODES, AmgSettingsError, SamAutomaticMaskGenerator
from .grid import build_all_layer_point_grids, build_point_grid

__all__ = ["DEMO_AMG_SETTINGS", "OUTPUT_MODES", "AmgSettingsError", "SamAutomaticMaskGenerator",
           "build_all_layer_point_grids", "build_point_grid"]
