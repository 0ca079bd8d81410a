"""The README's per-kernel table and stall summaries from call 1's Nsight Compute exports (run here, no GPU).

python benchmarks/runs/h200-2026-12-03d/local_scripts/ncu_table.py            # kernels of >= 10 us
python benchmarks/runs/h200-2026-12-03d/local_scripts/ncu_table.py --stalls _kv_summary_kernel
"""

import argparse
import collections
import csv
import gzip
import io
import pathlib
import tarfile

NCU = pathlib.Path(__file__).resolve().parent.parent / "ncu"
COLUMNS = [
    ("Memory Throughput", "mem"), ("DRAM Throughput", "dram%"), ("Compute (SM) Throughput", "sm%"),
    ("Registers Per Thread", "regs"), ("Achieved Occupancy", "occ%"), ("SM Frequency", "GHz"),
    ("Grid Size", "grid"), ("Block Size", "block"),
]  # fmt: skip


def kernel_table(min_us: float) -> None:
    with gzip.open(NCU / "call1_details.csv.gz", "rt") as f:
        rows = list(csv.DictReader(f))
    kernels = collections.OrderedDict()
    for r in rows:
        kernels.setdefault((int(r["ID"]), r["Kernel Name"][:40]), {})[r["Metric Name"]] = (
            r["Metric Value"], r["Metric Unit"]
        )  # fmt: skip
    print("id  kernel                                        us  " + "  ".join(c for _, c in COLUMNS))
    for (i, name), m in kernels.items():
        value, unit = m["Duration"]
        us = float(value.replace(",", "")) * (1000 if unit == "ms" else 1)
        if us >= min_us:
            cells = [
                m.get(k, ("", ""))[0] + (m[k][1][:2] if k == "Memory Throughput" else "") for k, _ in COLUMNS
            ]
            print(f"{i:>3} {name:40} {us:8.1f}  " + "  ".join(cells))


def stalls(kernel: str, top: int) -> None:
    with tarfile.open(NCU / "call1_source.tgz") as tar:
        text = tar.extractfile(f"src_{kernel}.csv").read().decode()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('"Address"'))
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))

    def num(x: str) -> float:
        try:
            return float(x.replace(",", ""))
        except ValueError:
            return 0.0

    cols = [c for c in rows[0] if c.startswith("stall_") and "Not Issued" not in c]
    total = collections.Counter({c: sum(num(r[c]) for r in rows) for c in cols})
    samples = sum(total.values())
    print(kernel, f"{len(rows)} SASS instructions, {samples:.0f} stall samples")
    print({c[6:]: round(100 * v / samples, 1) for c, v in total.most_common(10)})
    for r in sorted(rows, key=lambda r: -num(r["Warp Stall Sampling (All Samples)"]))[:top]:
        print(f"{num(r['Warp Stall Sampling (All Samples)']):6.0f}  {r['Source'][:80]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-us", type=float, default=10.0)
    parser.add_argument(
        "--stalls", help="a kernel of call1_source.tgz: its stall reasons and top instructions"
    )
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.stalls:
        stalls(args.stalls, args.top)
    else:
        kernel_table(args.min_us)
