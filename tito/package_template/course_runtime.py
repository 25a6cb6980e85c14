

class ModuleNotCompletedError(ModuleNotFoundError):
    """Raised when code needs a part of tinytorch whose module has not been exported yet."""


def module_of(target: str) -> tuple:
    """The course-map row of the module that exports package file ``target``."""
    for row in MODULES:
        if target in row[3]:
            return row
    raise LookupError(f"no module exports tinytorch.{target}")


def missing_message(target: str, feature: str | None = None) -> str:
    number, name, title, _ = module_of(target)
    what = feature or f"tinytorch.{target}"
    return (f"{what} needs module {number} ({name}): it has not been exported yet. "
            f"Run `tito module complete {number}`.")


def require(target: str, feature: str | None = None):
    """Import ``tinytorch.<target>``, or explain which module to complete first."""
    import importlib

    full = f"tinytorch.{target}"
    try:
        return importlib.import_module(full)
    except ModuleNotCompletedError as err:
        raise ModuleNotCompletedError(missing_message(target, feature), name=full) from None
    except ModuleNotFoundError as err:
        if err.name != full:
            raise
        raise ModuleNotCompletedError(missing_message(target, feature), name=full) from None


class _MissingModuleFinder:
    """Turns ``import tinytorch.core.x`` of an unexported module into a message naming it.

    It sits at the end of ``sys.meta_path``, so it is only asked after the normal finders have
    failed, and it answers only for package files the course map knows.
    """

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if not fullname.startswith("tinytorch."):
            return None
        dotted = fullname[len("tinytorch."):]
        if not any(dotted in row[3] for row in MODULES):
            return None
        raise ModuleNotCompletedError(missing_message(dotted), name=fullname)


def install_finder() -> None:
    import sys

    if not any(isinstance(f, type) and f.__name__ == "_MissingModuleFinder"
               for f in sys.meta_path):
        sys.meta_path.append(_MissingModuleFinder)
