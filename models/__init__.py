"""hostdesk's data and every business rule.

pendulum imports dateutil's parser only to read the rare date text that is not ISO 8601, and
that import (dateutil.tz, tempfile, ctypes, ...) cost every `hostdesk` process about 25 ms, a
tenth of a headless call. The parser is put in place here as a stand-in that imports it the
first time pendulum reaches for it.
"""

import importlib
import sys
import types

_PARSER = "dateutil.parser"


class _ImportedOnFirstUse(types.ModuleType):
    def __getattr__(self, name: str):
        del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)  # later look-ups find it here
        return getattr(real, name)


if _PARSER not in sys.modules and "pendulum" not in sys.modules:
    sys.modules[_PARSER] = _ImportedOnFirstUse(_PARSER)
