"""SGEMM (pykeras._core.gemm.sgemm) against a float64 numpy reference.

c = act(alpha * op(a) @ op(b) + beta * c + bias). Shapes sweep 1, the register tile sizes +-1
(14 x 32 AVX-512, 6 x 16 AVX2, 4 x 4 generic), primes and the cache block sizes +-1 (k-range
512, 640 for narrow products; column block 384; transposed-A row block 168), on every kernel path
(`isa` fixture), all four transpose combinations, padded leading dimensions (views x[:, :w]),
every epilogue activation, 1 vs 2 threads bitwise, and argument errors.
"""
import math

import numpy as np
import pytest

from pykeras import _core, config

sgemm = _core.gemm.sgemm

ACTS = {
    "linear": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "elu": 4, "sigmoid": 5, "tanh": 6,
    "hard_sigmoid": 7, "swish": 8, "gelu": 9, "softplus": 10, "selu": 11, "exponential": 12, "softsign": 13,
}
_erf = np.vectorize(math.erf)


def act_ref(x, name, alpha):
    """Keras's activation on a float64 array."""
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "relu6":
        return np.clip(x, 0, 6)
    if name == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if name == "elu":
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "hard_sigmoid":
        return np.clip(0.2 * x + 0.5, 0, 1)
    if name == "swish":
        return x / (1 + np.exp(-x))
    if name == "gelu":
        if alpha != 0:
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
    if name == "softplus":
        return np.logaddexp(0, x)
    if name == "selu":
        return 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))
    if name == "exponential":
        return np.exp(x)
    if name == "softsign":
        return x / (1 + np.abs(x))
    raise AssertionError(name)


def rand(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def operands(m, n, k, trans_a, trans_b, seed=0):
    a = rand((k, m) if trans_a else (m, k), seed)
    b = rand((n, k) if trans_b else (k, n), seed + 1)
    return a, b


def reference(a, b, c, trans_a, trans_b, alpha, beta, bias, act="linear", act_alpha=0.0):
    """Returns (expected, bound): the float64 result and a float32 rounding bound per element
    (before the activation), which grows with k: (k + 2) ulps of sum |terms|."""
    A = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    B = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    pre = alpha * (A @ B)
    mag = abs(alpha) * (np.abs(A) @ np.abs(B))
    if beta != 0:
        pre = pre + beta * c.astype(np.float64)
        mag = mag + abs(beta) * np.abs(c.astype(np.float64))
    if bias is not None:
        pre = pre + bias
        mag = mag + np.abs(bias)
    k = A.shape[1]
    bound = (k + 3) * 2.0**-23 * mag + 1e-30
    return act_ref(pre, act, act_alpha), bound


def check(out, expected, bound, what):
    err = np.abs(out.astype(np.float64) - expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert err.size == 0 or np.all(err <= bound), (
        f"{what}: max excess at {worst}: got {out[worst]}, expected {expected[worst]}, bound {bound[worst]}"
    )


def run_case(m, n, k, trans_a, trans_b, alpha=1.0, beta=0.0, with_bias=False, act="linear", act_alpha=0.0, seed=0):
    a, b = operands(m, n, k, trans_a, trans_b, seed)
    c0 = rand((m, n), seed + 2)
    bias = rand(n, seed + 3) if with_bias else None
    expected, bound = reference(a, b, c0, trans_a, trans_b, alpha, beta, bias, act, act_alpha)
    c = c0.copy()
    out = sgemm(a, b, c if beta != 0 else None, trans_a, trans_b, alpha, beta, bias, ACTS[act], act_alpha)
    assert out.shape == (m, n) and out.dtype == np.float32
    if beta != 0:
        assert out is c
    check(out, expected, bound, f"m={m} n={n} k={k} ta={trans_a} tb={trans_b} alpha={alpha} beta={beta} act={act}")


# Around every path's tile sizes (4, 6, 14 rows; 4, 8, 16, 32 columns) and primes.
EDGE_M = [1, 2, 3, 4, 5, 6, 7, 13, 14, 15, 27, 28, 29, 43, 97]
EDGE_N = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 65, 131, 163]
TRANS = [(False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize("k", [1, 2, 17, 61])
def test_edge_shapes(isa, trans_a, trans_b, k):
    for m in EDGE_M:
        for n in EDGE_N:
            run_case(m, n, k, trans_a, trans_b, alpha=1.0, beta=0.5, with_bias=True, seed=m * 1000 + n)


@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize(
    "m,n,k",
    [
        (29, 70, 511), (29, 70, 512), (31, 70, 513),  # k-range 512 +- 1
        (15, 383, 50), (15, 384, 50), (15, 385, 50), (30, 769, 21),  # column block 384 +- 1
        (167, 161, 40), (168, 161, 40), (169, 161, 40), (337, 135, 19),  # transposed-A row block 168 +- 1
        (45, 20, 639), (45, 20, 640), (45, 20, 641), (45, 33, 1153),  # narrow k-range 640 +- 1
        (200, 300, 800),  # several k-ranges and column blocks with every operand packed
    ],
)
def test_block_sizes(isa, trans_a, trans_b, m, n, k):
    run_case(m, n, k, trans_a, trans_b, alpha=0.75, beta=-1.25, with_bias=True, act="relu")


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (-1.0, 1.0), (0.5, -2.0), (0.0, 3.0)])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (20, 37, 11), (97, 200, 400)])
def test_alpha_beta(isa, alpha, beta, m, n, k):
    run_case(m, n, k, False, False, alpha=alpha, beta=beta, with_bias=False)


