# Same API as polycodec.fallback (the types are written once, in fallback.pyi).
from ._common import Bin as Bin
from .fallback import *
