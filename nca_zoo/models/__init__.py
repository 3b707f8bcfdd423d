"""Plain nn.Modules built from cells; importing this package registers every variant."""
from . import gnca  # noqa: F401
from . import diff_nca  # noqa: F401
from . import lnca, nafnet, restormer  # noqa: F401,E401
