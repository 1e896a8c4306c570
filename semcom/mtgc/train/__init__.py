"""The three training stages of MTGC (PAPER.md) for the ``tiny`` preset on ShapesWorld.

Stage 1 trains everything the decoder stands on, in parts (each resumable):
  ``captioner``  the transmitter's ShapesCaptioner (per-cell attribute cross-entropy);
  ``hci``        the learned HCI codec (rate + λ·distortion, a random quality per step);
  ``vae``        the AutoencoderKL on random crops (L1 + a small KL term);
  ``spw``        TASCM on its own with the task loss on its *quantised* tokens (an
                 attention head reads every cell's attributes back from the 8 SPWs; the
                 head is discarded after training), so the SPWs carry the scene before the
                 decoder learns to read them;
  ``decoder``    UNet + ControlNet + text encoder with the denoising loss (v-prediction,
                 Min-SNR-γ, weighted towards object pixels, EMA weights) on VAE latents,
                 guided by caption tokens + SPW tokens and the decoded HCI; caption, SPWs
                 and HCI are dropped independently so the decoder learns every subset (the
                 erasure fallback and the unconditional branch of classifier-free guidance).
Stage 2 freezes the decoder and fine-tunes TASCM through it: denoising loss + quantiser
  loss + the task loss of ``spw``.
Stage 3 fine-tunes TASCM, the ControlNet and the UNet's cross-attention layers jointly at
  a low learning rate with the same losses.

Every part renders its own training scenes from the ``train`` split (deterministic from
the seed), checkpoints into ``work`` every ``checkpoint_every`` steps, resumes from the
last checkpoint, stops at its step count or its time budget (whichever comes first; the
learning rate anneals over whichever is nearer), logs to ``work/stage<N>.log`` and writes
its trained component into the model directory ``out`` (default: the shipped
``semcom/mtgc/presets/weights/tiny``), recording steps, losses, minutes and its measured gates
in ``out/training.json``. :func:`run_all` runs every stage in order: ``semcom train``
without ``--stage``.

The package: ``config`` (settings), ``data`` (pools, batches, latents), ``loop`` (the
loop, EMA, the record), ``inputs`` (what the decoder sees in training), ``gates``
(measurements), ``parts`` (one module per part) and ``run`` (running parts and stages).
"""

from semcom.mtgc.train.config import SAMPLING_CANDIDATES, STAGE_PARTS, TrainConfig
from semcom.mtgc.train.data import object_weights
from semcom.mtgc.train.gates import choose_sampling, decoder_gates, sketch_gates
from semcom.mtgc.train.inputs import TaskHead, init_from_captioner, task_head
from semcom.mtgc.train.run import STAGE1_LANES, run_all, run_stage, train_part

__all__ = [
    "SAMPLING_CANDIDATES",
    "STAGE1_LANES",
    "STAGE_PARTS",
    "TaskHead",
    "TrainConfig",
    "choose_sampling",
    "decoder_gates",
    "init_from_captioner",
    "object_weights",
    "run_all",
    "run_stage",
    "sketch_gates",
    "task_head",
    "train_part",
]
