// Bindings of the GEMM kernel (csrc/kernels/gemm).
#include "bindings/common.h"
#include "kernels/gemm/gemm.h"

namespace pyk::bind {
namespace {

// C = act(alpha * op(a) @ op(b) + beta * c + bias) on 2-D float32 arrays. With c=None a new
// array is returned (beta must then be 0).
py::array sgemm(const py::array& a, const py::array& b, const py::object& c_obj, bool trans_a, bool trans_b,
                float alpha, float beta, const py::object& bias_obj, int activation, float act_alpha) {
  const char* fn = "sgemm";
  require_f32(a, fn, "a");
  require_f32(b, fn, "b");
  if (a.ndim() != 2 || b.ndim() != 2) {
    throw py::value_error(std::string(fn) + ": 'a' and 'b' must be 2-D, got shapes " + shape_str(shape_of(a)) +
                          " and " + shape_str(shape_of(b)));
  }
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
  py::array c = output(c_obj, {m, n}, fn);
  const float* bias = nullptr;
  py::array bias_arr;
  if (!bias_obj.is_none()) {
    bias_arr = py::reinterpret_borrow<py::array>(bias_obj);
    require_f32(bias_arr, fn, "bias");
    require_shape(bias_arr, {n}, fn, "bias");
    bias = in_ptr(bias_arr);
  }
  gemm::Problem p;
  p.m = m; p.n = n; p.k = k;
  p.a = in_ptr(a); p.lda = a.shape(1); p.trans_a = trans_a;
  p.b = in_ptr(b); p.ldb = b.shape(1); p.trans_b = trans_b;
  p.c = out_ptr(c); p.ldc = n;
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
