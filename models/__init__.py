"""hostdesk's data and every business rule.

Two imports that most `hostdesk` processes never use are put in place here as stand-ins that
import the real module the first time something reaches into it:
- pendulum imports dateutil's parser only to read the rare date text that is not ISO 8601,
  and that import (dateutil.tz, tempfile, ctypes, ...) cost every process about 25 ms, a
  tenth of a headless call;
- peewee imports PyMySQL, if installed, for a MySQL database hostdesk never opens (30 ms);
  only the WHMCS import talks to MariaDB through it.
"""

import importlib
import sys
import types

_STAND_INS = {"dateutil.parser": "pendulum", "pymysql": "peewee"}  # module: who imports it


class _ImportedOnFirstUse(types.ModuleType):
    def __getattr__(self, name: str):
        del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)  # later look-ups find it here
        return getattr(real, name)


for _module, _importer in _STAND_INS.items():
    if _module not in sys.modules and _importer not in sys.modules:
        sys.modules[_module] = _ImportedOnFirstUse(_module)
