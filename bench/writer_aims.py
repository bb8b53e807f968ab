#!/usr/bin/env python3
"""The output stage's figures on the full demo, as ratios taken in one session of
alternated runs (medians; these machines are shared and noisy):

- COG: write + finalize of the chunked writer vs `gdal_translate -of COG` with the same
  codec, block size, AVERAGE resampling and NUM_THREADS on the same masked pixels;
- GeoTIFF: the stages after mask vs the load stage;
- the longest single task as a share of the run's wall time;
- chunked x N vs serial with COG output, at two chunk sizes;
- the same with GDAL's writer (`--writer gdal`), for comparison.

Every measured run starts after `sync` with the previous output removed, so the kernel's
writeback of one run's 60-90 MB file is not timed inside the next run (it was: the
GeoTIFF figure read 0.27-0.38x right after COG runs and 0.20-0.23x alone). `--no-sync`
measures back to back.

Usage: bench/writer_aims.py [--rounds 5] [--threads 2] [--catalog search.json] [--no-sync]
Needs a release build (cargo build --release) and gdal_translate. Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "chunkscope")


def run(args, out):
    cmd = [BIN, "run", "--json", "--out", out] + args
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def stage(report, name):
    for s in report["stages"]:
        if s["name"] == name:
            return s["wall_ns"] / 1e9
    return 0.0


def longest_task_share(report):
    longest = max(t["end_ns"] - t["start_ns"] for t in report["tasks"])
    return longest / report["wall_ns"]


def med(xs):
    return statistics.median(xs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--catalog", default=None)
    p.add_argument("--no-sync", action="store_true")
    a = p.parse_args()
    scene = ["--catalog", a.catalog] if a.catalog else []
    t = str(a.threads)
    tmp = tempfile.mkdtemp(prefix="chunkscope-bench-")
    out = os.path.join(tmp, "out.tif")
    masked = os.path.join(tmp, "masked.tif")
    # The masked image as an uncompressed tiled GeoTIFF: gdal_translate's input.
    run(scene + ["--format", "gtiff", "--compress", "NONE"], masked)

    configs = {
        "cog chunked x%s @2048" % t: ["--chunks", "2048", "--threads", t],
        "cog chunked x%s @1024" % t: ["--chunks", "1024", "--threads", t],
        "cog serial": ["--mode", "serial"],
        "gtiff chunked x%s @2048" % t: ["--format", "gtiff", "--chunks", "2048", "--threads", t],
        "cog gdal-writer x%s @2048" % t: ["--chunks", "2048", "--threads", t, "--writer", "gdal"],
        "cog gdal-writer serial": ["--mode", "serial", "--writer", "gdal"],
    }
    reports = {k: [] for k in configs}
    translate = []
    for r in range(a.rounds):
        # Alternate the order each round so no configuration always runs first.
        order = list(configs) + ["gdal_translate"]
        if r % 2:
            order.reverse()
        for name in order:
            if os.path.exists(out):
                os.remove(out)
            if not a.no_sync:
                os.sync()
            if name == "gdal_translate":
                t0 = time.perf_counter()
                subprocess.run(
                    ["gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=DEFLATE",
                     "-co", "BLOCKSIZE=1024", "-co", "RESAMPLING=AVERAGE",
                     "-co", "NUM_THREADS=%s" % t, "-co", "OVERVIEWS=AUTO", masked, out],
                    check=True)
                translate.append(time.perf_counter() - t0)
                os.remove(out)
            else:
                reports[name].append(run(scene + configs[name], out))
        print("round %d/%d done" % (r + 1, a.rounds), file=sys.stderr)

    def fig(name, f):
        return med([f(x) for x in reports[name]])

    out_stages = lambda x: stage(x, "write") + stage(x, "finalize")
    c2048 = "cog chunked x%s @2048" % t
    c1024 = "cog chunked x%s @1024" % t
    g2048 = "gtiff chunked x%s @2048" % t
    w2048 = "cog gdal-writer x%s @2048" % t
    gt = med(translate)
    rows = [
        ("gdal_translate -of COG (same pixels, DEFLATE, 1024, AVERAGE, NUM_THREADS=%s)" % t, "%.2f s" % gt),
        ("COG write+finalize, chunked writer @2048", "%.2f s = %.2fx gdal_translate" % (fig(c2048, out_stages), fig(c2048, out_stages) / gt)),
        ("COG write+finalize, GDAL writer @2048", "%.2f s = %.2fx gdal_translate" % (fig(w2048, out_stages), fig(w2048, out_stages) / gt)),
        ("GeoTIFF write+finalize / load @2048", "%.3f s / %.3f s = %.2fx" % (fig(g2048, out_stages), fig(g2048, lambda x: stage(x, "load")), med([out_stages(x) / stage(x, "load") for x in reports[g2048]]))),
        ("longest task / wall, COG chunked @2048", "%.0f %%" % (100 * fig(c2048, longest_task_share))),
        ("longest task / wall, COG GDAL writer @2048", "%.0f %%" % (100 * fig(w2048, longest_task_share))),
    ]
    serial = fig("cog serial", lambda x: x["wall_ns"]) / 1e9
    for name in (c2048, c1024):
        wall = fig(name, lambda x: x["wall_ns"]) / 1e9
        rows.append(("speedup vs serial, %s" % name, "%.2fx (serial %.2f s, chunked %.2f s)" % (serial / wall, serial, wall)))
    gserial = fig("cog gdal-writer serial", lambda x: x["wall_ns"]) / 1e9
    gwall = fig(w2048, lambda x: x["wall_ns"]) / 1e9
    rows.append(("speedup vs serial, GDAL writer @2048", "%.2fx (serial %.2f s, chunked %.2f s)" % (gserial / gwall, gserial, gwall)))
    settle = "back to back" if a.no_sync else "each after sync"
    print("| figure (medians of %d alternated rounds, %s) | value |" % (a.rounds, settle))
    print("|---|---|")
    for k, v in rows:
        print("| %s | %s |" % (k, v))
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
