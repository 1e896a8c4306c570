"""MTGC: multimodal-guided, task-aware generative image compression — one of semcom's
registered codecs (its adapter is :mod:`semcom.codecs.mtgc`), in a package of its own.

- :mod:`~semcom.mtgc.pipeline`: :class:`~semcom.mtgc.pipeline.MTGC`, the transmitter and
  receiver end to end (encode an image into its three streams, decode what arrived);
  :mod:`~semcom.mtgc.config` its settings (``mtgc.json``);
- the models: :mod:`~semcom.mtgc.captioner`, :mod:`~semcom.mtgc.tascm` (semantic
  pseudo-words), :mod:`~semcom.mtgc.autoencoder`, :mod:`~semcom.mtgc.textenc`,
  :mod:`~semcom.mtgc.mgdd` (the guided diffusion decoder, :mod:`~semcom.mtgc.mgdd_config`),
  :mod:`~semcom.mtgc.sketch`, and :mod:`~semcom.mtgc.receiver` (from decoded streams to
  pixels); :mod:`~semcom.mtgc.model_dir` reads and writes a model directory;
- :mod:`~semcom.mtgc.streams`: each stream's bytes (caption, SPWs, HCI) and
  :mod:`~semcom.mtgc.container` the ``.mtgc`` file;
- :mod:`~semcom.mtgc.presets`: the backbones (``tiny``, shipped trained, and ``sd21``);
- :mod:`~semcom.mtgc.train`: ``semcom train``, which reproduces the shipped weights.
"""
