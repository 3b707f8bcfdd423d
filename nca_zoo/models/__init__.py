"""Plain nn.Modules built from cells; importing this package registers every variant."""
from . import gnca  # noqa: F401
from . import diff_nca, unet  # noqa: F401,E401
from . import lnca, nafnet, restormer  # noqa: F401,E401