def test_beta_zero_ignores_nan_in_c(isa):
    a, b = operands(30, 50, 20, False, False)
    c = np.full((30, 50), np.nan, np.float32)
    out = sgemm(a, b, c, beta=0.0)
    assert out is c and np.all(np.isfinite(out))
    check(out, *reference(a, b, None, False, False, 1.0, 0.0, None), "beta=0 with NaN in c")


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid"])
@pytest.mark.parametrize("m,n", [(5, 7), (40, 33)])
def test_k_zero_is_epilogue_only(isa, act, m, n):
    a = np.zeros((m, 0), np.float32)
    b = np.zeros((0, n), np.float32)
    c0, bias = rand((m, n), 1), rand(n, 2)
    c = c0.copy()
    out = sgemm(a, b, c, alpha=2.0, beta=0.5, bias=bias, activation=ACTS[act])
    expected = act_ref(0.5 * c0.astype(np.float64) + bias, act, 0.0)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    out = sgemm(a, b, bias=bias)
    np.testing.assert_array_equal(out, np.broadcast_to(bias, (m, n)))


@pytest.mark.parametrize("m,n,k", [(0, 5, 3), (4, 0, 3), (0, 0, 0)])
def test_empty_outputs(isa, m, n, k):
    out = sgemm(np.zeros((m, k), np.float32), np.zeros((k, n), np.float32))
    assert out.shape == (m, n)


@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize("m,n,k", [(9, 13, 7), (60, 140, 90), (200, 45, 400)])
def test_padded_leading_dimensions(isa, trans_a, trans_b, m, n, k):
    """Views with padded rows (x[:, :w]) pass their row stride as lda/ldb/ldc, without a copy."""
    a_full, b_full = rand((k + 5, m + 7), 1), rand((n + 3, k + 11), 2)
    a = a_full[:k, :m] if trans_a else a_full.T.copy()[:m, :k]
    b = b_full[:n, :k] if trans_b else b_full.T.copy()[:k, :n]
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    c_full = rand((m, n + 9), 3)
    c_view = c_full[:, :n]
    before = c_full.copy()
    bias = rand(n, 4)
    expected, bound = reference(a, b, before[:, :n], trans_a, trans_b, 1.5, 0.5, bias)
    out = sgemm(a, b, c_view, trans_a, trans_b, 1.5, 0.5, bias)
    check(np.asarray(out), expected, bound, f"padded m={m} n={n} k={k}")
    # The padding columns of c are untouched.
    np.testing.assert_array_equal(c_full[:, n:], before[:, n:])


# act_alpha is the leaky_relu slope, the elu alpha, and for gelu selects the tanh approximation.
ACT_CASES = [(act, 0.0) for act in ACTS] + [("leaky_relu", 0.3), ("elu", 1.0), ("elu", 0.5), ("gelu", 1.0)]


