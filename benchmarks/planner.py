"""The planner's cost per plan against the fixed rule's, on the paper sweep's grid.

    python benchmarks/planner.py [--images 5] [--threads 1]

For each codec (MTGC-tiny with its shipped value table; AVIF), channel (AWGN, Rayleigh),
budget (0.03, 0.1 cpp) and SNR (-6 ... 9 dB), every image is planned by the fixed rule
(MTGC: caption and SPWs robust, HCI adaptive; AVIF: adaptive) and by the planner
(objective f1), each timed after one warm-up plan of the same point (the caches of TB
layouts and block models are the process's). Prints ms per plan, the ratio to the fixed
rule in the same process, and what the planner adds to the paper sweep (its 1,200 plans
per codec: 50 scenes x 24 points; the trials share a plan). Then, per codec, what the
sender works out of one image before planning it (:func:`experiments.planning.sender_values`:
its decodes, timed without the sweep's decode cache, which the receiver would otherwise
fill), once per image and worker in a sweep.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from rich.console import Console
from rich.table import Table

from experiments.planning import plan_fixed, plan_planned, sender_values
from experiments.transmission import budget_uses, make_link
from semcom.data.shapes import ShapesWorld
from semcom.registry import make_codec
from semcom.values import values_for

FIXED = {"mtgc": {"caption": "robust", "spw": "robust", "hci": "adaptive"}, "avif": {}}
SNRS = (-6.0, -3.0, 0.0, 3.0, 6.0, 9.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = ShapesWorld("test", args.images, 128, 0)
    table = Table(
        "codec", "channel", "cpp", "fixed ms/plan", "planned ms/plan", "ratio", "paper sweep +s"
    )
    for name in ("mtgc", "avif"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            codec = make_codec(name, {"steps": 10} if name == "mtgc" else {})
            values = values_for(codec)
            encoded = [codec.encode(data[i].image) for i in range(args.images)]
        for channel in ("awgn", "rayleigh"):
            link = make_link(channel)
            for cpp in (0.03, 0.1):
                budget = budget_uses(cpp, 128, 128)
                times = {"fixed": 0.0, "planned": 0.0}
                for snr in SNRS:
                    for enc in encoded:
                        for kind in times:
                            args_ = (link, enc, snr, budget)
                            plan = (
                                (lambda a=args_, n=name: plan_fixed(*a, FIXED[n]))
                                if kind == "fixed"
                                else (lambda a=args_, v=values: plan_planned(*a, v, "f1"))
                            )
                            plan()  # warm-up: the point's block models and layouts
                            t0 = time.perf_counter()
                            plan()
                            times[kind] += time.perf_counter() - t0
                n = len(SNRS) * args.images
                fixed, planned = 1e3 * times["fixed"] / n, 1e3 * times["planned"] / n
                table.add_row(
                    name,
                    channel,
                    f"{cpp:g}",
                    f"{fixed:.2f}",
                    f"{planned:.2f}",
                    f"{planned / fixed:.1f}x",
                    f"{(planned - fixed) * 300 / 1e3:.1f}",
                )
    Console().print(table)
    sender = Table(
        "codec", "sender decodes per image (s)", "paper sweep, 2 workers (+s worker time)"
    )
    for name in ("mtgc", "avif", "compressai", "jpeg", "webp", "jpeg2000", "jpegxl"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            codec = make_codec(name, {"steps": 10} if name == "mtgc" else {})
            values = values_for(codec)
            encoded = [codec.encode(data[i].image) for i in range(args.images)]
        t0 = time.perf_counter()
        for i, enc in enumerate(encoded):
            sender_values(values, codec, enc, data[i].image, 0)
        per = (time.perf_counter() - t0) / args.images
        sender.add_row(name, f"{per:.3f}", f"{per * 50 * 2:.0f}")
    Console().print(sender)
    print(
        "paper sweep +s: the extra planning seconds of one codec over the paper sweep's 300 "
        "plans of this channel and budget (50 scenes x 6 SNRs)."
    )


if __name__ == "__main__":
    main()
