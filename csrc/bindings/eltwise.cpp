// Bindings of the elementwise kernels (csrc/kernels/eltwise): pykeras._core.eltwise.
//
// Every array argument must be a C-contiguous float32 ndarray (TypeError otherwise; labels of the
// sparse cross-entropy are int32/int64); `out=` (where offered) must have the result's shape and
// may alias an input. `op` is a name (str) or an integer code: Activation codes for activations
// (kernels/activation.h, also ACTIVATIONS[name]), UnaryOp codes for the math functions.
//
// API
//   ACTIVATIONS                      dict: activation name -> Activation code (GEMM epilogue codes)
//   UNARY_OPS                        tuple of every unary op name
//   unary(op, x, out=None, *, alpha=None, max_value=None, threshold=None, min_value=None,
//         approximate=None)          activation or unary math function, elementwise
//   unary_backward(op, dy, x=None, y=None, out=None, *, <same parameters>)
//                                    dx = dy * f'(.), from y = f(x) where the op allows it
//   unary_backward_input(op, *, <same parameters>) -> 'x' | 'y' | 'either' | 'none'
//                                    what unary_backward needs for that op
//   add(a, b, out=None), relu(x, out=None), relu_backward(x, dy, out=None)
//                                    same-shape fast paths kept from the foundation
#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "bindings/common.h"
#include "kernels/eltwise/eltwise.h"

