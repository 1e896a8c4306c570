"""Channel estimation for a one-stream OFDM frame whose pilots fill whole OFDM symbols.

:class:`WienerChannelEstimator` is the linear MMSE estimate made separable: LS estimates on
the pilot symbols are filtered across frequency with the TDL model's frequency covariance
(``sionna.phy.ofdm.tdl_freq_cov_mat``), then interpolated across time with its Jakes time
covariance (``tdl_time_cov_mat``). The weights depend only on the frame and the noise
variance and are computed once per (frame, noise variance): a call is two small matrix
products, where Sionna's ``LMMSEChannelEstimator`` costs about 10 ms per frame on a CPU
(../shared/SIONNA.md). It returns what Sionna's estimators return, so the same LMMSE
equaliser takes it: the estimate ``h_hat`` [B, 1, 1, 1, 1, T, F] and its error variance,
broadcast to that shape.
"""

from __future__ import annotations

import torch

#: Channel estimators a TDL channel offers (``estimator=`` option).
ESTIMATORS: tuple[str, ...] = ("ls", "lmmse")


class WienerChannelEstimator:
    """Separable LMMSE channel estimate (frequency, then time) for one frame layout.

    Args:
        pilots: the pilot symbols [P, F] (complex, unit modulus) on the pilot OFDM symbols.
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
        self.pilots = pilots
        self.pilot_symbols = list(pilot_symbols)
        self.freq_cov = freq_cov.to(torch.complex128)
        self.time_cov = time_cov.to(torch.complex128)
        self._weights: dict[float, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def weights(self, no: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Frequency filter [F, F], time interpolator [T, P] and error variance [T, F] at
        noise variance ``no`` (the LS estimate's, pilots having unit energy)."""
        key = float(no)
        if key not in self._weights:
            rf, rt, p = self.freq_cov, self.time_cov, self.pilot_symbols
            eye_f = torch.eye(rf.shape[0], dtype=rf.dtype)
            wf = torch.linalg.solve(rf + key * eye_f, rf).mH  # R_f (R_f + no I)^-1
            err_f = (torch.diagonal(rf - wf @ rf)).real.clamp_min(0)  # [F]
            e = float(err_f.mean())
            rpp = rt[p][:, p]
            rtp = rt[:, p]  # [T, P]
            eye_p = torch.eye(len(p), dtype=rt.dtype)
            wt = torch.linalg.solve(rpp + e * eye_p, rtp.mH).mH  # [T, P]
            err_t = (1 - (wt * rtp.conj()).sum(-1).real).clamp_min(0)  # [T]
            # the time stage's error, shaped across frequency like the frequency stage's
            err = err_t[:, None] * (err_f / max(e, 1e-12))[None, :]
            dtype = self.pilots.dtype
            self._weights[key] = (wf.to(dtype), wt.to(dtype), err.float())
        return self._weights[key]

    def __call__(self, y: torch.Tensor, no: torch.Tensor | float):
        """Estimate from the received grid ``y`` [B, 1, 1, T, F] at noise variance ``no``
        (a scalar); returns ``h_hat`` [B, 1, 1, 1, 1, T, F] and its error variance."""
        wf, wt, err = self.weights(float(torch.as_tensor(no).reshape(-1)[0]))
        yp = y[:, 0, 0][:, self.pilot_symbols, :]  # [B, P, F]
        h_ls = yp * self.pilots.conj().to(yp.device)  # unit-modulus pilots: y / x = y · x*
        h_f = h_ls @ wf.T.to(yp.device)  # filter across frequency: [B, P, F]
        h = torch.einsum("tp,bpf->btf", wt.to(yp.device), h_f)  # interpolate across time
        h_hat = h[:, None, None, None, None]
        err_var = err.to(device=yp.device, dtype=y.real.dtype).expand_as(h_hat.real)
        return h_hat, err_var
