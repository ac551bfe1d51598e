"""What tests share: plain helpers and constants to import (``http``, ``tokens``, ``flows``...)
and the pytest plugins the root conftest registers (``fixtures``, ``key_pool``)."""
