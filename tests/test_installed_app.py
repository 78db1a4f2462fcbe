"""``lbi app`` as an installed package runs it: the console script, started in a folder that is not the checkout,
serves the app with its example photos from the package's data (CI runs this in a non-editable install too)."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("gradio")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lbi_app_serves_its_examples_from_any_folder(tmp_path):
    import lbi

    script = Path(sys.executable).with_name("lbi")  # the console script of this environment's install
    assert script.is_file(), "lbi is not installed in this environment (pip install .)"
    port = _free_port()
    log = (tmp_path / "app.log").open("w")
    app = subprocess.Popen(
        [str(script), "app", "--port", str(port), "--no-onnx", "--threads", "1"],
        cwd=tmp_path,  # not the checkout: examples and weights must come from the package
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"GRADIO_ANALYTICS_ENABLED": "False", "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
    )
    try:
        config = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and app.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as reply:
                    config = json.loads(reply.read())
                break
            except OSError:
                time.sleep(1)
        assert config is not None, (tmp_path / "app.log").read_text()[-2000:]
        text = json.dumps(config)
        package = Path(lbi.__file__).parent
        examples = sorted(p.name for p in (package / "example_assets").glob("*.jpg"))
        assert examples and all(name in text for name in examples)  # the Photo tab offers every example
        served = [c for c in config["components"] if c.get("props", {}).get("samples")]
        paths = [Path(s[0]["path"]) for c in served for s in c["props"]["samples"] if isinstance(s[0], dict)]
        assert paths and all(p.is_file() and p.name in examples for p in paths)
        assert "Lifting by Image" in text and "3D pose from" in text
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()
