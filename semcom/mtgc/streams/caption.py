"""Caption stream: a lossless text coder for short captions.

Text is split into tokens (runs of letters, and single other characters); each token is
coded by an arithmetic coder under a fixed, interpolated trigram model counted once on
the ShapesWorld caption corpus plus a list of common caption words, and frozen in
:mod:`semcom.mtgc.streams.caption_lm`. A capitalised word costs one CAP token; a token outside
the vocabulary is escaped and spelled byte by byte under a fixed byte model, so any
UTF-8 text round-trips exactly.

The frozen model is counted by :mod:`semcom.mtgc.streams.caption_build` (rebuilding it changes
the bitstream; bump ``MODEL_VERSION``).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter, defaultdict
from functools import cache, lru_cache

from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.arith import ArithmeticDecoder, ArithmeticEncoder

#: Longest caption accepted, in UTF-8 bytes.
MAX_CAPTION_BYTES = 1024
_MAX_TOKENS = 2 * MAX_CAPTION_BYTES
_TOKEN_RE = re.compile(r"[A-Za-z]+|[^A-Za-z]", re.DOTALL)
BOS, EOS, ESC, CAP = "<bos>", "<eos>", "<esc>", "<cap>"
SPECIALS = (BOS, EOS, ESC, CAP)
#: Interpolation weights of the trigram, bigram and unigram estimates (sum 2**16).
_W3, _W2, _W1 = 52000, 11000, 2536
_BYTE_END = 256


def tokenize(text: str) -> list[str]:
    """Split text into letter runs and single other characters; ''.join inverts it."""
    return _TOKEN_RE.findall(text)


def _byte_cumfreq() -> list[int]:
    """Fixed byte model for escaped tokens: 257 symbols (256 bytes, end)."""
    freq = [1] * 257
    for i, ch in enumerate("etaoinshrdlcumwfgypbvkjxqz"):
        freq[ord(ch)] = 60 - 2 * i
        freq[ord(ch.upper())] = 8
    for ch in "0123456789":
        freq[ord(ch)] = 6
    for ch in " .,-'":
        freq[ord(ch)] = 10
    freq[_BYTE_END] = 40
    cum = [0]
    for f in freq:
        cum.append(cum[-1] + f)
    return cum


class CaptionModel:
    """A frozen interpolated trigram model over tokens, with integer frequency tables."""

    def __init__(
        self,
        vocab: list[str],
        trigrams: list[tuple[int, int, int, int, int]],
        unigram_extra: int = 1,
    ) -> None:
        self.vocab = list(vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        c3: dict[tuple[int, int, int], dict[int, int]] = defaultdict(dict)
        c2: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
        c1: Counter[int] = Counter()
        for u, v, s, w, c in trigrams:
            c3[(u, v, s)][w] = c
            c2[(v, s)][w] += c
            c1[w] += c
        for i in range(len(self.vocab)):
            c1[i] += unigram_extra
        c1[self.index[BOS]] = 0
        self._c3 = {k: dict(d) for k, d in c3.items()}
        self._n3 = {k: sum(d.values()) for k, d in c3.items()}
        self._c2 = {k: dict(d) for k, d in c2.items()}
        self._n2 = {k: sum(d.values()) for k, d in c2.items()}
        self._c1 = [c1[i] for i in range(len(self.vocab))]
        self._n1 = sum(self._c1)
        self.bos = self.index[BOS]
        self.eos = self.index[EOS]
        self.esc = self.index[ESC]
        self.cap = self.index[CAP]
        self.space = self.index[" "]
        self.start = (self.bos, self.bos, 0)
        self.byte_cumfreq = _byte_cumfreq()
        payload = repr((self.vocab, sorted(trigrams))).encode()
        #: CRC32 of the model: a coder only decodes what a coder with this fingerprint wrote.
        self.fingerprint = zlib.crc32(payload)
        self._cumfreq = lru_cache(maxsize=8192)(self._cumfreq_uncached)

    def _cumfreq_uncached(self, u: int, v: int, s: int) -> tuple[int, ...]:
        n = len(self.vocab)
        freq = [1 + (_W1 * c) // self._n1 for c in self._c1]
        freq[self.bos] = 0
        if (v, s) in self._c2:
            n2 = self._n2[(v, s)]
            for w, c in self._c2[(v, s)].items():
                freq[w] += (_W2 * c) // n2
        if (u, v, s) in self._c3:
            n3 = self._n3[(u, v, s)]
            for w, c in self._c3[(u, v, s)].items():
                freq[w] += (_W3 * c) // n3
        cum = [0] * (n + 1)
        for i in range(n):
            cum[i + 1] = cum[i] + freq[i]
        return tuple(cum)

    def cumfreq(self, context: tuple[int, int, int]) -> tuple[int, ...]:
        """Cumulative frequencies of the next token in ``context``.

        The context is (second-last non-space token, last non-space token, 1 if the last
        token was a single space else 0): spaces are predicted, but do not push words out
        of the context.
        """
        return self._cumfreq(*context)

    def advance(self, context: tuple[int, int, int], token: int) -> tuple[int, int, int]:
        """The context after ``token``."""
        u, v, _ = context
        if token == self.space:
            return (u, v, 1)
        return (v, token, 0)


def _symbols(text: str, model: CaptionModel) -> list[tuple[str, int | bytes]]:
    """Text → ('tok', id) and ('esc', bytes) items, CAP markers included, EOS last."""
    out: list[tuple[str, int | bytes]] = []
    for tok in tokenize(text):
        if tok in model.index and tok not in SPECIALS:
            out.append(("tok", model.index[tok]))
        elif (
            tok[:1].isupper()
            and (tok[1:].islower() or len(tok) == 1)
            and tok.lower() in model.index
            and tok.lower() not in SPECIALS
        ):
            out.append(("tok", model.cap))
            out.append(("tok", model.index[tok.lower()]))
        else:
            out.append(("tok", model.esc))
            out.append(("esc", tok.encode("utf-8")))
    out.append(("tok", model.eos))
    return out


class CaptionCoder:
    """Encode a caption to bytes and back, losslessly.

    ``encode(text) -> bytes``; ``decode(bytes) -> text``. Malformed payloads raise
    :class:`semcom.mtgc.streams.StreamError`.
    """

    def __init__(self, model: CaptionModel | None = None) -> None:
        self.model = model or default_model()

    @property
    def fingerprint(self) -> int:
        """CRC32 of the frozen language model."""
        return self.model.fingerprint

    def encode(self, text: str) -> bytes:
        """UTF-8 text (at most MAX_CAPTION_BYTES) → arithmetic-coded bytes."""
        if not isinstance(text, str):
            raise StreamError("a caption must be a string of text.")
        if len(text.encode("utf-8")) > MAX_CAPTION_BYTES:
            raise StreamError(f"the caption is longer than {MAX_CAPTION_BYTES} bytes; shorten it.")
        m = self.model
        enc = ArithmeticEncoder()
        ctx = m.start
        for kind, value in _symbols(text, m):
            if kind == "tok":
                assert isinstance(value, int)
                enc.encode(m.cumfreq(ctx), value)
                ctx = m.advance(ctx, value)
            else:
                assert isinstance(value, bytes)
                for b in value:
                    enc.encode(m.byte_cumfreq, b)
                enc.encode(m.byte_cumfreq, _BYTE_END)
        return enc.finish() or b"\x00"  # never empty: the decoder reads zeros anyway

    def decode(self, data: bytes) -> str:
        """Bytes from :meth:`encode` → the caption; raises StreamError if malformed."""
        m = self.model
        dec = ArithmeticDecoder(bytes(data))
        limit_bits = 8 * len(data) + 64
        ctx = m.start
        parts: list[str] = []
        size = 0
        capitalise = False
        for _ in range(_MAX_TOKENS):
            if dec.bits_read > limit_bits + 32:
                break
            tok = dec.decode(m.cumfreq(ctx))
            if tok == m.eos:
                if capitalise:
                    raise StreamError("the caption stream is corrupted (dangling capital).")
                return "".join(parts)
            if tok == m.cap:
                if capitalise:
                    raise StreamError("the caption stream is corrupted (double capital).")
                capitalise = True
                ctx = m.advance(ctx, tok)
                continue
            if tok == m.esc:
                if capitalise:
                    raise StreamError("the caption stream is corrupted (capital escape).")
                raw = bytearray()
                while True:
                    b = dec.decode(m.byte_cumfreq)
                    if b == _BYTE_END:
                        break
                    raw.append(b)
                    if len(raw) > MAX_CAPTION_BYTES:
                        raise StreamError("the caption stream is corrupted (runaway escape).")
                try:
                    word = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise StreamError("the caption stream is corrupted (bad UTF-8).") from err
            else:
                word = m.vocab[tok]
                if capitalise:
                    if not word.isalpha():
                        raise StreamError("the caption stream is corrupted (capital symbol).")
                    word = word[:1].upper() + word[1:]
                    capitalise = False
            parts.append(word)
            size += len(word.encode("utf-8"))
            if size > MAX_CAPTION_BYTES:
                raise StreamError("the caption stream is corrupted (caption too long).")
            ctx = m.advance(ctx, tok)
        raise StreamError("the caption stream is corrupted (no end of caption).")


#: The frozen caption models by name (a codec's ``CodecConfig.caption_lm``) → their module
#: under :mod:`semcom.mtgc.streams`: ``shapes`` (ShapesWorld's captions and common caption
#: words, every preset's default), ``shapes-complex`` (ShapesWorld-Complex's concise captions).
CAPTION_MODELS: dict[str, str] = {"shapes": "caption_lm", "shapes-complex": "caption_lm_complex"}


@cache
def caption_model(name: str = "shapes") -> CaptionModel:
    """The frozen caption model ``name`` (a key of :data:`CAPTION_MODELS`)."""
    from importlib import import_module

    if name not in CAPTION_MODELS:
        raise StreamError(
            f"unknown caption model {name!r}; choose one of {', '.join(CAPTION_MODELS)}."
        )
    module = import_module(f"semcom.mtgc.streams.{CAPTION_MODELS[name]}")
    return CaptionModel(list(module.VOCAB), [tuple(t) for t in module.TRIGRAMS])


def default_model() -> CaptionModel:
    """The frozen model every preset uses unless its config names another (``shapes``)."""
    return caption_model("shapes")
