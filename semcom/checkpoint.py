"""Resumable training checkpoints in safetensors (no pickles): modules, optimiser, step.

A checkpoint is three files written atomically (``NAME.model.ckpt``, ``NAME.optim.ckpt``,
``NAME.state.ckpt``): the modules' tensors, the optimiser's tensors and a JSON state with
the step, the optimiser's param groups and anything else the caller wants to keep.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def _files(work: Path, name: str) -> dict[str, Path]:
    """NAME.model.ckpt, NAME.optim.ckpt, NAME.state.ckpt (model.ckpt, … for name "")."""
    prefix = f"{name}." if name else ""
    return {part: work / f"{prefix}{part}.ckpt" for part in ("model", "optim", "state")}


def has_checkpoint(work: Path, name: str) -> bool:
    """True when ``work`` holds a complete checkpoint ``name``."""
    return all(p.is_file() for p in _files(work, name).values())


def save_checkpoint(
    work: Path,
    name: str,
    modules: dict[str, nn.Module],
    opt: torch.optim.Optimizer,
    step: int,
    extra: dict | None = None,
) -> None:
    """Write the checkpoint; the previous one stays valid until the new one is complete."""
    work.mkdir(parents=True, exist_ok=True)
    weights = {
        f"{m}/{k}": v.detach().contiguous()
        for m, module in modules.items()
        for k, v in module.state_dict().items()
    }
    tensors: dict[str, torch.Tensor] = {}
    meta: dict = {"step": step, "param_groups": [], "state_steps": {}, "extra": extra or {}}
    state = opt.state_dict()
    meta["param_groups"] = [dict(g) for g in state["param_groups"]]
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if key == "step":
                meta["state_steps"][str(pid)] = float(value)
            else:
                tensors[f"{pid}.{key}"] = value.contiguous()
    files = _files(work, name)
    tmp = {k: p.with_suffix(".tmp") for k, p in files.items()}
    save_file(weights, str(tmp["model"]))
    save_file(tensors, str(tmp["optim"]))
    tmp["state"].write_text(json.dumps(meta))
    for k in ("model", "optim", "state"):
        tmp[k].replace(files[k])


def load_checkpoint(
    work: Path, name: str, modules: dict[str, nn.Module], opt: torch.optim.Optimizer
) -> tuple[int, dict]:
    """Restore modules and optimiser in place; returns (step, extra)."""
    files = _files(work, name)
    weights = load_file(str(files["model"]))
    for m, module in modules.items():
        prefix = f"{m}/"
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        )
    meta = json.loads(files["state"].read_text())
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in load_file(str(files["optim"])).items():
        pid, field = key.split(".", 1)
        state.setdefault(int(pid), {})[field] = value
    for pid, step in meta["state_steps"].items():
        state.setdefault(int(pid), {})["step"] = torch.tensor(step)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["step"]), dict(meta.get("extra", {}))


def load_module_weights(work: Path, name: str, module_name: str, module: nn.Module) -> None:
    """Load one module's weights from checkpoint ``name`` (e.g. a head kept across stages)."""
    weights = load_file(str(_files(work, name)["model"]))
    prefix = f"{module_name}/"
    module.load_state_dict(
        {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
    )


#: Model-directory components whose weights ship in float16; they load back as float32
#: (the text encoder through ``dtype``), so both ends of a link hold the same
#: float16-rounded weights.
HALF_COMPONENTS: tuple[str, ...] = (
    "unet",
    "controlnet",
    "vae",
    "tascm",
    "captioner",
    "sketch",
    "text_encoder",
    "hci",
)
#: Tensors kept in float32 wherever they are: the HCI's entropy-coder parameters (its
#: CDF tables are integers anyway; these few floats pick and offset them).
KEEP_FLOAT32: tuple[str, ...] = ("entropy_bottleneck", "gaussian_conditional")


def store_half(model_dir: Path, components: tuple[str, ...] = HALF_COMPONENTS) -> int:
    """Rewrite the float32 tensors of ``components`` in ``model_dir`` as float16.

    Halves the shipped size; the models load as float32 with float16-rounded weights (the
    same at both ends of a link, so bitstreams and decodes stay deterministic). Returns
    the number of files rewritten.
    """
    done = 0
    for name in components:
        for path in sorted((model_dir / name).glob("*.safetensors")):
            tensors = load_file(str(path))
            half = {
                k: v.half() if v.dtype == torch.float32 and not _keep(k) else v
                for k, v in tensors.items()
            }
            tmp = path.with_suffix(".tmp")
            save_file(half, str(tmp), metadata={"format": "pt"})
            tmp.replace(path)
            done += 1
    return done


def _keep(key: str) -> bool:
    return any(part in key.split(".") for part in KEEP_FLOAT32)
