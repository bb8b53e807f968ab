#!/usr/bin/env python3
"""Shared vs per-task block decoding on the full demo, as ratios taken in one session of
alternated runs (medians; these machines are shared and noisy):

- the load stage's wall time by chunk side, staged schedule, `--blocks shared` and
  `--blocks per-task`, and each side's load over the load at 1024;
- read amplification planned (what a per-task reader decodes) and measured, and the
  block store's peak;
- the fused schedule's max RSS (each run is a process of its own, so the kernel's
  high-water mark is the run's), and each side's over the value at 2048.

Usage: bench/blocks_aims.py [--rounds 5] [--threads 2] [--sides 256,512,1024,2048]
                            [--catalog search.json] [--format gtiff]
Needs a release build (cargo build --release). Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "chunkscope")


def run(args, out):
    cmd = [BIN, "run", "--json", "--out", out] + args
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def load_s(report):
    for s in report["stages"]:
        if s["name"] == "load":
            return s["wall_ns"] / 1e9
    return 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sides", default="256,512,1024,2048")
    p.add_argument("--catalog", default=None)
    p.add_argument("--format", default="gtiff")
    a = p.parse_args()
    sides = [int(s) for s in a.sides.split(",")]
    base = ["--mode", "chunked", "--threads", str(a.threads), "--format", a.format]
    if a.catalog:
        base += ["--catalog", a.catalog]
    configs = [
        (side, blocks, schedule)
        for side in sides
        for blocks in ("shared", "per-task")
        for schedule in ("staged", "fused")
    ]
    loads, rss, facts = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.tif")
        # A warm-up of each configuration, then rounds that alternate them all.
        for rnd in range(a.rounds + 1):
            for side, blocks, schedule in configs:
                args = base + ["--chunks", str(side), "--blocks", blocks, "--schedule", schedule]
                r = run(args, out)
                os.remove(out)
                if rnd == 0:
                    continue
                key = (side, blocks)
                if schedule == "staged":
                    loads.setdefault(key, []).append(load_s(r))
                    b = r["blocks"]
                    facts[key] = (
                        b["read_amplification_planned"],
                        b["read_amplification_measured"],
                        b["store_peak_bytes"],
                    )
                else:
                    rss.setdefault(key, []).append(r["process_max_rss_bytes"])
    med = statistics.median
    ref_load = {b: med(loads[(1024, b)]) for b in ("shared", "per-task")} if 1024 in sides else None
    ref_rss = {b: med(rss[(2048, b)]) for b in ("shared", "per-task")} if 2048 in sides else None
    print(f"{a.rounds} rounds after a warm-up, {a.threads} threads, {a.format}, medians")
    print("| side | blocks | load s | load / load@1024 | amplification planned / measured "
          "| store peak MiB | fused max RSS MiB | RSS / RSS@2048 |")
    print("|---|---|---|---|---|---|---|---|")
    for side in sides:
        for blocks in ("shared", "per-task"):
            key = (side, blocks)
            l, m = med(loads[key]), med(rss[key])
            planned, measured, peak = facts[key]
            lr = f"{l / ref_load[blocks]:.2f}x" if ref_load else "-"
            rr = f"{m / ref_rss[blocks]:.2f}x" if ref_rss else "-"
            print(f"| {side} | {blocks} | {l:.3f} | {lr} | {planned:.2f} / {measured:.2f} "
                  f"| {peak / 2**20:.1f} | {m / 2**20:.1f} | {rr} |")


if __name__ == "__main__":
    main()
