"""benchmarks/async_and_pipeline.py runs with --quick and prints every measurement and its
ratio; its numbers are for a person to read on an idle machine, so nothing here checks speed."""

from __future__ import annotations

import re
import subprocess
import sys

import support

NUMBER = r"[\d.]+"


def test_async_and_pipeline_benchmark_runs():
    script = support.ROOT / "benchmarks" / "async_and_pipeline.py"
    # Generous: a few seconds when the machine is idle; its server and clients are processes.
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300,
                            cwd=support.ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    out = result.stdout
    assert result.stderr == "", result.stderr[-4000:]
    for pattern in [
        # 1. the same downloads three ways, with ratios against 1 thread
        rf"1 thread +median +{NUMBER} s +1\.0x",
        rf"8 threads +median +{NUMBER} s +{NUMBER}x",
        rf"asyncio, 8 at once +median +{NUMBER} s +{NUMBER}x",
        rf"asyncio over 8 threads: {NUMBER}x",
        # 2. every request in flight at once, threads against tasks, with the cost per request
        # (how many were in flight at once is for a reader: on a busy machine the first threads
        # were answered before the last had started, +98 of 100)
        r"the server had \d+ requests in flight at once",
        rf"threads +median +{NUMBER} s; \+\d+ threads; per request: +{NUMBER} KiB resident",
        rf"asyncio +median +{NUMBER} s; \+0 threads; per request: +{NUMBER} KiB resident",
        rf"threads over asyncio: {NUMBER}x the time, {NUMBER}x the resident memory growth",
        # 3. the pipeline against its stages one after the other, with the timeline's overlap
        rf"one after the other +median +{NUMBER} s +1\.00x +downloads and counts overlapped for 0\.00 s",
        rf"pipeline +median +{NUMBER} s +{NUMBER}x +downloads and counts overlapped for {NUMBER} s",
        rf"the stages alone: downloads {NUMBER} s, counts {NUMBER} s",
        r"Expected: 1\. .*; 2\. .*; 3\. ",
        rf"Measured: 1\. 8 threads {NUMBER}x, asyncio {NUMBER}x over 1 thread; 2\. .*; 3\. the pipeline {NUMBER}x",
    ]:
        assert re.search(pattern, out), f"no line matches {pattern!r} in:\n{out}"
