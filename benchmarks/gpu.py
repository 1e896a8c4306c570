"""MTGC (sd21 at full size, and tiny) and the link on an accelerator against the CPU.

    python benchmarks/gpu.py [--out gpu.json] [--weights DIR] [--images 8] [--quick] [--compile]
                             [--only sd21 sd21-train tiny-gpu agreement ldpc link sweep tiny-cpu]

Measures, on CUDA when there is a GPU and always on the CPU (the codec on one thread, the
budget of the tiny preset's decode target; the link on all threads):

* MTGC-sd21 at the published sizes (Stable Diffusion 2.1-base UNet and VAE, OpenCLIP
  ViT-H text encoder, CLIP ViT-L/14 image encoder, ControlNet from the UNet) with random
  weights (:mod:`semcom.mtgc.presets.sd21_random`; a network's time does not depend on its
  weights' values): encode and decode seconds per 512×512 image at 1, 4, 10 and 20 steps
  (classifier-free guidance, so two UNet and ControlNet evaluations a step), batch 1 and
  ``--images``, in float16 and, at 10 steps, float32; peak GPU memory; building and
  loading the model. Only where there is a GPU (``--quick`` runs the toy scale on the CPU);
* ``semcom train --preset sd21`` on the same model (``sd21-train``): each part a few steps
  at its default batch on rendered 512×512 scenes, seconds (steps, gates, writing the
  weights) and peak GPU memory;
* MTGC-tiny encode and decode seconds per 128×128 ShapesWorld test scene, decode at 1, 4,
  10 and 20 DDIM steps (the shipped sampler starts from the scene sketch, so 10 steps run
  2 UNet evaluations; ``unet_evals`` in the JSON), batch 1 and batch ``--images``; on the
  GPU also in float16, and the peak GPU memory;
* the link's LDPC decoder (:class:`channels.coding.TransportBlockDecoder`, Sionna's 5G
  decoder with our early stop) on the same LLRs: information kbit/s on each device and
  whether the decoded bits agree;
* the agreement of MTGC-tiny's decodes across precision and device: float32 against
  half precision (float16 on a GPU, bfloat16 on a CPU) and the GPU against the CPU, the
  same bitstreams decoded with the same seeds (PSNR between the decodes, largest pixel
  difference, whether the encoders wrote the same bits);
* one :meth:`channels.link.Link.transmit_many` call end to end on each device;
* a 100-point sweep (MTGC-tiny, 5 scenes × AWGN and Rayleigh × 10 SNRs, 0.1 cpp) with
  ``device: cuda`` and with ``device: cpu``: seconds, and how many rows agree in every
  delivered bit and every semantic figure, and the largest PSNR difference.

The results file is rewritten after every section, so a run stopped early keeps what it
measured.

Every measurement runs on its own: one that fails is recorded with its error (the JSON's
``error`` field) and the rest still run. Times are medians of ``--repeats`` runs after a
warm-up. It prints one table and writes one JSON (``--out``). Timings do not depend on the
weights' values; without ``--weights`` the shipped weights are used.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from gpu_sections.codec import codec_timings, decode_agreement, sd21_timings
from gpu_sections.link import ldpc_throughput, link_end_to_end, sweep_on_devices
from gpu_sections.report import figure

SECTIONS = ("sd21", "sd21-train", "tiny-gpu", "agreement", "ldpc", "link", "sweep", "tiny-cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("gpu.json"))
    ap.add_argument("--weights", default=None, help="tiny model directory (default: shipped)")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer points (the tests' CPU path)")
    ap.add_argument(
        "--compile",
        action="store_true",
        help="on a GPU, also time sd21's float16 decoder under torch.compile (CUDA graphs)",
    )
    ap.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="run these sections only"
    )
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    devices = (["cuda"] if cuda else []) + ["cpu"]
    results: list[dict] = []
    threads = torch.get_num_threads()
    meta = {
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": threads,
        "torch": torch.__version__,
        "quick": args.quick,
    }

    def save() -> None:  # after every section: a run stopped early keeps what it measured
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))

    run = set(args.only)
    if run & {"sd21", "sd21-train"} and (cuda or args.quick):
        sd21_timings("cuda" if cuda else "cpu", args, results)
        save()
    if "tiny-gpu" in run and cuda:
        codec_timings("cuda", None, args, results)
        codec_timings("cuda", torch.float16, args, results)
        save()
    if "agreement" in run:
        decode_agreement(devices[0], args, results)
        save()
    if "ldpc" in run:
        ldpc_throughput(devices, args, results)
    if "link" in run:
        link_end_to_end(devices, args, results)
    save()
    if "sweep" in run:
        sweep_on_devices(devices if cuda else ["cpu", "cpu"], args, results)
        save()
    if "tiny-cpu" in run:
        torch.set_num_threads(1)
        codec_timings("cpu", None, args, results)
        torch.set_num_threads(threads)
        save()
    print(f"\n{meta}")
    print(f"{'what':11s} {'device':5s} {'dtype':8s} {'steps':>5s} {'batch':>5s} {'figure':>28s}")
    for r in results:
        fig = figure(r)
        print(
            f"{r['what']:11s} {r['device']:5s} {r.get('dtype', ''):8s} "
            f"{r.get('steps', ''):>5} {r.get('batch', r.get('blocks', '')):>5} {fig}"
        )


if __name__ == "__main__":
    main()
