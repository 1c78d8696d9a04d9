// Bindings of the GEMM kernel (csrc/kernels/gemm).
#include <algorithm>

#include "bindings/common.h"
#include "kernels/gemm/gemm.h"

namespace pyk::bind {
namespace {

// A float32 matrix, or a stack of them, as the kernel addresses it: rows x cols with row stride
// ld, consecutive matrices `stride` floats apart (batch = 0 for a 2-D array shared by a batch).
struct Matrices {
  const float* data = nullptr;
  int64_t batch = 0, rows = 0, cols = 0, ld = 0, stride = 0;
};

void require_float32(const py::array& x, const char* fn, const char* arg) {
  if (!py::isinstance<py::array_t<float>>(x) || x.dtype().kind() != 'f' || x.itemsize() != 4) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a float32 array, got dtype " +
                         std::string(py::str(x.dtype())));
  }
}

// Reads the layout of a 2-D (or, when 3-D is allowed, stacked) operand whose rows may be padded:
// each row must be contiguous (element stride 4 bytes) and rows and matrices must not overlap,
// so a row-major array or a view of its leading columns (x[:, :w]) is accepted without a copy.
Matrices matrices(const py::array& x, const char* fn, const char* arg, bool allow_3d) {
  require_float32(x, fn, arg);
  const int nd = static_cast<int>(x.ndim());
  if (nd != 2 && !(allow_3d && nd == 3)) {
    throw py::value_error(std::string(fn) + ": '" + arg + "' must be " + (allow_3d ? "2-D or 3-D" : "2-D") +
                          ", got shape " + shape_str(shape_of(x)));
  }
  Matrices mat;
  mat.data = in_ptr(x);
  mat.batch = nd == 3 ? x.shape(0) : 0;
  mat.rows = x.shape(nd - 2);
  mat.cols = x.shape(nd - 1);
  const int64_t rs = x.strides(nd - 2), cs = x.strides(nd - 1), bs = nd == 3 ? x.strides(0) : 0;
  const bool empty = x.size() == 0;  // any strides: no element is ever read
  const bool row_ok = empty || mat.cols <= 1 || cs == 4;
  const bool ld_ok = empty || mat.rows <= 1 || (rs > 0 && rs % 4 == 0 && rs / 4 >= mat.cols);
  mat.ld = empty || mat.rows <= 1 ? std::max<int64_t>(mat.cols, 1) : rs / 4;
  const bool batch_ok = empty || mat.batch <= 1 || (bs > 0 && bs % 4 == 0 && bs / 4 >= (mat.rows - 1) * mat.ld + mat.cols);
  if (!row_ok || !ld_ok || !batch_ok) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' of shape " + shape_str(shape_of(x)) +
                         " must have contiguous, non-overlapping rows (use numpy.ascontiguousarray), got strides " +
                         shape_str(Shape(x.strides(), x.strides() + nd)));
  }
  mat.stride = mat.batch <= 1 ? 0 : bs / 4;
  return mat;
}

// The validated problem shared by sgemm and sgemm_batched; `c` is the output (given or new).
struct Call {
  gemm::Problem p;
  py::array c, bias;
};

