"""`analyze --engine spark`: the usage stage on Spark (local mode) over the demo data set gives
the analysis the DuckDB engine gives, byte for byte, apart from the ingest block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import dataset_options

from rightsizer import synth
from rightsizer.cli import main


@pytest.mark.slow
@pytest.mark.usefixtures("spark")
def test_spark_and_duckdb_write_the_same_analysis_of_the_demo_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = synth.demo_dataset(tmp_path / "demo")
    outs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        args = [
            "analyze",
            "--engine",
            engine,
            "--source",
            str(dataset.source_dir),
            "--db",
            str(tmp_path / f"{engine}.duckdb"),
            *dataset_options(dataset),
            "--event-selectors",
            str(dataset.event_selectors),
            "--format",
            "json",
            "--out",
            str(out),
        ]
        assert main(args) == 0
        capsys.readouterr()
        outs[engine] = {path.name: path.read_bytes() for path in out.iterdir()}
    assert not (tmp_path / "spark.duckdb").exists(), "the Spark engine stores nothing"
    summaries = {engine: json.loads(files.pop("summary.json")) for engine, files in outs.items()}
    ingest = {engine: summary.pop("ingest") for engine, summary in summaries.items()}
    assert summaries["spark"] == summaries["duckdb"]
    assert outs["spark"] == outs["duckdb"]  # every policy and diff, byte for byte
    assert any(name.endswith(".policy.json") for name in outs["spark"])
    assert (ingest["duckdb"]["engine"], ingest["spark"]["engine"]) == ("duckdb", "spark")
    assert ingest["spark"]["events_added"] == 0
    assert ingest["spark"]["files_read"] == ingest["duckdb"]["files_read"]
    assert ingest["spark"]["records"] == ingest["duckdb"]["records"]
