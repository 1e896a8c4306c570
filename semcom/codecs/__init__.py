"""The built-in codecs behind the protocols of :mod:`semcom.protocol`.

Each is registered in pyproject.toml's ``semcom.codecs`` entry-point group, exactly as a
third party's codec would be (:mod:`semcom.registry`):

- ``mtgc`` (:mod:`semcom.codecs.mtgc`): MTGC's caption, SPW and HCI streams;
- ``jpeg``, ``webp``, ``jpeg2000``, ``avif``, ``jpegxl``, ``compressai``
  (:mod:`semcom.codecs.conventional`): one ``image`` stream with every operating point as
  an option, best PSNR first;
- ``deepjscc`` (:mod:`semcom.codecs.deepjscc`): analog Deep JSCC.
"""