namespace pyk::bind {
namespace {

using eltwise::UnaryOp;
using eltwise::UnaryParams;

// ------------------------------------------------------------------------- unary op registry

enum ParamBit : unsigned { kAlpha = 1, kMaxValue = 2, kThreshold = 4, kMinValue = 8, kApproximate = 16 };

struct UnaryInfo {
  const char* name;
  int32_t code;
  unsigned params;       // ParamBit set the op accepts
  float default_alpha;   // used when alpha (or threshold, for thresholded_relu) is not given
  bool from_y;           // the backward can use y = f(x) instead of x (see backward_from_y)
  const char* doc;
};

constexpr int32_t act(Activation a) { return static_cast<int32_t>(a); }
constexpr int32_t uop(UnaryOp u) { return static_cast<int32_t>(u); }

const std::vector<UnaryInfo>& unary_infos() {
  static const std::vector<UnaryInfo> infos = {
      {"linear", act(Activation::linear), 0, 0.0f, true, "x"},
      {"relu", act(Activation::relu), kAlpha | kMaxValue | kThreshold, 0.0f, true,
       "Keras relu: alpha = negative_slope (0), max_value (None), threshold (0)"},
      {"relu6", act(Activation::relu6), 0, 0.0f, true, "min(max(x, 0), 6)"},
      {"leaky_relu", act(Activation::leaky_relu), kAlpha, 0.2f, true, "x >= 0 ? x : alpha x (alpha = 0.2)"},
      {"elu", act(Activation::elu), kAlpha, 1.0f, true, "x > 0 ? x : alpha (exp(x) - 1) (alpha = 1)"},
      {"sigmoid", act(Activation::sigmoid), 0, 0.0f, true, "1 / (1 + exp(-x))"},
      {"tanh", act(Activation::tanh), 0, 0.0f, true, "tanh(x)"},
      {"hard_sigmoid", act(Activation::hard_sigmoid), kAlpha, 1.0f / 6.0f, true,
       "clip(alpha x + 0.5, 0, 1); alpha = 1/6 (Keras 3), 0.2 gives Keras 2's form"},
      {"swish", act(Activation::swish), 0, 0.0f, false, "x sigmoid(x)"},
      {"silu", act(Activation::swish), 0, 0.0f, false, "x sigmoid(x)"},
      {"gelu", act(Activation::gelu), kApproximate, 0.0f, false,
       "x Phi(x); approximate=True: tanh form (default False, as keras.activations.gelu)"},
      {"softplus", act(Activation::softplus), 0, 0.0f, true, "log(1 + exp(x))"},
      {"selu", act(Activation::selu), 0, 0.0f, true, "scale * elu(x, alpha) with Keras's constants"},
      {"exponential", act(Activation::exponential), 0, 0.0f, true, "exp(x)"},
      {"softsign", act(Activation::softsign), 0, 0.0f, true, "x / (1 + |x|)"},
      {"hard_silu", act(Activation::hard_silu), 0, 0.0f, false, "x clip(x/6 + 0.5, 0, 1)"},
      {"hard_swish", act(Activation::hard_silu), 0, 0.0f, false, "x clip(x/6 + 0.5, 0, 1)"},
      {"thresholded_relu", act(Activation::thresholded_relu), kThreshold, 1.0f, true,
       "x > threshold ? x : 0 (Keras 2 ThresholdedReLU, theta = threshold = 1)"},
      {"mish", act(Activation::mish), 0, 0.0f, false, "x tanh(softplus(x))"},
      {"log_sigmoid", act(Activation::log_sigmoid), 0, 0.0f, true, "log(sigmoid(x))"},
      {"exp", uop(UnaryOp::exp), 0, 0.0f, true, "e^x"},
      {"exp2", uop(UnaryOp::exp2), 0, 0.0f, true, "2^x"},
      {"expm1", uop(UnaryOp::expm1), 0, 0.0f, true, "e^x - 1"},
      {"log", uop(UnaryOp::log), 0, 0.0f, false, "natural logarithm"},
      {"log2", uop(UnaryOp::log2), 0, 0.0f, false, "base-2 logarithm"},
      {"log10", uop(UnaryOp::log10), 0, 0.0f, false, "base-10 logarithm"},
      {"log1p", uop(UnaryOp::log1p), 0, 0.0f, false, "log(1 + x)"},
      {"sqrt", uop(UnaryOp::sqrt), 0, 0.0f, true, "square root"},
      {"rsqrt", uop(UnaryOp::rsqrt), 0, 0.0f, true, "1 / sqrt(x)"},
      {"square", uop(UnaryOp::square), 0, 0.0f, false, "x * x"},
      {"abs", uop(UnaryOp::abs), 0, 0.0f, false, "|x|"},
      {"sign", uop(UnaryOp::sign), 0, 0.0f, true, "-1, 0 or 1"},
      {"negative", uop(UnaryOp::neg), 0, 0.0f, true, "-x"},
      {"reciprocal", uop(UnaryOp::reciprocal), 0, 0.0f, true, "1 / x"},
      {"floor", uop(UnaryOp::floor), 0, 0.0f, true, "floor"},
      {"ceil", uop(UnaryOp::ceil), 0, 0.0f, true, "ceiling"},
      {"round", uop(UnaryOp::round), 0, 0.0f, true, "round half to even"},
      {"trunc", uop(UnaryOp::trunc), 0, 0.0f, true, "round toward zero"},
      {"clip", uop(UnaryOp::clip), kMinValue | kMaxValue, 0.0f, false, "min(max(x, min_value), max_value)"},
      {"sin", uop(UnaryOp::sin), 0, 0.0f, false, "sine"},
      {"cos", uop(UnaryOp::cos), 0, 0.0f, false, "cosine"},
      {"tan", uop(UnaryOp::tan), 0, 0.0f, false, "tangent"},
      {"arcsin", uop(UnaryOp::arcsin), 0, 0.0f, false, "inverse sine"},
      {"arccos", uop(UnaryOp::arccos), 0, 0.0f, false, "inverse cosine"},
      {"arctan", uop(UnaryOp::arctan), 0, 0.0f, false, "inverse tangent"},
      {"sinh", uop(UnaryOp::sinh), 0, 0.0f, false, "hyperbolic sine"},
      {"cosh", uop(UnaryOp::cosh), 0, 0.0f, false, "hyperbolic cosine"},
      {"arcsinh", uop(UnaryOp::arcsinh), 0, 0.0f, false, "inverse hyperbolic sine"},
      {"arccosh", uop(UnaryOp::arccosh), 0, 0.0f, false, "inverse hyperbolic cosine"},
      {"arctanh", uop(UnaryOp::arctanh), 0, 0.0f, false, "inverse hyperbolic tangent"},
      {"erf", uop(UnaryOp::erf), 0, 0.0f, false, "error function"},
      {"erfc", uop(UnaryOp::erfc), 0, 0.0f, false, "complementary error function"},
  };
  return infos;
}

// Looks an op up by name or code; codes resolve to the first name registered for them.
const UnaryInfo& find_unary(const py::object& op, const char* fn) {
  const auto& infos = unary_infos();
  if (py::isinstance<py::str>(op)) {
    const std::string name = op.cast<std::string>();
    for (const auto& info : infos) {
      if (name == info.name) return info;
    }
    throw py::value_error(std::string(fn) + ": unknown op '" + name + "' (see pykeras._core.eltwise.UNARY_OPS)");
  }
  if (py::isinstance<py::int_>(op) && !py::isinstance<py::bool_>(op)) {
    const int64_t code = op.cast<int64_t>();
    for (const auto& info : infos) {
      if (code == info.code) return info;
    }
    throw py::value_error(std::string(fn) + ": unknown op code " + std::to_string(code));
  }
  throw py::type_error(std::string(fn) + ": 'op' must be a str or an int, got " +
                       std::string(py::str(op.get_type().attr("__name__"))));
}

struct OptionalParams {
  py::object alpha, max_value, threshold, min_value, approximate;
};

float as_float(const py::object& v, const char* fn, const char* name) {
  try {
    return v.cast<float>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(fn) + ": '" + name + "' must be a number, got " +
                         std::string(py::str(v.get_type().attr("__name__"))));
  }
}

// Resolves the op's parameters: rejects ones the op does not take, fills in Keras's defaults.
UnaryParams resolve_params(const UnaryInfo& info, const OptionalParams& o, const char* fn) {
  auto reject = [&](const py::object& v, unsigned bit, const char* name) {
    if (!v.is_none() && !(info.params & bit)) {
      throw py::value_error(std::string(fn) + ": op '" + info.name + "' takes no '" + name + "' parameter");
    }
  };
  reject(o.alpha, kAlpha, "alpha");
  reject(o.max_value, kMaxValue, "max_value");
  reject(o.threshold, kThreshold, "threshold");
  reject(o.min_value, kMinValue, "min_value");
  reject(o.approximate, kApproximate, "approximate");
  UnaryParams p;
  p.alpha = o.alpha.is_none() ? info.default_alpha : as_float(o.alpha, fn, "alpha");
  if (!o.max_value.is_none()) p.max_value = as_float(o.max_value, fn, "max_value");
  if (!o.min_value.is_none()) p.min_value = as_float(o.min_value, fn, "min_value");
  if (!o.threshold.is_none()) p.threshold = as_float(o.threshold, fn, "threshold");
  if (info.code == act(Activation::thresholded_relu)) {
    // theta travels as the activation's alpha (activation.h).
    p.alpha = o.threshold.is_none() ? info.default_alpha : p.threshold;
    p.threshold = 0.0f;
  }
  if (info.code == act(Activation::gelu)) {
    p.alpha = (!o.approximate.is_none() && o.approximate.cast<bool>()) ? 1.0f : 0.0f;
  }
  if (info.code == uop(UnaryOp::clip)) {
    if (o.min_value.is_none() || o.max_value.is_none()) {
      throw py::value_error(std::string(fn) + ": clip needs both min_value and max_value");
    }
  }
  if (info.code == act(Activation::relu) && std::isnan(p.max_value)) {
    throw py::value_error(std::string(fn) + ": relu max_value must not be NaN");
  }
  return p;
}

// Whether unary_backward can work from y for this op and parameters (the formulas need the sign
// information of x to survive in y).
bool backward_from_y(const UnaryInfo& info, const UnaryParams& p) {
  if (!info.from_y) return false;
  switch (info.code) {
    case act(Activation::relu):
      // plain relu, capped relu, or leaky with a positive slope
      return p.threshold == 0.0f && p.alpha >= 0.0f &&
             (p.alpha == 0.0f || (std::isinf(p.max_value) && p.max_value > 0));
    case act(Activation::leaky_relu):
    case act(Activation::elu):
      return p.alpha > 0.0f;
    case act(Activation::thresholded_relu):
      return p.alpha >= 0.0f;
    default:
      return true;
  }
}

// Ops whose derivative does not depend on the input at all.
bool backward_needs_nothing(const UnaryInfo& info) {
  switch (info.code) {
    case act(Activation::linear): case uop(UnaryOp::neg): case uop(UnaryOp::sign): case uop(UnaryOp::floor):
    case uop(UnaryOp::ceil): case uop(UnaryOp::round): case uop(UnaryOp::trunc):
      return true;
    default:
      return false;
  }
}

py::array as_f32_array(const py::object& obj, const char* fn, const char* arg) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a float32 numpy array, got " +
                         std::string(py::str(obj.get_type().attr("__name__"))));
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  require_f32(a, fn, arg);
  return a;
}

