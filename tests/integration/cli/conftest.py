"""Fixtures for the berth CLI tests: the engine tests' berthd fixtures (tests/integration/engine)
and the registry tests' Registry (tests/integration/registry), loaded from their conftest files
(a conftest cannot be imported by name)."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_engine = _load("berth_engine_conftest", os.path.join(HERE, "..", "engine", "conftest.py"))
_registry = _load("berth_registry_conftest", os.path.join(HERE, "..", "registry", "conftest.py"))

berthd_session_factory = _engine.berthd_session_factory
berthd = _engine.berthd
berthd_factory = _engine.berthd_factory
sanitized_clients_report_nothing = _engine.sanitized_clients_report_nothing
TAG = _engine.TAG
BERTH_CLI = _engine.BERTH_CLI


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real docker-registry on 127.0.0.1 (no auth)."""
    r = _registry.Registry(str(tmp_path_factory.mktemp("clireg")), "open")
    yield r
    r.stop()
