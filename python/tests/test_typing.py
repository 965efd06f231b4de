"""The package's type hints hold: mypy --strict over the package and the
example (code that uses it as a user would).  Skipped, by name, without
mypy (apt-get install python3-mypy; scripts/install-deps.sh tries it)."""
import subprocess
import sys

import pytest
from conftest import PYDIR


def test_mypy_strict_passes():
    if subprocess.run([sys.executable, "-c", "import mypy"], capture_output=True).returncode:
        pytest.skip(f"no mypy for {sys.executable} (apt-get install python3-mypy)")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-version", "3.8",
         "--cache-dir", "/dev/null", "shmemora", "examples/quickstart.py"],
        cwd=PYDIR, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
