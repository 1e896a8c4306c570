"""Channel estimation for OFDM frames whose pilots fill whole OFDM symbols.

:class:`WienerChannelEstimator` is the linear MMSE estimate made separable: LS estimates on
each stream's pilot resource elements are filtered across frequency with the model's
frequency covariance (``sionna.phy.ofdm.tdl_freq_cov_mat``), then interpolated across time
with its Jakes time covariance (``tdl_time_cov_mat``). The weights depend only on the
frame and the noise variance and are computed once per (frame, noise variance): a call is
two small matrix products, where Sionna's ``LMMSEChannelEstimator`` costs about 10 ms per
frame on a CPU (../shared/SIONNA.md). It returns what Sionna's estimators return, so the
same LMMSE equaliser takes it: the estimate ``h_hat`` [B, 1, Nr, 1, S, T, F] and its error
variance, broadcast to that shape.

With one stream every subcarrier of a pilot symbol is a pilot. With S streams (MIMO,
Sionna's Kronecker pattern) stream s owns subcarriers s, s + S, … of each pilot symbol
and the others are silent there, so each stream's frequency filter maps its own pilot
subcarriers onto all F; every (receive antenna, stream) pair shares the filters (the
model's covariance is the same for all pairs).
"""

from __future__ import annotations

import torch

#: Channel estimators an OFDM channel offers (``estimator=`` option).
ESTIMATORS: tuple[str, ...] = ("ls", "lmmse")


class WienerChannelEstimator:
    """Separable LMMSE channel estimate (frequency, then time) for one frame layout.

    Args:
        pilots: the pilot symbols [P, F] (one stream) or [S, P, F] (S streams; zero
            where a stream sends no pilot) on the pilot OFDM symbols.
        pilot_symbols: indices of the P pilot OFDM symbols among the frame's T.
        freq_cov: channel covariance across the F subcarriers [F, F] (unit power).
        time_cov: channel covariance across the T OFDM symbols [T, T] (unit power).
    """

    def __init__(
        self,
        pilots: torch.Tensor,
        pilot_symbols: tuple[int, ...],
        freq_cov: torch.Tensor,
        time_cov: torch.Tensor,
    ) -> None:
        # the filters are computed on the CPU in float64 (small matrices) and moved to
        # the received grid's device when applied
        pilots = pilots.cpu()
        self.pilots = pilots if pilots.dim() == 3 else pilots[None]  # [S, P, F]
        self.pilot_symbols = list(pilot_symbols)
        self.freq_cov = freq_cov.cpu().to(torch.complex128)
        self.time_cov = time_cov.cpu().to(torch.complex128)
        # each stream's pilot subcarriers (the same on every pilot symbol) and the energy
        # of its pilots there (1 with one stream; Sionna boosts a Kronecker pattern's
        # pilots to N with N streams, so that each stream's average is 1)
        self.carriers = [torch.nonzero(p[0].abs() > 0).flatten() for p in self.pilots]
        energies = [
            float(p[:, k].abs().square().mean())
            for p, k in zip(self.pilots, self.carriers, strict=True)
        ]
        self.energies = [1.0 if abs(e - 1) < 1e-5 else e for e in energies]
        self._weights: dict[float, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}

    def weights(self, no: float) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per stream: frequency filter [F, K] (from its K pilot subcarriers), time
        interpolator [T, P] and error variance [T, F] at noise variance ``no`` per
        received resource element."""
        key = float(no)
        if key not in self._weights:
            rf, rt, p = self.freq_cov, self.time_cov, self.pilot_symbols
            rpp = rt[p][:, p]
            rtp = rt[:, p]  # [T, P]
            eye_p = torch.eye(len(p), dtype=rt.dtype)
            per_stream = []
            for k, energy in zip(self.carriers, self.energies, strict=True):
                rkk = rf[k][:, k]
                eye_k = torch.eye(len(k), dtype=rf.dtype)
                no_ls = key / energy  # the LS estimate's noise variance
                wf = torch.linalg.solve(rkk + no_ls * eye_k, rf[k]).mH  # R_fk (R_kk + no I)^-1
                err_f = (torch.diagonal(rf - wf @ rf[k])).real.clamp_min(0)  # [F]
                e = float(err_f.mean())
                wt = torch.linalg.solve(rpp + e * eye_p, rtp.mH).mH  # [T, P]
                err_t = (1 - (wt * rtp.conj()).sum(-1).real).clamp_min(0)  # [T]
                # the time stage's error, shaped across frequency like the frequency stage's
                err = err_t[:, None] * (err_f / max(e, 1e-12))[None, :]
                dtype = self.pilots.dtype
                per_stream.append((wf.to(dtype), wt.to(dtype), err.float()))
            self._weights[key] = per_stream
        return self._weights[key]

    def __call__(self, y: torch.Tensor, no: torch.Tensor | float):
        """Estimate from the received grid ``y`` [B, 1, Nr, T, F] at noise variance ``no``
        (a scalar); returns ``h_hat`` [B, 1, Nr, 1, S, T, F] and its error variance."""
        per_stream = self.weights(float(torch.as_tensor(no).reshape(-1)[0]))
        yp = y[:, 0][:, :, self.pilot_symbols, :]  # [B, Nr, P, F]
        hs, errs = [], []
        for s, (wf, wt, err) in enumerate(per_stream):
            k = self.carriers[s]
            pilots = self.pilots[s][:, k].to(yp.device)  # [P, K]
            h_ls = (
                yp[..., k.to(yp.device)] * pilots.conj()
            )  # constant-modulus pilots: y / x = y · x* / |x|²
            if self.energies[s] != 1.0:
                h_ls = h_ls / self.energies[s]
            h_f = h_ls @ wf.T.to(yp.device)  # filter across frequency: [B, Nr, P, F]
            hs.append(torch.einsum("tp,brpf->brtf", wt.to(yp.device), h_f))
            errs.append(err)
        h_hat = torch.stack(hs, dim=2)[:, None, :, None]  # [B, 1, Nr, 1, S, T, F]
        err = torch.stack(errs)[None, None, None, None]  # [1, 1, 1, 1, S, T, F]
        err_var = err.to(device=yp.device, dtype=y.real.dtype).expand_as(h_hat.real)
        return h_hat, err_var