Call prepare(const char* fn, const py::array& a, const py::array& b, const py::object& c_obj, bool trans_a,
             bool trans_b, float alpha, float beta, const py::object& bias_obj, int activation, float act_alpha,
             bool batched) {
  const Matrices ma = matrices(a, fn, "a", batched), mb = matrices(b, fn, "b", batched);
  const int64_t m = trans_a ? ma.cols : ma.rows, k = trans_a ? ma.rows : ma.cols;
  const int64_t kb = trans_b ? mb.cols : mb.rows, n = trans_b ? mb.rows : mb.cols;
  if (k != kb) {
    throw py::value_error(std::string(fn) + ": inner dimensions differ: op(a) is " + shape_str({m, k}) +
                          " and op(b) is " + shape_str({kb, n}) + " (a has shape " + shape_str(shape_of(a)) +
                          ", b has shape " + shape_str(shape_of(b)) + ")");
  }
  int64_t batch = 1;
  if (batched) {
    if (a.ndim() == 3 && b.ndim() == 3 && ma.batch != mb.batch) {
      throw py::value_error(std::string(fn) + ": batch sizes differ: a has shape " + shape_str(shape_of(a)) +
                            " and b has shape " + shape_str(shape_of(b)));
    }
    if (a.ndim() == 2 && b.ndim() == 2) {
      throw py::value_error(std::string(fn) + ": 'a' or 'b' must be 3-D (a stack of matrices), got shapes " +
                            shape_str(shape_of(a)) + " and " + shape_str(shape_of(b)) + "; use sgemm for one product");
    }
    batch = a.ndim() == 3 ? ma.batch : mb.batch;
  }
  if (activation < 0 || activation >= kNumActivations) {
    throw py::value_error(std::string(fn) + ": unknown activation code " + std::to_string(activation));
  }
  if (c_obj.is_none() && beta != 0.0f) {
    throw py::value_error(std::string(fn) + ": beta != 0 needs an existing 'c'");
  }
  const Shape c_shape = batched ? Shape{batch, m, n} : Shape{m, n};
  Call call;
  Matrices mc;
  if (c_obj.is_none()) {
    call.c = py::array_t<float>(c_shape);
    mc = matrices(call.c, fn, "c", batched);
  } else {
    if (!py::isinstance<py::array>(c_obj)) throw py::type_error(std::string(fn) + ": 'c' must be a numpy array or None");
    call.c = py::reinterpret_borrow<py::array>(c_obj);
    require_float32(call.c, fn, "c");
    require_shape(call.c, c_shape, fn, "c");
    require_writeable(call.c, fn, "c");
    mc = matrices(call.c, fn, "c", batched);
  }
  const float* bias = nullptr;
  if (!bias_obj.is_none()) {
    if (!py::isinstance<py::array>(bias_obj)) throw py::type_error(std::string(fn) + ": 'bias' must be a numpy array or None");
    call.bias = py::reinterpret_borrow<py::array>(bias_obj);
    require_f32(call.bias, fn, "bias");
    require_shape(call.bias, {n}, fn, "bias");
    bias = in_ptr(call.bias);
  }
  gemm::Problem& p = call.p;
  p.m = m; p.n = n; p.k = k;
  p.a = ma.data; p.lda = ma.ld; p.trans_a = trans_a;
  p.b = mb.data; p.ldb = mb.ld; p.trans_b = trans_b;
  p.c = out_ptr(call.c); p.ldc = mc.ld;
  p.alpha = alpha; p.beta = beta;
  p.bias = bias;
  p.act = static_cast<Activation>(activation);
  p.act_alpha = act_alpha;
  p.batch = batch;
  p.stride_a = ma.stride; p.stride_b = mb.stride; p.stride_c = mc.stride;
  return call;
}

// C = act(alpha * op(a) @ op(b) + beta * c + bias) on 2-D float32 arrays. With c=None a new
// array is returned (beta must then be 0). Operands (and c) may be views with padded rows (row
// stride larger than the width, e.g. x[:, :w]): the row stride becomes the leading dimension.
py::array sgemm(const py::array& a, const py::array& b, const py::object& c, bool trans_a, bool trans_b,
                float alpha, float beta, const py::object& bias, int activation, float act_alpha) {
  Call call = prepare("sgemm", a, b, c, trans_a, trans_b, alpha, beta, bias, activation, act_alpha, false);
  {
    py::gil_scoped_release nogil;
    gemm::table().sgemm(call.p);
  }
  return call.c;
}

// The same for a stack of products: a (B, M, K) and b (B, K, N) (transposed per matrix with
// trans_a/trans_b), either of them 2-D to share one matrix across the batch; c (B, M, N).
py::array sgemm_batched(const py::array& a, const py::array& b, const py::object& c, bool trans_a, bool trans_b,
                        float alpha, float beta, const py::object& bias, int activation, float act_alpha) {
  Call call = prepare("sgemm_batched", a, b, c, trans_a, trans_b, alpha, beta, bias, activation, act_alpha, true);
  {
    py::gil_scoped_release nogil;
    gemm::table().sgemm(call.p);
  }
  return call.c;
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("sgemm", &sgemm, py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("bias") = py::none(),
        py::arg("activation") = 0, py::arg("act_alpha") = 0.0f,
        "c = act(alpha * op(a) @ op(b) + beta * c + bias) for 2-D float32 arrays. Arrays may have padded\n"
        "rows (views such as x[:, :w]); each row must be contiguous. activation is a code of\n"
        "pykeras._core.eltwise.ACTIVATIONS (the same definitions as eltwise.unary), act_alpha its parameter.");
  m.def("sgemm_batched", &sgemm_batched, py::arg("a"), py::arg("b"), py::arg("c") = py::none(),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("bias") = py::none(), py::arg("activation") = 0, py::arg("act_alpha") = 0.0f,
        "sgemm over a stack: a (B, M, K), b (B, K, N), c (B, M, N); a 2-D a or b is shared by every product.");
}

}  // namespace pyk::bind
