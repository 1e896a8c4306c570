"""Transport-block coding: CRC, segmentation, 5G NR LDPC with rate matching, scrambling.

The chain follows TS 38.212 with Sionna's blocks doing the work::

    payload [..., A] ─► zero pad ─► TB CRC ─► segment into C code blocks (+CRC24B if C > 1)
        ─► LDPC5GEncoder (rate matching + bit interleaving) ─► concatenate ─► TB5GScrambler

The TB CRC is the standard's (TS 38.212 7.2.1): CRC16 for A <= 3824 bits, CRC24A above
(:func:`tb_crc`). CRC16 misses a failed block with probability about 2^-16 (1.5e-5).
Deviations from the standard, all deliberate: the payload is zero-padded (at most C - 1
bits) so that every code block has the same size, instead of filler bits; every code
block gets the same number of coded bits ``E = m * ceil(K / (R m))``, so the code rate is
the MCS rate or slightly below.

The decoder can stop early: it runs belief propagation one iteration at a time, checks
each code block's CRC (CRC24B, or the TB's CRC when there is one block) after every
iteration and retires the blocks that pass, so later iterations run only on the rest.

Short payloads may use the 5G Polar code instead (:mod:`channels.polar`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from sionna.phy import Block
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.fec.scrambling import TB5GScrambler

from channels.errors import LinkError
from channels.mcs import MCS

# the layout arithmetic lives in channels.segmentation; its names stay importable from here
from channels.segmentation import (  # noqa: F401
    CB_CRC_BITS,
    CRC16_MAX_BITS,
    MAX_CB_BITS_BG1,
    MAX_CB_BITS_BG2,
    NR_TBS_TABLE,
    TB_CRC_BITS,
    TBLayout,
    base_graph,
    fold_repetitions,
    layout_for,
    repeat_index,
    stream_symbols,
    tb_crc,
    tb_layout,
    transport_block_size,
)


class TransportBlockEncoder(Block):
    """Payload bits to scrambled, rate-matched LDPC code bits.

    Input: ``bits`` [..., payload_bits], float {0, 1}; ``rv``: the redundancy version
    (0–3, TS 38.212 5.4.2.1: where in the circular buffer the E bits of each code block
    start; HARQ retransmissions send other versions).
    Output: [..., coded_bits], float {0, 1}; code block c occupies bits
    ``c*E .. (c+1)*E - 1``.
    """

    def __init__(
        self,
        payload_bits: int,
        mcs: MCS,
        *,
        scramble: bool = True,
        precision: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(precision=precision, device=device)
        self.mcs = mcs
        self.layout = lay = tb_layout(payload_bits, mcs)
        self._tb_crc = CRCEncoder(
            tb_crc(payload_bits)[0],
            k=lay.payload_bits + lay.pad_bits,
            precision=precision,
            device=device,
        )
        self._cb_crc = (
            CRCEncoder("CRC24B", k=lay.cb_bits - CB_CRC_BITS, precision=precision, device=device)
            if lay.num_cbs > 1
            else None
        )
        try:
            self.ldpc = LDPC5GEncoder(
                lay.cb_bits,
                lay.ldpc_coded_bits,
                num_bits_per_symbol=lay.bits_per_symbol,
                bg=base_graph(payload_bits, mcs.code_rate),
                precision=precision,
                device=device,
            )
        except (ValueError, AssertionError) as err:
            raise LinkError(
                f"the 5G LDPC code cannot carry {payload_bits} bits at {mcs}: {err}"
            ) from err
        self.scrambler = (
            TB5GScrambler(binary=True, precision=precision, device=device) if scramble else None
        )

    @property
    def tb_crc(self) -> CRCEncoder:
        """The transport block's CRC encoder (CRC16 or CRC24A, :func:`tb_crc`)."""
        return self._tb_crc

    @property
    def cb_crc(self) -> CRCEncoder | None:
        """The code blocks' CRC24B encoder (``None`` for a single code block)."""
        return self._cb_crc

    def call(self, bits: torch.Tensor, rv: int = 0) -> torch.Tensor:
        lay = self.layout
        if bits.shape[-1] != lay.payload_bits:
            raise ValueError(f"expected {lay.payload_bits} bits on the last axis")
        batch = bits.shape[:-1]
        u = bits.to(self.dtype)
        if lay.pad_bits:
            u = torch.nn.functional.pad(u, (0, lay.pad_bits))
        u = self._tb_crc(u)
        cbs = u.reshape(*batch, lay.num_cbs, -1)
        if self._cb_crc is not None:
            cbs = self._cb_crc(cbs)
        c = self.ldpc(cbs) if rv == 0 else self.ldpc(cbs, rv=[int(rv)])
        if lay.repeated:  # [..., C, E0] -> [..., C, E], the codeword sent again from its start
            c = c[..., repeat_index(lay, c.device)]
        c = c.reshape(*batch, lay.coded_bits)
        if self.scrambler is not None:
            c = self.scrambler(c)
        return c


