"""A slow reference of the numeric contract in plain Python ints.

Written from docs/numerics.md, not from golden_model/: lists of ints, one
explicit loop per sum, no NumPy arithmetic. The golden-model tests compare
against it exactly.
"""

import math

import numpy as np

TAPS = (31, 21, 1, 0)  # bit positions of the Galois mask 0x80200003


def rs(x, n):
    """round_shift: round half up (toward +infinity), exact left shift for n <= 0."""
    if n <= 0:
        return x * 2**-n
    return (2 * x + 2**n) // 2 ** (n + 1)  # floor(x / 2**n + 1/2), Python's // floors


def sat(x, width):
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    return lo if x < lo else min(x, hi)


def quantize(v, frac, width):
    return sat(math.floor(v * 2**frac + 0.5), width)


class BitLfsr:
    """The LFSR as a list of 32 bits (index 0 = least significant)."""

    def __init__(self, seed):
        self.bits = [(seed >> i) & 1 for i in range(32)]

    def step(self):
        out = self.bits[0]
        self.bits = self.bits[1:] + [0]
        if out:
            for t in TAPS:
                self.bits[t] ^= 1
        return out

    def state(self):
        return sum(b << i for i, b in enumerate(self.bits))

    def draw(self, nbits):
        return sum(self.step() << b for b in range(nbits))


def entries(seed, count, nbits):
    """The first ``count`` odd entries ``2u - (2**nbits - 1)``."""
    lfsr = BitLfsr(seed)
    return [2 * lfsr.draw(nbits) - (2**nbits - 1) for _ in range(count)]


def matrix(seed, classes, neurons, nbits):
    """``M[c][j]`` filled in j-major, c-minor order."""
    flat = entries(seed, classes * neurons, nbits)
    return [[flat[j * classes + c] for j in range(neurons)] for c in range(classes)]


def feedback(mode, m, k_seed, nbits):
    classes, neurons = len(m), len(m[0])
    if mode == "symmetric":
        return [row[:] for row in m]
    u = matrix(k_seed, classes, neurons, nbits)
    if mode == "independent":
        return u
    return [[abs(u[c][j]) * (1 if m[c][j] > 0 else -1) for j in range(neurons)]
            for c in range(classes)]


def score_shift(cfg, n):
    return max(cfg.m_bits + math.ceil(math.log2(n) / 2) - 2, 0)


class Reference:
    """The training engine of docs/numerics.md, sample by sample, in Python ints."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.w, self.b, self.m, self.k = [], [], [], []
        for i in range(len(cfg.sizes) - 1):
            n_in, n_out = cfg.sizes[i], cfg.sizes[i + 1]
            r = 1.0 / math.sqrt(n_in)
            real = np.random.default_rng([cfg.init_seed, i]).uniform(-r, r, size=(n_out, n_in))
            self.w.append([[quantize(float(v), cfg.weight_frac, cfg.weight_width) for v in row]
                           for row in real])
            self.b.append([0] * n_out)
            m = matrix(cfg.m_seeds[i], cfg.classes, n_out, cfg.m_bits)
            self.m.append(m)
            self.k.append(feedback(cfg.feedback, m, cfg.k_seeds[i], cfg.m_bits))

    def step(self, x, label):
        """One online update; per layer a dict of a, h, s, g, d (lists) and prediction."""
        cfg = self.cfg
        af, aw, wf, ww = cfg.act_frac, cfg.act_width, cfg.weight_frac, cfg.weight_width
        one = 2**af
        out, h_in = [], list(x)
        for i in range(len(cfg.sizes) - 1):
            w, b, m, k = self.w[i], self.b[i], self.m[i], self.k[i]
            n_out, shift = len(w), score_shift(cfg, len(w))
            a = []
            for j in range(n_out):
                acc = b[j] * 2**af
                for kk, v in enumerate(h_in):
                    acc += w[j][kk] * v
                a.append(sat(rs(acc, wf), aw))
            h = [max(0, v) for v in a]
            s = []
            for c in range(cfg.classes):
                acc = 0
                for j in range(n_out):
                    acc += m[c][j] * h[j]
                s.append(sat(rs(acc, shift), aw))
            g = []
            for c in range(cfg.classes):
                t = 1 if c == label else -1
                g.append(sat(-t * max(0, one - t * s[c]), aw))
            d = []
            for j in range(n_out):
                acc = 0
                for c in range(cfg.classes):
                    acc += k[c][j] * g[c]
                d.append(sat(rs(acc, shift), aw) if h[j] > 0 else 0)
            w_shift = 2 * af - wf + cfg.eta_shifts[i]
            b_shift = af - wf + cfg.eta_shifts[i]
            for j in range(n_out):
                for kk, v in enumerate(h_in):
                    w[j][kk] = sat(w[j][kk] - rs(d[j] * v, w_shift), ww)
                b[j] = sat(b[j] - rs(d[j], b_shift), ww)
            best = 0
            for c in range(1, cfg.classes):
                if s[c] > s[best]:
                    best = c
            out.append({"a": a, "h": h, "s": s, "g": g, "d": d, "prediction": best})
            h_in = h
        return out


class BatchReference(Reference):
    """docs/numerics.md "Mini-batches" in Python ints: every sample of a batch
    goes forward with the weights of the batch's start; each layer sums
    ``d_j h_k`` and ``d_j`` over the batch, then rounds once and saturates."""

    def batch(self, xs, labels):
        """One mini-batch; per sample, per layer a dict of a, h, s, g, d, prediction."""
        cfg = self.cfg
        frozen = [([row[:] for row in w], b[:]) for w, b in zip(self.w, self.b)]
        sums = [([[0] * len(w[0]) for _ in w], [0] * len(w)) for w in self.w]
        out = []
        for x, label in zip(xs, labels):
            # Reference.step on a copy of the frozen weights gives the forward
            # values and d; its own update is thrown away
            self.w = [[row[:] for row in w] for w, _ in frozen]
            self.b = [b[:] for _, b in frozen]
            layers = self.step(x, label)
            h_in = list(x)
            for (sw, sb), r in zip(sums, layers):
                for j, dj in enumerate(r["d"]):
                    for k, v in enumerate(h_in):
                        sw[j][k] += dj * v
                    sb[j] += dj
                h_in = r["h"]
            out.append(layers)
        self.w, self.b = [], []
        for i, ((w, b), (sw, sb)) in enumerate(zip(frozen, sums)):
            w_shift = 2 * cfg.act_frac - cfg.weight_frac + cfg.eta_shifts[i]
            b_shift = cfg.act_frac - cfg.weight_frac + cfg.eta_shifts[i]
            self.w.append([[sat(wjk - rs(sjk, w_shift), cfg.weight_width)
                            for wjk, sjk in zip(wj, sj)] for wj, sj in zip(w, sw)])
            self.b.append([sat(bj - rs(sj, b_shift), cfg.weight_width) for bj, sj in zip(b, sb)])
        return out


def digest(w, b, lanes):
    """Fletcher-style digest over the update order, then the biases."""
    words = []
    for group in range(len(w) // lanes):
        for k in range(len(w[0])):
            for p in range(lanes):
                words.append(w[group * lanes + p][k])
    words += list(b)
    lo = hi = 0
    for word in words:
        lo = (lo + word % 2**32) % 2**32
        hi = (hi + lo) % 2**32
    return hi << 32 | lo
