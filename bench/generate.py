"""How long `ocfkit generate` takes for a SAN with 500 LUNs (python3 -m bench.generate)."""

from __future__ import annotations

import os
import statistics
import time

from ocfkit import description


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    desc = description.load(os.path.join(root, "examples", "seed-san.toml"))
    for backend in ("lio", "tgt"):
        desc["cluster"]["target_backend"] = backend
        desc["target"][0]["lun"] = [{"lun": i, "path": f"/dev/vg0drbd/lun{i}"} for i in range(500)]
        times = []
        for _ in range(10):
            t = time.perf_counter()
            files = description.generate(desc)
            times.append((time.perf_counter() - t) * 1000)
        size = sum(len(c) for c, _m in files.values())
        print(f"| generate, 500 LUNs, {backend} | {statistics.median(times):.1f} ms | {len(files)} files, "
              f"{size} bytes |")


if __name__ == "__main__":
    main()