py::array unary(const py::object& op, const py::object& x_obj, const py::object& out, const OptionalParams& o) {
  const char* fn = "unary";
  const UnaryInfo& info = find_unary(op, fn);
  const UnaryParams p = resolve_params(info, o, fn);
  py::array x = as_f32_array(x_obj, fn, "x");
  py::array y = output(out, shape_of(x), fn);
  {
    py::gil_scoped_release nogil;
    eltwise::table().unary(static_cast<UnaryOp>(info.code), p, in_ptr(x), out_ptr(y), x.size());
  }
  return y;
}

py::array unary_backward(const py::object& op, const py::object& dy_obj, const py::object& x_obj,
                         const py::object& y_obj, const py::object& out, const OptionalParams& o) {
  const char* fn = "unary_backward";
  const UnaryInfo& info = find_unary(op, fn);
  const UnaryParams p = resolve_params(info, o, fn);
  py::array dy = as_f32_array(dy_obj, fn, "dy");
  const Shape shape = shape_of(dy);
  const float* x = nullptr;
  const float* y = nullptr;
  py::array xa, ya;
  if (!y_obj.is_none() && backward_from_y(info, p)) {
    ya = as_f32_array(y_obj, fn, "y");
    require_shape(ya, shape, fn, "y");
    y = in_ptr(ya);
  } else if (!x_obj.is_none()) {
    xa = as_f32_array(x_obj, fn, "x");
    require_shape(xa, shape, fn, "x");
    x = in_ptr(xa);
  } else if (backward_needs_nothing(info)) {
    x = in_ptr(dy);  // any same-shape array: the derivative does not read it
  } else {
    throw py::value_error(std::string(fn) + ": op '" + info.name + "' needs " +
                          (backward_from_y(info, p) ? "x or y" : "x") + " for its backward");
  }
  py::array dx = output(out, shape, fn);
  {
    py::gil_scoped_release nogil;
    eltwise::table().unary_backward(static_cast<UnaryOp>(info.code), p, x, y, in_ptr(dy), out_ptr(dx), dy.size());
  }
  return dx;
}

