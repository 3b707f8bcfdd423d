"""Small shared pieces: encodings, patches, image tensors, splits, 8-bit quantisation, files, norms.

Each helper exists once here (timm's ``layers/`` is the model); cells, models, tasks and data
import them from this package.
"""
from .encodings import octave_encoding, raster_position_encoding, sincos, timestep_embedding
from .files import atomic_path, write_atomic
from .images import RGB_CHANNELS, check_images, to_tensor, to_uint8
from .patches import cut_patches, grid_shape, stitch
from .quantize import dequantize, fake_quantize, quantize
from .splits import nested_split_indices, split_indices

__all__ = ["RGB_CHANNELS", "atomic_path", "check_images", "cut_patches", "dequantize",
           "fake_quantize", "grid_shape", "nested_split_indices", "octave_encoding", "quantize",
           "raster_position_encoding", "sincos", "split_indices", "stitch", "timestep_embedding",
           "to_tensor", "to_uint8", "write_atomic"]
