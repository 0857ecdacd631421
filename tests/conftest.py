import pytest

import skmath._engine._core


@pytest.fixture(params=["default", "onednn"])
def linear_route(request, monkeypatch):
    """Run a test with the engine's default product route, then with float32
    products forced through oneDNN wherever torch has the op (by default only
    the CPUs where oneDNN beats the BLAS take it, so without this its code
    would go untested on the others)."""
    if request.param == "onednn":
        op = skmath._engine._core._onednn_op()
        if op is None:
            pytest.skip("this torch has no oneDNN linear op here")
        monkeypatch.setattr(skmath._engine._core, "_onednn_linear", lambda: op)
    return request.param