@dataclass
class DecodedBlocks:
    """What :class:`TransportBlockDecoder` returns.

    Attributes:
        bits: [..., payload_bits] float {0, 1}, the hard decision (also when a CRC failed).
        tb_ok: [...] bool, the TB CRC (and every CB CRC24B) passed.
        cb_ok: [..., num_cbs] bool, per code block CRC result.
        iterations: [..., num_cbs] int, BP iterations each code block used.
    """

    bits: torch.Tensor
    tb_ok: torch.Tensor
    cb_ok: torch.Tensor
    iterations: torch.Tensor


class TransportBlockDecoder(Block):
    """LLRs to payload bits with CRC checks, optionally stopping early per code block.

    Input: ``llr`` [..., coded_bits], float logits log p(1)/p(0) (Sionna's convention);
    or, with ``rv`` (HARQ soft combining), ``llr`` [..., R, coded_bits] of R transmissions
    of the same block with redundancy versions ``rv`` (length R): incremental redundancy
    places each in the circular buffer at its start and decodes the buffer on the graph
    pruned to the positions received (:meth:`ir_buffer`, :meth:`ir_decoder`); R
    transmissions of version 0 (Chase combining) add their LLRs and use the fast decoder.
    Output: :class:`DecodedBlocks`.

    Args:
        encoder: the matching :class:`TransportBlockEncoder`.
        max_iter: maximum belief-propagation iterations (flooding, boxplus-phi).
        early_stop: check each code block's CRC after every iteration and retire those
            that pass; ``False`` always runs ``max_iter`` iterations (Sionna's behaviour).
        pruned_ir: decode incremental redundancy on the pruned graph (default); ``False``
            uses Sionna's ``harq_mode`` decoder, which keeps the whole graph (the same
            decisions, slower; ``benchmarks/link.py --harq`` measures both).
    """

    def __init__(
        self,
        encoder: TransportBlockEncoder,
        *,
        max_iter: int = 20,
        early_stop: bool = True,
        pruned_ir: bool = True,
        precision: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(precision=precision, device=device)
        if max_iter < 1:
            raise LinkError(f"max_iter must be at least 1, got {max_iter}.")
        self.encoder = encoder
        self.layout = encoder.layout
        self.max_iter = int(max_iter)
        self.early_stop = bool(early_stop)
        self.pruned_ir = bool(pruned_ir)
        self.ldpc = LDPC5GDecoder(
            encoder.ldpc,
            num_iter=self.max_iter,
            hard_out=True,
            return_infobits=True,
            return_state=True,
            precision=precision,
            device=device,
        )
        self._harq_ldpc: LDPC5GDecoder | None = None
        #: Pruned decoders of incremental redundancy, keyed by the covered buffer length.
        self._ir_ldpc: dict[int, LDPC5GDecoder] = {}
        self._tb_crc = CRCDecoder(encoder.tb_crc, precision=precision, device=device)
        # With one code block, the TB CRC is the block's own check.
        cb_crc = encoder.cb_crc
        self._cb_check = (
            CRCDecoder(cb_crc, precision=precision, device=device) if cb_crc else self._tb_crc
        )

    def _check(self, u: torch.Tensor) -> torch.Tensor:
        """[n, K] hard bits of code blocks -> [n] bool, the block's CRC passed."""
        return self._cb_check(u)[1].reshape(-1).bool()

    def harq_decoder(self) -> LDPC5GDecoder:
        """The incremental-redundancy decoder (Sionna's ``harq_mode``), built on first use."""
        if self._harq_ldpc is None:
            self._harq_ldpc = LDPC5GDecoder(
                self.encoder.ldpc,
                num_iter=self.max_iter,
                hard_out=True,
                return_infobits=True,
                return_state=True,
                harq_mode=True,
                precision=self.precision,
                device=self.device,
            )
        return self._harq_ldpc

    def ir_buffer(self, llr: torch.Tensor, rv: list[int]) -> tuple[torch.Tensor, int]:
        """Soft-combine R transmissions ``llr`` [n, R, E] of redundancy versions ``rv`` into
        the code block's circular buffer (fillers left out, TS 38.212 5.4.2.1): returns
        its first L positions [n, L], L the end of what the transmissions covered (the
        whole buffer once one wraps around), and L."""
        enc = self.encoder.ldpc
        size, e = enc.n_cb_comp, llr.shape[-1]
        starts = enc.get_start_positions_comp(list(rv))
        buf = torch.zeros(llr.shape[0], size, dtype=llr.dtype, device=llr.device)
        inv = enc.out_int_inv if enc.num_bits_per_symbol is not None else None
        for i, start in enumerate(starts):
            part = llr[:, i] if inv is None else llr[:, i, inv]
            buf = buf + torch.nn.functional.pad(part, (0, size - e)).roll(start, dims=1)
        end = max(start + e for start in starts)
        covered = size if end > size else end
        return buf[:, :covered], covered

    def _prunable(self, rv: list[int]) -> bool:
        """Whether the transmissions leave part of the buffer unreceived and the rate
        matched to what they cover is one Sionna builds (≥ 1/5); else the whole graph."""
        enc = self.encoder.ldpc
        starts = enc.get_start_positions_comp(list(rv))
        end = max(starts) + enc.n
        return end <= enc.n_cb_comp and 5 * enc.k >= end

    def ir_decoder(self, covered: int) -> LDPC5GDecoder:
        """The pruned decoder of a code block whose circular buffer is known up to
        ``covered`` positions: the same code (base graph, lifting) rate-matched to that
        length, so Sionna prunes the parity nodes beyond it (built once per length)."""
        if covered not in self._ir_ldpc:
            enc = self.encoder.ldpc
            matched = LDPC5GEncoder(
                enc.k, covered, bg=enc._bg, precision=self.precision, device=self.device
            )
            self._ir_ldpc[covered] = LDPC5GDecoder(
                matched,
                num_iter=self.max_iter,
                hard_out=True,
                return_infobits=True,
                return_state=True,
                precision=self.precision,
                device=self.device,
            )
        return self._ir_ldpc[covered]

    def _decode_blocks(
        self, llr: torch.Tensor, rv: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[n, E] LLRs (or [n, R, E] with ``rv``) -> ([n, K] hard bits, [n] iterations)."""
        n = llr.shape[0]
        if rv is None:
            ldpc = self.ldpc
        elif self.pruned_ir and self._prunable(rv):
            # combine once into the circular buffer, decode it on the pruned graph: the
            # same decisions as Sionna's harq_mode decoder, which keeps the whole graph
            llr, covered = self.ir_buffer(llr, rv)
            ldpc = self.ir_decoder(covered)
        else:
            harq = self.harq_decoder()

            def ldpc(x, **kw):
                return harq(x, rv=rv, **kw)

        if not self.early_stop or n == 0:
            u, _ = ldpc(llr, num_iter=self.max_iter)
            return u, torch.full((n,), self.max_iter, dtype=torch.int64, device=llr.device)
        out = torch.empty(n, self.layout.cb_bits, dtype=llr.dtype, device=llr.device)
        iters = torch.full((n,), self.max_iter, dtype=torch.int64, device=llr.device)
        active = torch.arange(n, device=llr.device)
        state = None
        for it in range(1, self.max_iter + 1):
            u, state = ldpc(llr[active], num_iter=1, msg_v2c=state)
            done = self._check(u) if it < self.max_iter else torch.ones_like(active, dtype=bool)
            if done.any():
                idx = active[done]
                out[idx] = u[done]
                iters[idx] = it
                keep = ~done
                active, state = active[keep], state[keep]
                if active.numel() == 0:
                    break
        return out, iters

    def call(self, llr: torch.Tensor, rv: list[int] | None = None) -> DecodedBlocks:
        lay = self.layout
        if llr.shape[-1] != lay.coded_bits:
            raise ValueError(f"expected {lay.coded_bits} LLRs on the last axis")
        if rv is not None and (llr.ndim < 2 or llr.shape[-2] != len(rv)):
            raise ValueError(f"expected {len(rv or [])} transmissions on the second-last axis")
        batch = llr.shape[:-1] if rv is None else llr.shape[:-2]
        llr = llr.to(self.dtype)
        if self.encoder.scrambler is not None:  # one sequence per block: scramble [B·R, G]
            llr = self.encoder.scrambler(llr.reshape(-1, lay.coded_bits), binary=False)
            llr = llr.reshape(*batch, *([len(rv)] if rv is not None else []), lay.coded_bits)
        if lay.repeated:  # add the copies of each codeword bit: [..., C·E] -> [..., C·E0]
            llr = fold_repetitions(llr, lay)
        e0 = lay.ldpc_coded_bits
        if rv is not None and not any(rv):  # Chase combining: add, decode as one
            llr, rv = llr.sum(dim=-2), None
        if rv is None:
            cb_llr = llr.reshape(-1, e0)
        else:  # [..., R, C·E0] -> [(...)·C, R, E0]
            cb_llr = llr.reshape(-1, len(rv), lay.num_cbs, e0).transpose(1, 2)
            cb_llr = cb_llr.reshape(-1, len(rv), e0)
        u, iters = self._decode_blocks(cb_llr, rv)
        cb_ok = self._check(u) if lay.num_cbs > 1 else None
        if lay.num_cbs > 1:
            u = u[:, : lay.cb_bits - CB_CRC_BITS]
        tb = u.reshape(*batch, -1)
        bits, tb_ok = self._tb_crc(tb)
        tb_ok = tb_ok.reshape(batch).bool()
        if cb_ok is None:
            cb_ok = tb_ok.reshape(*batch, 1)
        else:
            cb_ok = cb_ok.reshape(*batch, lay.num_cbs)
            tb_ok = tb_ok & cb_ok.all(dim=-1)
        return DecodedBlocks(
            bits=bits[..., : lay.payload_bits],
            tb_ok=tb_ok,
            cb_ok=cb_ok,
            iterations=iters.reshape(*batch, lay.num_cbs),
        )


@lru_cache(maxsize=512)
def build_fec(
    tb_size: int, mcs: MCS, max_iter: int = 20, early_stop: bool = True, device: str = "cpu"
) -> tuple[TransportBlockEncoder, TransportBlockDecoder]:
    """The encoder and decoder of a ``tb_size``-bit transport block at ``mcs``, shared by
    every :class:`~channels.link.Link` of the process (building an LDPC pair takes
    ~0.4 s); a Polar MCS gets :mod:`channels.polar`'s pair."""
    if mcs.code == "polar":
        from channels.polar import PolarDecoder, PolarEncoder

        polar = PolarEncoder(tb_size, mcs, device=device)
        return polar, PolarDecoder(polar, device=device)
    enc = TransportBlockEncoder(tb_size, mcs, device=device)
    dec = TransportBlockDecoder(enc, max_iter=max_iter, early_stop=early_stop, device=device)
    return enc, dec
