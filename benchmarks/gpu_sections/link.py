"""The GPU benchmark's link sections: LDPC throughput, the link end to end, a sweep on
each device."""

from __future__ import annotations

import tempfile
import time
import warnings

import torch

from gpu_sections.common import SNRS, _guarded, _median_seconds


def ldpc_throughput(devices: list[str], args, results: list[dict]) -> None:
    """The transport-block decoder's kbit/s on each device, the same LLRs."""
    from channels.link import Link, stream_generator
    from channels.mcs import MCS, threshold_db

    mcs, bits_per_tb = MCS("qam16", 0.5), 1024
    snr = threshold_db(mcs, "awgn") + 1.0
    blocks = 64 if args.quick else 512
    cpu = Link("awgn")
    gen = stream_generator(0, "gpu-benchmark")
    payload = torch.randint(0, 2, (blocks, bits_per_tb), generator=gen).float()
    _, llr = cpu.send(payload, mcs, snr, gen)
    reference = None
    for device in devices:
        for early in (True, False):

            def measure(d=device, e=early) -> dict:
                nonlocal reference
                link = Link("awgn", device=d, early_stop=e)
                _, dec = link.fec(bits_per_tb, mcs)
                x = llr.to(d)
                sec = _median_seconds(lambda: dec(x), d, args.repeats)
                hard = dec(x).bits.cpu()
                if reference is None:  # the first decoder's bits: the others must match
                    reference = hard
                same = bool(torch.equal(hard, reference))
                return {"kbit_per_s": blocks * bits_per_tb / sec / 1e3, "same_bits": same}

            _guarded(
                results,
                {
                    "what": "ldpc",
                    "device": device,
                    "early_stop": early,
                    "blocks": blocks,
                    "mcs": str(mcs),
                    "snr_db": round(snr, 2),
                },
                measure,
            )


def link_end_to_end(devices: list[str], args, results: list[dict]) -> None:
    """One ``transmit_many`` of MTGC-sized streams on each device, over TDL-A (and, unless
    ``--quick``, CDL-A, 2×2 TDL-A and Rayleigh); every device's deliveries compared with
    the first's (the draws are the same on every device)."""
    from channels.link import Link

    items = [
        {"caption": bytes(range(i, i + 12)), "spw": bytes(range(i, i + 10)), "hci": bytes(300)}
        for i in range(4 if args.quick else 32)
    ]
    cases = [("tdl-a", {})]
    if not args.quick:
        cases += [("cdl-a", {}), ("tdl-a", {"antennas": 2}), ("rayleigh", {})]
    for channel, options in cases:
        first: list = []
        for device in devices:

            def measure(d=device, c=channel, o=options, first=first) -> dict:
                link = Link(c, device=d, channel_options=o)
                sec = _median_seconds(
                    lambda: link.transmit_many(items, 10.0, seeds=range(len(items))),
                    d,
                    args.repeats,
                )
                got = link.transmit_many(items, 10.0, seeds=range(len(items)))
                pattern = [sorted(k for k, v in t.received().items() if v is not None) for t in got]
                if not first:
                    first.append(pattern)
                return {
                    "s_per_item": sec / len(items),
                    "streams_delivered": sum(len(p) for p in pattern),
                    "same_deliveries": pattern == first[0],
                }

            name = channel + (f" {options['antennas']}x{options['antennas']}" if options else "")
            record = {"what": "link", "device": device, "channel": name, "items": len(items)}
            _guarded(results, record, measure)


def sweep_on_devices(devices: list[str], args, results: list[dict]) -> None:
    """The same 100-point sweep with ``device:`` set to each device in turn (a device may
    come twice: a repeat), every run's rows compared with the first run's."""
    from experiments.config import parse_config
    from experiments.store import KEY_COLUMNS, Store
    from experiments.sweep import run_sweep
    from semcom.metrics.scoring import SEMANTIC_FIELDS

    n, snrs = (1, SNRS[:2]) if args.quick else (5, SNRS)
    frames: list = []
    for run, device in enumerate(devices):
        config = parse_config(
            {
                "name": "gpu-check",
                "dataset": {"name": "shapes", "split": "test", "n": n, "size": 128, "seed": 0},
                "codecs": [{"name": "mtgc", "steps": 10}],
                "channels": ["awgn", "rayleigh"],
                "snr_db": list(snrs),
                "budget_cpp": [0.1],
                "seed": 0,
                "decode_seed": 0,
                "device": device,
            }
        )

        def measure(c=config) -> dict:
            with tempfile.TemporaryDirectory(prefix="semcom-sweep-") as tmp:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    report = run_sweep(c, tmp, progress=False, weights=args.weights)
                sec = time.perf_counter() - t0
                store = Store(tmp, create=False)
                frames.append(store.frame().set_index(list(KEY_COLUMNS[1:])).sort_index())
                store.close()
            out = {"points": report.points_written, "seconds": sec}
            if len(frames) > 1:  # compare with the first run's rows
                first, this = frames[0], frames[-1]
                semantic = list(SEMANTIC_FIELDS)
                # everything the link decides: sizes, MCSs, CRCs, pre-FEC BERs, iterations
                pixels = {"config_hash", "psnr", "ms_ssim", *semantic}
                link = [c for c in first.columns if c not in pixels]
                same_link = (first[link].fillna(-1) == this[link].fillna(-1)).all(axis=1)
                same_sem = (first[semantic].fillna(-1) == this[semantic].fillna(-1)).all(axis=1)
                out |= {
                    "same_link_rows": int(same_link.sum()),
                    "same_semantic_rows": int(same_sem.sum()),
                    "max_psnr_diff_db": float((first["psnr"] - this["psnr"]).abs().max()),
                }
            return out

        record = {"what": "sweep", "device": device, "run": run, "points_asked": n * 2 * len(snrs)}
        _guarded(results, record, measure)
