"""Plain nn.Modules built from cells; importing this package registers every variant."""
from . import diff_nca, gnca, latent_nca, lnca, nafnet, restormer, unet, vnca  # noqa: F401
