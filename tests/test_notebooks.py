"""Run every analyst notebook top to bottom on a freshly synced demo database.

Each notebook runs in its own kernel: this project's Python (`sys.executable`, so the
installed package and matplotlib are the ones under test), registered as a kernel spec in
a temporary folder. The executed notebooks and their plots are written under
test-output/notebooks/<notebook>/: the PNG files the notebook saved itself, and the images
rendered inline, extracted from the cell outputs.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.test_reporting import DemoDatabase, shared_demo_database

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = PROJECT / "notebooks"
OUTPUT_DIR = PROJECT / "test-output" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
KERNEL_NAME = "pinterest-sync-tests"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    return shared_demo_database(tmp_path_factory)


def expected_plots(name: str, demo: DemoDatabase) -> int:
    """Plots each notebook draws on the demo data: one per ad account plus one in the overview."""
    return {
        "account_overview": len(demo.ad_accounts) + 1,
        "campaign_drilldown": 4,
        "organic_performance": 4,
        "data_freshness": 2,
    }[name]


def kernel_manager(kernels_dir: Path, env: dict[str, str]) -> KernelManager:
    """A kernel manager for this interpreter, with `env` added to the kernel's environment."""
    spec_dir = kernels_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pinterest-sync tests",
        "language": "python",
        "env": env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]))


def test_every_notebook_is_tested() -> None:
    assert [path.stem for path in NOTEBOOKS] == ["account_overview", "campaign_drilldown", "data_freshness", "organic_performance"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_stored_without_outputs(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    code = [cell for cell in cells if cell.cell_type == "code"]

    assert code
    assert all(cell.outputs == [] for cell in code)
    assert all(cell.execution_count is None for cell in code)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_on_demo_database(notebook: Path, demo: DemoDatabase, tmp_path: Path) -> None:
    output = OUTPUT_DIR / notebook.stem
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    env = {
        "PINTEREST_DUCKDB": str(demo.path),
        "PINTEREST_DATASET": "pinterest",
        "PINTEREST_REPORTING_SCHEMA": "pinterest",
        "PINTEREST_PLOTS_DIR": str(output / "saved"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    document = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        document,
        km=kernel_manager(tmp_path / "kernels", env),
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )

    client.execute()
    nbformat.write(document, output / notebook.name)

    inline = [
        base64.b64decode(item["data"]["image/png"])
        for cell in document.cells
        if cell.cell_type == "code"
        for item in cell.outputs
        if "image/png" in item.get("data", {})
    ]
    for number, image in enumerate(inline, start=1):
        (output / f"inline_{number:02d}.png").write_bytes(image)
    saved = sorted((output / "saved").glob("*.png"))
    errors = [item for cell in document.cells if cell.cell_type == "code" for item in cell.outputs if item.output_type == "error"]

    assert errors == []
    assert len(inline) == expected_plots(notebook.stem, demo)
    assert len(saved) == len(inline)
    assert all(image.startswith(PNG_SIGNATURE) for image in inline)
    assert all(path.read_bytes().startswith(PNG_SIGNATURE) for path in saved)
