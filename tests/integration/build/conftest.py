"""Fixtures for the build tests: the engine tests' berthd fixtures (tests/integration/engine),
loaded from their conftest file (a conftest cannot be imported by name)."""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_engine = _load("berth_engine_conftest_build", os.path.join(HERE, "..", "engine", "conftest.py"))

berthd_session_factory = _engine.berthd_session_factory
berthd = _engine.berthd
berthd_factory = _engine.berthd_factory
sanitized_clients_report_nothing = _engine.sanitized_clients_report_nothing
TAG = _engine.TAG
_registry = _load("berth_registry_conftest_build",
                  os.path.join(HERE, "..", "registry", "conftest.py"))
Registry = _registry.Registry
bcrypt_hash = _registry.bcrypt_hash