const char* backward_input(const py::object& op, const OptionalParams& o) {
  const char* fn = "unary_backward_input";
  const UnaryInfo& info = find_unary(op, fn);
  const UnaryParams p = resolve_params(info, o, fn);
  if (backward_needs_nothing(info)) return "none";
  return backward_from_y(info, p) ? "either" : "x";
}

// pybind11 keyword arguments shared by unary, unary_backward and unary_backward_input.
#define PYK_UNARY_PARAM_ARGS                                                                   \
  py::kw_only(), py::arg("alpha") = py::none(), py::arg("max_value") = py::none(),             \
      py::arg("threshold") = py::none(), py::arg("min_value") = py::none(),                    \
      py::arg("approximate") = py::none()

}  // namespace

void bind_eltwise(py::module_& m) {
  // ---------------------------------------------------------------- registry
  py::dict activations;
  for (const auto& info : unary_infos()) {
    if (info.code < kNumActivations) activations[py::str(info.name)] = info.code;
  }
  m.attr("ACTIVATIONS") = activations;
  py::list names;
  for (const auto& info : unary_infos()) names.append(py::str(info.name));
  m.attr("UNARY_OPS") = py::tuple(names);

  // ---------------------------------------------------------------- unary
  static std::string unary_doc;
  unary_doc =
      "unary(op, x, out=None, *, alpha=None, max_value=None, threshold=None, min_value=None, approximate=None)\n\n"
      "Applies an activation or a math function elementwise to a float32 array. `op` is a name or a code\n"
      "(ACTIVATIONS[name] for activations). Parameters an op does not take raise ValueError; unset ones take\n"
      "Keras's defaults. Ops:\n";
  for (const auto& info : unary_infos()) unary_doc += std::string("  ") + info.name + ": " + info.doc + "\n";
  m.def("unary", [](const py::object& op, const py::object& x, const py::object& out, const py::object& alpha,
                    const py::object& max_value, const py::object& threshold, const py::object& min_value,
                    const py::object& approximate) {
    return unary(op, x, out, {alpha, max_value, threshold, min_value, approximate});
  }, py::arg("op"), py::arg("x"), py::arg("out") = py::none(), PYK_UNARY_PARAM_ARGS, unary_doc.c_str());

  m.def("unary_backward", [](const py::object& op, const py::object& dy, const py::object& x, const py::object& y,
                             const py::object& out, const py::object& alpha, const py::object& max_value,
                             const py::object& threshold, const py::object& min_value,
                             const py::object& approximate) {
    return unary_backward(op, dy, x, y, out, {alpha, max_value, threshold, min_value, approximate});
  }, py::arg("op"), py::arg("dy"), py::arg("x") = py::none(), py::arg("y") = py::none(), py::arg("out") = py::none(),
     PYK_UNARY_PARAM_ARGS,
     "unary_backward(op, dy, x=None, y=None, out=None, *, <unary's parameters>)\n\n"
     "Gradient of unary: dx = dy * f'(x). Pass x, or y = f(x) for ops whose derivative follows from the\n"
     "output (sigmoid, tanh, relu, elu, exp, ...; see unary_backward_input). When both are given y is used\n"
     "where allowed. Kinks follow Keras on JAX: relu'(0) = 0, leaky_relu'(0) = 1, elu'(0) = alpha.");

  m.def("unary_backward_input", [](const py::object& op, const py::object& alpha, const py::object& max_value,
                                   const py::object& threshold, const py::object& min_value,
                                   const py::object& approximate) {
    return std::string(backward_input(op, {alpha, max_value, threshold, min_value, approximate}));
  }, py::arg("op"), PYK_UNARY_PARAM_ARGS,
     "What unary_backward needs for this op and parameters: 'x', 'either' (x or y = f(x)) or 'none'.");

  // ---------------------------------------------------------------- foundation fast paths
  m.def("add", [](const py::array& a, const py::array& b, const py::object& out) {
    require_f32(a, "add", "a");
    require_f32(b, "add", "b");
    require_shape(b, shape_of(a), "add", "b");
    py::array y = output(out, shape_of(a), "add");
    {
      py::gil_scoped_release nogil;
      eltwise::table().add(in_ptr(a), in_ptr(b), out_ptr(y), a.size());
    }
    return y;
  }, py::arg("a"), py::arg("b"), py::arg("out") = py::none(), "a + b for two float32 arrays of one shape.");

  m.def("relu", [](const py::array& x, const py::object& out) {
    require_f32(x, "relu", "x");
    py::array y = output(out, shape_of(x), "relu");
    {
      py::gil_scoped_release nogil;
      eltwise::table().relu(in_ptr(x), out_ptr(y), x.size());
    }
    return y;
  }, py::arg("x"), py::arg("out") = py::none(), "max(x, 0) for a float32 array (NaN stays NaN).");

  m.def("relu_backward", [](const py::array& x, const py::array& dy, const py::object& out) {
    require_f32(x, "relu_backward", "x");
    require_f32(dy, "relu_backward", "dy");
    require_shape(dy, shape_of(x), "relu_backward", "dy");
    py::array dx = output(out, shape_of(x), "relu_backward");
    {
      py::gil_scoped_release nogil;
      eltwise::table().relu_backward(in_ptr(x), in_ptr(dy), out_ptr(dx), x.size());
    }
    return dx;
  }, py::arg("x"), py::arg("dy"), py::arg("out") = py::none(), "dx = dy where x > 0, else 0.");
}

}  // namespace pyk::bind