@pytest.mark.parametrize("act,act_alpha", ACT_CASES)
def test_epilogue_activations(isa, act, act_alpha):
    # Pre-activations of order 1-3 (k = 47 terms of variance 1/47 each), over tile edges.
    m, n, k = 31, 45, 47
    a, b = rand((m, k), 1, 1 / math.sqrt(k)), rand((k, n), 2, 2.0)
    c0, bias = rand((m, n), 3), rand(n, 4)
    expected, _ = reference(a, b, c0, False, False, 1.0, 0.5, bias, act, act_alpha)
    out = sgemm(a, b, c0.copy(), beta=0.5, bias=bias, activation=ACTS[act], act_alpha=act_alpha)
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=2e-5, err_msg=act)


def test_activation_with_several_k_ranges(isa):
    """The activation is applied once, after the last k-range, not to partial sums."""
    m, n, k = 20, 40, 1500  # 3 k-ranges of 500 (the narrow-product limit is 640)
    a, b = rand((m, k), 1, 1 / math.sqrt(k)), rand((k, n), 2)
    bias = rand(n, 3)
    expected, bound = reference(a, b, None, False, False, 1.0, 0.0, bias)
    out = sgemm(a, b, bias=bias, activation=ACTS["relu"])
    check(out, np.maximum(expected, 0), bound, "relu over 3 k-ranges")
    out = sgemm(a, b, bias=bias, activation=ACTS["sigmoid"])
    np.testing.assert_allclose(out, act_ref(expected, "sigmoid", 0), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize(
    "m,n,k,trans_a,trans_b",
    [
        (300, 500, 700, False, False),  # rows split, several k-ranges and column blocks
        (1000, 64, 64, False, True),  # tall-skinny
        (64, 1000, 100, True, False),  # columns split
        (333, 333, 333, True, True),
    ],
)
def test_threads_bitwise_identical(isa, m, n, k, trans_a, trans_b):
    a, b = operands(m, n, k, trans_a, trans_b, 5)
    c0, bias = rand((m, n), 7), rand(n, 8)
    results = []
    for threads in (1, 2):
        config.set_num_threads(threads)
        results.append(sgemm(a, b, c0.copy(), trans_a, trans_b, 0.5, 0.25, bias, ACTS["relu"]))
    np.testing.assert_array_equal(results[0], results[1])
    expected, bound = reference(a, b, c0, trans_a, trans_b, 0.5, 0.25, bias, "relu")
    check(results[1], expected, bound, "2 threads")


def test_matches_numpy_matmul_on_square(isa, threads):
    a, b = rand((257, 257), 1), rand((257, 257), 2)
    expected, bound = reference(a, b, None, False, False, 1.0, 0.0, None)
    check(sgemm(a, b), expected, bound, "257 square")


# ----------------------------------------------------------------------------- argument errors


def test_rejects_wrong_dtypes():
    a64 = np.zeros((3, 4))
    b = np.zeros((4, 5), np.float32)
    with pytest.raises(TypeError, match="'a' must be a float32 array, got dtype float64"):
        sgemm(a64, b)
    with pytest.raises(TypeError, match="'b' must be a float32"):
        sgemm(b.T.copy(), np.zeros((5, 2), np.int32))
    with pytest.raises(TypeError, match="'c' must be a float32"):
        sgemm(np.zeros((3, 4), np.float32), b, np.zeros((3, 5)), beta=1.0)
    with pytest.raises(TypeError, match="'bias' must be a float32"):
        sgemm(np.zeros((3, 4), np.float32), b, bias=np.zeros(5))


def test_rejects_wrong_shapes():
    a, b = np.zeros((3, 4), np.float32), np.zeros((5, 6), np.float32)
    with pytest.raises(ValueError, match=r"op\(a\) is \(3, 4\) and op\(b\) is \(5, 6\)"):
        sgemm(a, b)
    with pytest.raises(ValueError, match=r"op\(a\) is \(4, 3\)"):
        sgemm(a, np.zeros((4, 6), np.float32), trans_a=True)
    with pytest.raises(ValueError, match=r"'a' must be 2-D, got shape \(3, 4, 1\)"):
        sgemm(np.zeros((3, 4, 1), np.float32), b)
    with pytest.raises(ValueError, match=r"'c' has shape \(3, 5\), expected \(3, 6\)"):
        sgemm(a, np.zeros((4, 6), np.float32), np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"'bias' has shape \(5,\), expected \(6,\)"):
        sgemm(a, np.zeros((4, 6), np.float32), bias=np.zeros(5, np.float32))


def test_rejects_bad_values_and_layouts():
    a, b = np.zeros((3, 4), np.float32), np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="beta != 0 needs an existing 'c'"):
        sgemm(a, b, beta=1.0)
    with pytest.raises(ValueError, match="unknown activation code 1000"):
        sgemm(a, b, activation=1000)
    with pytest.raises(TypeError, match=r"'a' of shape \(3, 2\) must have contiguous"):
        sgemm(a[:, ::2], np.zeros((2, 6), np.float32))
    with pytest.raises(TypeError, match="must have contiguous"):
        sgemm(np.zeros((4, 3), np.float32).T, b)  # column-major: pass trans_a=True instead
    c = np.zeros((3, 6), np.float32)
    c.flags.writeable = False
    with pytest.raises(ValueError, match="'c' is read-only"):
        sgemm(a, b, c)


