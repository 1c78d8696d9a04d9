"""Regenerates the polynomial coefficients of csrc/simd/math.h.

Each approximation is fitted for minimal maximum relative error of the final function (Lawson's
iteratively reweighted least squares on a dense grid, in float64), and the coefficients are then
rounded to float32 one at a time, highest degree first, refitting the remaining ones after each
rounding so that the rounding errors do not add up. Prints the error of the rounded polynomial in
float32 ULPs (of the approximation alone: evaluation rounding comes on top) and the coefficients.

usage: python csrc/simd/fit_math_coeffs.py      (needs numpy and scipy)
"""
import numpy as np
from scipy.special import log_ndtr

ULP = 2.0**-24  # half an ULP of 1.0 (relative rounding unit of float32)


def lawson(basis, target, weight, iters=200):
    """Coefficients c minimising max |weight * (basis @ c - target)|."""
    w = np.full(len(target), 1.0 / len(target))
    for _ in range(iters):
        sw = np.sqrt(w) * weight
        c = np.linalg.lstsq(basis * sw[:, None], sw * target, rcond=None)[0]
        err = np.abs(weight * (basis @ c - target))
        w = w * err
        w /= w.sum()
    return c


def fit_float32(basis, target, weight):
    """Fits, then rounds coefficients to float32 highest degree first, refitting the rest."""
    n = basis.shape[1]
    fixed = {}
    for k in range(n - 1, -1, -1):
        free = [j for j in range(n) if j not in fixed]
        resid = target - sum(basis[:, j] * v for j, v in fixed.items())
        c = lawson(basis[:, free], resid, weight)
        fixed[k] = float(np.float32(c[free.index(k)]))
    coeffs = np.array([fixed[j] for j in range(n)])
    return coeffs, np.abs(weight * (basis @ coeffs - target)).max()


def chebyshev_points(a, b, n=40000):
    k = np.arange(n)
    return np.sort((a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n))


def powers(x, degree):
    return np.stack([x**k for k in range(degree + 1)], axis=1)


def report(name, coeffs, err):
    print(f"{name}: max error {err / ULP / 2:.3f} ulp")
    for c in coeffs:
        print(f"    {float(np.float32(c))!r}f,")


def main():
    # exp: e^r = 1 + r + r^2 P(r) for |r| <= ln2 / 2.
    r = chebyshev_points(-np.log(2) / 2, np.log(2) / 2)
    r = r[np.abs(r) > 1e-9]
    report("exp P(r), degree 4", *fit_float32(powers(r, 4), (np.expm1(r) - r) / r**2, r**2 / np.exp(r)))

    # log: log(1 + f) = f - f^2/2 + f^3 P(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1].
    f = chebyshev_points(np.sqrt(0.5) - 1, np.sqrt(2) - 1)
    f = f[np.abs(f) > 1e-6]
    report("log1p P(f), degree 7",
           *fit_float32(powers(f, 7), (np.log1p(f) - f + f * f / 2) / f**3, np.abs(f**3 / np.log1p(f))))

    # tanh: tanh(x) = x + x^3 P(x^2) for |x| <= 1.
    x = chebyshev_points(1e-4, 1.0)
    report("tanh P(x^2), degree 6",
           *fit_float32(powers(x * x, 6), (np.tanh(x) - x) / x**3, np.abs(x**3 / np.tanh(x))))

    # Normal CDF tail: Phi(-a) = t exp(-a^2/2 + P(u)), t = 1 / (1 + 0.3 a), u = t*K1 - K0 maps
    # t in [1/(1 + 0.3*14), 1] to [-1, 1] (a beyond 14 gives Phi(-a) below the float32 range).
    a = np.linspace(0.0, 14.0, 100001)
    t = 1.0 / (1.0 + 0.3 * a)
    t_lo = 1.0 / (1.0 + 0.3 * 14.0)
    k1 = float(np.float32(2.0 / (1.0 - t_lo)))
    k0 = float(np.float32((1.0 + t_lo) / (1.0 - t_lo)))
    u = t * k1 - k0
    print(f"Phi mapping: K1 = {k1!r}f, K0 = {k0!r}f")
    report("Phi tail P(u), degree 10",
           *fit_float32(powers(u, 10), log_ndtr(-a) - np.log(t) + a * a / 2, np.ones_like(a)))




if __name__ == "__main__":
    main()
