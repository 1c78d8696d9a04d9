// Bindings of the GEMM kernel (csrc/kernels/gemm).
#include <algorithm>

#include "bindings/common.h"
#include "kernels/gemm/gemm.h"

namespace pyk::bind {
namespace {

// Leading dimension (row stride in floats) of a 2-D float32 operand whose rows may be padded:
// each row must be contiguous (element stride 4 bytes) and rows must not overlap, so a row-major
// array or a view of its leading columns (x[:, :w]) is accepted without a copy.
int64_t leading_dim(const py::array& x, const char* fn, const char* arg) {
  if (!py::isinstance<py::array_t<float>>(x) || x.dtype().kind() != 'f' || x.itemsize() != 4) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a float32 array, got dtype " +
                         std::string(py::str(x.dtype())));
  }
  if (x.ndim() != 2) {
    throw py::value_error(std::string(fn) + ": '" + arg + "' must be 2-D, got shape " + shape_str(shape_of(x)));
  }
  const int64_t rows = x.shape(0), cols = x.shape(1);
  const int64_t rs = x.strides(0), cs = x.strides(1);
  const bool empty = rows == 0 || cols == 0;  // any strides: no element is ever read
  const bool row_ok = empty || cols <= 1 || cs == 4;
  const bool ld_ok = empty || rows <= 1 || (rs > 0 && rs % 4 == 0 && rs / 4 >= cols);
  if (!row_ok || !ld_ok) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' of shape " + shape_str(shape_of(x)) +
                         " must have contiguous, non-overlapping rows (use numpy.ascontiguousarray), got strides " +
                         shape_str(Shape(x.strides(), x.strides() + 2)));
  }
  return empty || rows <= 1 ? std::max<int64_t>(cols, 1) : rs / 4;
}

// C = act(alpha * op(a) @ op(b) + beta * c + bias) on 2-D float32 arrays. With c=None a new
// array is returned (beta must then be 0). Operands (and c) may be views with padded rows (row
// stride larger than the width, e.g. x[:, :w]): the row stride becomes the leading dimension.
py::array sgemm(const py::array& a, const py::array& b, const py::object& c_obj, bool trans_a, bool trans_b,
                float alpha, float beta, const py::object& bias_obj, int activation, float act_alpha) {
  const char* fn = "sgemm";
  const int64_t lda = leading_dim(a, fn, "a");
  const int64_t ldb = leading_dim(b, fn, "b");
  const int64_t m = trans_a ? a.shape(1) : a.shape(0);
  const int64_t k = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  const int64_t n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb) {
    throw py::value_error(std::string(fn) + ": inner dimensions differ: op(a) is " + shape_str({m, k}) +
                          " and op(b) is " + shape_str({kb, n}));
  }
  if (activation < 0 || activation >= kNumActivations) {
    throw py::value_error(std::string(fn) + ": unknown activation code " + std::to_string(activation));
  }
  if (c_obj.is_none() && beta != 0.0f) {
    throw py::value_error(std::string(fn) + ": beta != 0 needs an existing 'c'");
  }
  py::array c;
  int64_t ldc = n;
  if (c_obj.is_none()) {
    c = py::array_t<float>(Shape{m, n});
  } else {
    if (!py::isinstance<py::array>(c_obj)) throw py::type_error(std::string(fn) + ": 'c' must be a numpy array or None");
    c = py::reinterpret_borrow<py::array>(c_obj);
    ldc = leading_dim(c, fn, "c");
    require_writeable(c, fn, "c");
    require_shape(c, {m, n}, fn, "c");
  }
  const float* bias = nullptr;
  py::array bias_arr;
  if (!bias_obj.is_none()) {
    if (!py::isinstance<py::array>(bias_obj)) throw py::type_error(std::string(fn) + ": 'bias' must be a numpy array or None");
    bias_arr = py::reinterpret_borrow<py::array>(bias_obj);
    require_f32(bias_arr, fn, "bias");
    require_shape(bias_arr, {n}, fn, "bias");
    bias = in_ptr(bias_arr);
  }
  gemm::Problem p;
  p.m = m; p.n = n; p.k = k;
  p.a = in_ptr(a); p.lda = lda; p.trans_a = trans_a;
  p.b = in_ptr(b); p.ldb = ldb; p.trans_b = trans_b;
  p.c = out_ptr(c); p.ldc = ldc;
  p.alpha = alpha; p.beta = beta;
  p.bias = bias;
  p.act = static_cast<Activation>(activation);
  p.act_alpha = act_alpha;
  {
    py::gil_scoped_release nogil;
    gemm::table().sgemm(p);
  }
  return c;
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("sgemm", &sgemm, py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("bias") = py::none(),
        py::arg("activation") = 0, py::arg("act_alpha") = 0.0f,
        "c = act(alpha * op(a) @ op(b) + beta * c + bias) for 2-D float32 arrays.");
}

}  // namespace pyk::bind