# ----------------------------------------------------------------------------- strided batches

sgemm_batched = _core.gemm.sgemm_batched


@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize(
    "batch,m,n,k,shared",
    [(1, 5, 7, 3, None), (3, 17, 33, 20, None), (5, 30, 20, 10, "b"), (4, 9, 40, 16, "a"), (2, 200, 150, 100, None)],
)
def test_batched_matches_per_matrix_products(isa, threads, trans_a, trans_b, batch, m, n, k, shared):
    a3 = rand((batch, k, m) if trans_a else (batch, m, k), 1)
    b3 = rand((batch, n, k) if trans_b else (batch, k, n), 2)
    a = a3[0] if shared == "a" else a3
    b = b3[0] if shared == "b" else b3
    c0, bias = rand((batch, m, n), 3), rand(n, 4)
    c = c0.copy()
    out = sgemm_batched(a, b, c, trans_a, trans_b, 0.5, 2.0, bias, ACTS["relu"])
    assert out is c
    for i in range(batch):
        ai = a if shared == "a" else a[i]
        bi = b if shared == "b" else b[i]
        expected, bound = reference(ai, bi, c0[i], trans_a, trans_b, 0.5, 2.0, bias, "relu")
        check(out[i], expected, bound, f"batch item {i}")
        # Each item is bitwise the 2-D product.
        np.testing.assert_array_equal(out[i], sgemm(ai, bi, c0[i].copy(), trans_a, trans_b, 0.5, 2.0, bias, ACTS["relu"]))


def test_batched_accepts_padded_and_strided_stacks(isa):
    big_a, big_b = rand((6, 12, 15), 1), rand((3, 15, 20), 2)
    a = big_a[::2, :10, :9]  # every other matrix, padded rows
    b = big_b[:, :9, :17]
    c_full = np.zeros((3, 10, 19), np.float32)
    out = sgemm_batched(a, b, c_full[:, :, :17])
    for i in range(3):
        expected, bound = reference(a[i], b[i], None, False, False, 1.0, 0.0, None)
        check(out[i], expected, bound, f"strided item {i}")
    assert not c_full[:, :, 17:].any()


def test_batched_threads_bitwise_identical(isa):
    a, b = rand((3, 150, 200), 1), rand((200, 180), 2)
    results = []
    for threads in (1, 2):
        config.set_num_threads(threads)
        results.append(sgemm_batched(a, b))
    np.testing.assert_array_equal(results[0], results[1])


def test_batched_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"batch sizes differ: a has shape \(2, 3, 4\) and b has shape \(3, 4, 5\)"):
        sgemm_batched(np.zeros((2, 3, 4), np.float32), np.zeros((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="use sgemm for one product"):
        sgemm_batched(np.zeros((3, 4), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"'c' has shape \(2, 3, 5\), expected \(2, 3, 6\)"):
        sgemm_batched(np.zeros((2, 3, 4), np.float32), np.zeros((4, 6), np.float32), np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"'a' must be 2-D or 3-D, got shape \(1, 2, 3, 4\)"):
        sgemm_batched(np.zeros((1, 2, 3, 4), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(TypeError, match="must have contiguous, non-overlapping rows"):
        sgemm_batched(np.zeros((2, 3, 8), np.float32)[:, :, ::2], np.zeros((4, 5), np.float32))
