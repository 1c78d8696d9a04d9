// Bindings of the elementwise kernels (csrc/kernels/eltwise): pykeras._core.eltwise.
//
// Every array argument must be a C-contiguous float32 ndarray (TypeError otherwise; labels of the
// sparse cross-entropy are int32/int64); `out=` (where offered) must have the result's shape and
// may be an input of the same shape itself (in place), but not a partially overlapping view.
// `op` is a name (str) or an integer code: Activation codes for activations
// (kernels/activation.h, also ACTIVATIONS[name]), UnaryOp codes for the math functions.
//
// API (every function also has a docstring)
//   Activations and unary math
//   ACTIVATIONS                      dict name -> Activation code; codes < 14 are also accepted by
//                                    the GEMM/conv epilogues (kernels/activation.h)
//   UNARY_OPS                        tuple of every unary op name
//   unary(op, x, out=None, *, alpha=None, max_value=None, threshold=None, min_value=None,
//         approximate=None)          elementwise activation or math function; parameters default to
//                                    Keras's (relu: alpha = negative_slope; leaky_relu alpha 0.2;
//                                    elu alpha 1; hard_sigmoid alpha = slope 1/6; thresholded_relu
//                                    threshold 1; gelu approximate False; clip min/max_value)
//   unary_backward(op, dy, x=None, y=None, out=None, *, <same parameters>) -> dx = dy * f'(.)
//                                    from y = f(x) where the op allows it, else from x
//   unary_backward_input(op, *, <same parameters>) -> 'x' | 'either' | 'none'
//   Softmax and cross-entropy
//   softmax(x, axis=-1, out=None), log_softmax(x, axis=-1, out=None)
//   softmax_backward(y, dy, axis=-1, out=None)       y = softmax(x): dx = y (dy - sum(dy y))
//   log_softmax_backward(y, dy, axis=-1, out=None)   y = log_softmax(x): dx = dy - exp(y) sum(dy)
//   softmax_cross_entropy(logits, labels, axis=-1, return_grad=False) -> loss | (loss, grad)
//   softmax_cross_entropy_backward(logits, labels, dloss, axis=-1, out=None) -> dlogits
//                                    loss = -sum(labels * log_softmax(logits)) over axis;
//                                    dlogits = (softmax * sum(labels) - labels) * dloss
//   sparse_softmax_cross_entropy(logits, labels, axis=-1, ignore_class=None, return_grad=False)
//   sparse_softmax_cross_entropy_backward(logits, labels, dloss, axis=-1, ignore_class=None, out=None)
//                                    int32/int64 class indices, shape = logits.shape without axis
//   sigmoid_cross_entropy(logits, labels, return_grad=False) -> loss | (loss, grad)
//   sigmoid_cross_entropy_backward(logits, labels, dloss, out=None)
//                                    elementwise binary cross-entropy from logits
//   Broadcasting binary ops
//   BINARY_OPS                       tuple of binary op names
//   binary(op, a, b, out=None)       numpy broadcasting; a/b may be Python numbers. add subtract
//                                    multiply divide maximum minimum power prelu give float32;
//                                    equal not_equal less less_equal greater greater_equal give
//                                    numpy bool (NaN compares as in numpy)
//   binary_backward(op, a, b, dy, need_a=True, need_b=True) -> (da, db)
//                                    gradients summed to a's and b's shapes (None if not needed)
//   prelu(x, alpha, out=None), prelu_backward(x, alpha, dy) -> (dx, dalpha)
//   broadcast_to(x, shape, out=None) numpy.broadcast_to as a contiguous copy
//   reduce_to_shape(x, shape, out=None)
//                                    sum of x over the axes along which `shape` broadcasts to
//                                    x.shape (the reduction half of a broadcast op's gradient)
//   Reductions
//   REDUCE_OPS                       tuple of reduction names
//   reduce(op, x, axis=None, keepdims=False, out=None)
//                                    sum mean max min prod var std logsumexp; axis None, an int or
//                                    a tuple; float32 accumulation in fixed blocks, fixed order
//   reduce_backward(op, x, y, dy, axis=None, keepdims=False, out=None) -> dx
//                                    y = reduce(op, x, ...); y and dy with or without kept dims
//   argmax(x, axis=None, keepdims=False), argmin(...) -> int64 (first occurrence; NaN wins)
//   Foundation fast paths (same shapes)
//   add(a, b, out=None), relu(x, out=None), relu_backward(x, dy, out=None)
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
  bool from_y;           // the backward can use y = f(x) instead of x (for activations under some
                         // parameters only: see backward_from_y)
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
    // A hash lookup: ops are looked up on every call (a linear scan cost ~0.3 us at the end).
    static const std::unordered_map<std::string, size_t> by_name = [&] {
      std::unordered_map<std::string, size_t> m;
      for (size_t i = 0; i < infos.size(); ++i) m.emplace(infos[i].name, i);
      return m;
    }();
    const std::string name = op.cast<std::string>();
    const auto it = by_name.find(name);
    if (it != by_name.end()) return infos[it->second];
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
// information of x to survive in y). Activations follow the rule the fusing kernels use too.
bool backward_from_y(const UnaryInfo& info, const UnaryParams& p) {
  if (info.code < kNumActivations) return eltwise::activation_grad_from_output(static_cast<Activation>(info.code), p);
  return info.from_y;
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

// ------------------------------------------------------------------------- axes

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* fn) {
  if (axis < -ndim || axis >= ndim) {
    throw py::value_error(std::string(fn) + ": axis " + std::to_string(axis) + " is out of range for an array of " +
                          std::to_string(ndim) + " dimension" + (ndim == 1 ? "" : "s"));
  }
  return axis < 0 ? axis + ndim : axis;
}

// [outer, len, inner] view of a contiguous array around one axis.
eltwise::ReduceShape around_axis(const Shape& shape, int64_t axis) {
  eltwise::ReduceShape r;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) r.outer *= shape[d];
    else if (d == axis) r.len = shape[d];
    else r.inner *= shape[d];
  }
  return r;
}

Shape without_axis(const Shape& shape, int64_t axis) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d != axis) out.push_back(shape[d]);
  }
  return out;
}

// numpy.moveaxis(a, src, dst) as a new C-contiguous array (the GIL is held).
py::array moveaxis_copy(const py::array& a, int64_t src, int64_t dst) {
  py::module_ np = py::module_::import("numpy");
  return np.attr("ascontiguousarray")(np.attr("moveaxis")(a, src, dst));
}

// ------------------------------------------------------------------------- softmax

py::array softmax_forward(const py::object& x_obj, int64_t axis, const py::object& out, bool log) {
  const char* fn = log ? "log_softmax" : "softmax";
  py::array x = as_f32_array(x_obj, fn, "x");
  const int64_t ax = normalize_axis(axis, x.ndim(), fn);
  py::array y = output(out, shape_of(x), fn);
  const eltwise::ReduceShape rs = around_axis(shape_of(x), ax);
  {
    py::gil_scoped_release nogil;
    eltwise::table().softmax(log, rs, in_ptr(x), out_ptr(y));
  }
  return y;
}

py::array softmax_backward(const py::object& y_obj, const py::object& dy_obj, int64_t axis, const py::object& out,
                           bool log) {
  const char* fn = log ? "log_softmax_backward" : "softmax_backward";
  py::array y = as_f32_array(y_obj, fn, "y");
  py::array dy = as_f32_array(dy_obj, fn, "dy");
  require_shape(dy, shape_of(y), fn, "dy");
  const int64_t ax = normalize_axis(axis, y.ndim(), fn);
  py::array dx = output(out, shape_of(y), fn);
  const eltwise::ReduceShape rs = around_axis(shape_of(y), ax);
  {
    py::gil_scoped_release nogil;
    eltwise::table().softmax_backward(log, rs, in_ptr(y), in_ptr(dy), out_ptr(dx));
  }
  return dx;
}

// ------------------------------------------------------------------------- cross-entropy

// The class axis is moved last (a copy) when it is not already; the kernels work on rows.
struct XentRows {
  py::array logits;   // [rows, classes], contiguous
  Shape loss_shape;   // logits.shape without the class axis
  int64_t axis;       // normalized
  bool moved;
  eltwise::ReduceShape rows;
};

XentRows xent_rows(const py::array& logits, int64_t axis, const char* fn) {
  if (logits.ndim() < 1) throw py::value_error(std::string(fn) + ": 'logits' must have at least one dimension");
  XentRows r;
  r.axis = normalize_axis(axis, logits.ndim(), fn);
  r.loss_shape = without_axis(shape_of(logits), r.axis);
  r.moved = r.axis != logits.ndim() - 1;
  r.logits = r.moved ? moveaxis_copy(logits, r.axis, -1) : logits;
  const int64_t classes = logits.shape(r.axis);
  r.rows.len = classes;
  r.rows.outer = 1;
  for (int64_t d : r.loss_shape) r.rows.outer *= d;
  return r;
}

// The optional upstream gradient of the loss, of `shape` (null when absent); `keep` holds it alive.
const float* optional_dloss(const py::object& dloss_obj, const Shape& shape, py::array& keep, const char* fn) {
  if (dloss_obj.is_none()) return nullptr;
  keep = as_f32_array(dloss_obj, fn, "dloss");
  require_shape(keep, shape, fn, "dloss");
  return in_ptr(keep);
}

// Where the kernel writes the logits' gradient: `out` itself unless the class axis was moved, in
// which case a scratch array in the moved layout (`out`, when given, is validated now and
// filled by xent_result).
py::array xent_grad_buffer(const XentRows& r, const py::array& logits, const py::object& out, const char* fn) {
  if (!r.moved) return out.is_none() ? py::array(py::array_t<float>(shape_of(logits))) : output(out, shape_of(logits), fn);
  if (!out.is_none()) output(out, shape_of(logits), fn);
  return py::array_t<float>(shape_of(r.logits));
}

// What the caller asked for: the loss, the gradient (its class axis moved back into place), or both.
py::object xent_result(const XentRows& r, const py::array& logits, py::array loss, py::array grad, bool want_loss,
                       bool want_grad, const py::object& out, const char* fn) {
  if (want_grad && r.moved) {
    grad = moveaxis_copy(grad, -1, r.axis);
    if (!out.is_none()) {
      py::array o = output(out, shape_of(logits), fn);
      std::memcpy(o.mutable_data(), grad.data(), static_cast<size_t>(grad.size()) * sizeof(float));
      grad = o;
    }
  }
  if (want_loss && want_grad) return py::make_tuple(loss, grad);
  if (want_grad) return grad;
  return loss;
}

py::object dense_xent(const py::object& logits_obj, const py::object& labels_obj, const py::object& dloss_obj,
                      int64_t axis, bool want_loss, bool want_grad, const py::object& out, const char* fn) {
  py::array logits = as_f32_array(logits_obj, fn, "logits");
  py::array labels = as_f32_array(labels_obj, fn, "labels");
  require_shape(labels, shape_of(logits), fn, "labels");
  XentRows r = xent_rows(logits, axis, fn);
  if (r.moved) labels = moveaxis_copy(labels, r.axis, -1);
  py::array dloss;  // kept alive for the kernel
  const float* dloss_ptr = optional_dloss(dloss_obj, r.loss_shape, dloss, fn);
  py::array loss = py::array_t<float>(r.loss_shape);
  py::array grad;
  if (want_grad) grad = xent_grad_buffer(r, logits, out, fn);
  {
    py::gil_scoped_release nogil;
    eltwise::table().softmax_xent(r.rows, in_ptr(r.logits), in_ptr(labels), dloss_ptr,
                                  out_ptr(loss), want_grad ? out_ptr(grad) : nullptr);
  }
  return xent_result(r, logits, loss, grad, want_loss, want_grad, out, fn);
}

// Integer labels: int32 or int64 of shape logits.shape without the class axis, each in
// [0, classes) or equal to ignore_class.
py::object sparse_xent(const py::object& logits_obj, const py::object& labels_obj, const py::object& dloss_obj,
                       int64_t axis, const py::object& ignore_obj, bool want_loss, bool want_grad,
                       const py::object& out, const char* fn) {
  py::array logits = as_f32_array(logits_obj, fn, "logits");
  XentRows r = xent_rows(logits, axis, fn);
  if (!py::isinstance<py::array>(labels_obj)) {
    throw py::type_error(std::string(fn) + ": 'labels' must be an int32 or int64 numpy array");
  }
  py::array labels = py::reinterpret_borrow<py::array>(labels_obj);
  const bool i32 = py::isinstance<py::array_t<int32_t>>(labels) && labels.dtype().kind() == 'i' && labels.itemsize() == 4;
  const bool i64 = py::isinstance<py::array_t<int64_t>>(labels) && labels.dtype().kind() == 'i' && labels.itemsize() == 8;
  if (!i32 && !i64) {
    throw py::type_error(std::string(fn) + ": 'labels' must be an int32 or int64 array, got dtype " +
                         std::string(py::str(labels.dtype())));
  }
  if (!(labels.flags() & py::array::c_style)) {
    throw py::type_error(std::string(fn) + ": 'labels' must be C-contiguous (use numpy.ascontiguousarray)");
  }
  require_shape(labels, r.loss_shape, fn, "labels");
  const int64_t ignore = ignore_obj.is_none() ? INT64_MIN : ignore_obj.cast<int64_t>();
  const int64_t classes = r.rows.len;
  for (int64_t i = 0; i < labels.size(); ++i) {
    const int64_t v = i32 ? static_cast<const int32_t*>(labels.data())[i] : static_cast<const int64_t*>(labels.data())[i];
    if (v != ignore && (v < 0 || v >= classes)) {
      throw py::value_error(std::string(fn) + ": label " + std::to_string(v) + " at flat index " + std::to_string(i) +
                            " is outside [0, " + std::to_string(classes) + ")");
    }
  }
  py::array dloss;  // kept alive for the kernel
  const float* dloss_ptr = optional_dloss(dloss_obj, r.loss_shape, dloss, fn);
  py::array loss = py::array_t<float>(r.loss_shape);
  py::array grad;
  if (want_grad) grad = xent_grad_buffer(r, logits, out, fn);
  {
    py::gil_scoped_release nogil;
    const float* d = dloss_ptr;
    float* g = want_grad ? out_ptr(grad) : nullptr;
    if (i32) {
      eltwise::table().sparse_softmax_xent_i32(r.rows, in_ptr(r.logits), static_cast<const int32_t*>(labels.data()),
                                               ignore, d, out_ptr(loss), g);
    } else {
      eltwise::table().sparse_softmax_xent_i64(r.rows, in_ptr(r.logits), static_cast<const int64_t*>(labels.data()),
                                               ignore, d, out_ptr(loss), g);
    }
  }
  return xent_result(r, logits, loss, grad, want_loss, want_grad, out, fn);
}

py::object sigmoid_xent(const py::object& logits_obj, const py::object& labels_obj, const py::object& dloss_obj,
                        bool want_loss, bool want_grad, const py::object& out, const char* fn) {
  py::array logits = as_f32_array(logits_obj, fn, "logits");
  py::array labels = as_f32_array(labels_obj, fn, "labels");
  require_shape(labels, shape_of(logits), fn, "labels");
  py::array dloss;  // kept alive for the kernel
  const float* dloss_ptr = optional_dloss(dloss_obj, shape_of(logits), dloss, fn);
  // The backward-only entry writes the loss to a scratch array.
  py::array loss = py::array_t<float>(shape_of(logits));
  py::array grad;
  if (want_grad) grad = output(out, shape_of(logits), fn);
  {
    py::gil_scoped_release nogil;
    eltwise::table().sigmoid_xent(in_ptr(logits), in_ptr(labels), dloss_ptr, out_ptr(loss),
                                  want_grad ? out_ptr(grad) : nullptr, logits.size());
  }
  if (want_loss && want_grad) return py::make_tuple(loss, grad);
  if (want_grad) return grad;
  return loss;
}

// ------------------------------------------------------------------------- broadcasting

const std::vector<std::pair<const char*, eltwise::BinaryOp>>& binary_ops() {
  using B = eltwise::BinaryOp;
  static const std::vector<std::pair<const char*, B>> ops = {
      {"add", B::add}, {"subtract", B::subtract}, {"multiply", B::multiply}, {"divide", B::divide},
      {"maximum", B::maximum}, {"minimum", B::minimum}, {"power", B::power}, {"prelu", B::prelu},
      {"equal", B::equal}, {"not_equal", B::not_equal}, {"less", B::less}, {"less_equal", B::less_equal},
      {"greater", B::greater}, {"greater_equal", B::greater_equal}};
  return ops;
}

eltwise::BinaryOp find_binary(const std::string& name, const char* fn) {
  for (const auto& [n, op] : binary_ops()) {
    if (name == n) return op;
  }
  throw py::value_error(std::string(fn) + ": unknown binary op '" + name + "' (see BINARY_OPS)");
}

// A float32 array operand, or a Python/numpy number turned into a 0-d float32 array.
py::array operand(const py::object& obj, const char* fn, const char* arg) {
  const bool number = py::isinstance<py::float_>(obj) || py::isinstance<py::int_>(obj) ||
                      (!py::isinstance<py::array>(obj) && !py::isinstance<py::str>(obj) && py::hasattr(obj, "__float__"));
  if (!py::isinstance<py::array>(obj) && number) {
    return py::array_t<float>(Shape{}, Shape{}, std::vector<float>{obj.cast<float>()}.data());
  }
  return as_f32_array(obj, fn, arg);
}

// True when an array of shape `from` broadcasts to exactly `to`.
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d) {
    if (from[d] != 1 && from[d] != to[d + lead]) return false;
  }
  return true;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* fn) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t da = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const int64_t db = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) {
      throw py::value_error(std::string(fn) + ": operands could not be broadcast together with shapes " +
                            shape_str(a) + " and " + shape_str(b));
    }
    out[d] = da == 1 ? db : da;
  }
  return out;
}

// The collapsed iteration plan of out = f(a, b) over out_shape (see eltwise.h: Broadcast).
eltwise::Broadcast make_broadcast(const Shape& a, const Shape& b, const Shape& out, const char* fn) {
  struct Dim { int64_t size; bool a_full, b_full; };
  std::vector<Dim> dims;
  const size_t rank = out.size();
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    const int64_t da = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const int64_t db = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    const Dim dim{out[d], da != 1, db != 1};
    if (!dims.empty() && dims.back().a_full == dim.a_full && dims.back().b_full == dim.b_full) {
      dims.back().size *= dim.size;
    } else {
      dims.push_back(dim);
    }
  }
  if (dims.empty()) dims.push_back({1, true, true});
  if (dims.size() > static_cast<size_t>(eltwise::kMaxDims)) {
    throw py::value_error(std::string(fn) + ": broadcasting " + shape_str(a) + " with " + shape_str(b) +
                          " alternates too often (more than " + std::to_string(eltwise::kMaxDims) + " dimensions)");
  }
  eltwise::Broadcast bc;
  bc.ndim = static_cast<int>(dims.size());
  int64_t run_a = 1, run_b = 1;
  for (int d = bc.ndim - 1; d >= 0; --d) {
    bc.shape[d] = dims[d].size;
    bc.stride_a[d] = dims[d].a_full ? run_a : 0;
    bc.stride_b[d] = dims[d].b_full ? run_b : 0;
    if (dims[d].a_full) run_a *= dims[d].size;
    if (dims[d].b_full) run_b *= dims[d].size;
  }
  return bc;
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

py::array bool_output(const py::object& out, const Shape& shape, const char* fn) {
  if (out.is_none()) return py::array_t<bool>(shape);
  if (!py::isinstance<py::array_t<bool>>(out) || py::reinterpret_borrow<py::array>(out).dtype().kind() != 'b') {
    throw py::type_error(std::string(fn) + ": 'out' of a comparison must be a bool array");
  }
  py::array a = py::reinterpret_borrow<py::array>(out);
  if (!(a.flags() & py::array::c_style)) throw py::type_error(std::string(fn) + ": 'out' must be C-contiguous");
  require_writeable(a, fn, "out");
  require_shape(a, shape, fn, "out");
  return a;
}

py::array binary(const std::string& name, const py::object& a_obj, const py::object& b_obj, const py::object& out) {
  const char* fn = "binary";
  const eltwise::BinaryOp op = find_binary(name, fn);
  py::array a = operand(a_obj, fn, "a");
  py::array b = operand(b_obj, fn, "b");
  const Shape sa = shape_of(a), sb = shape_of(b);
  const Shape so = broadcast_shapes(sa, sb, fn);
  const bool cmp = eltwise::is_comparison(op);
  py::array y = cmp ? bool_output(out, so, fn) : output(out, so, fn);
  if (numel(so) == 0) return y;
  const eltwise::Broadcast bc = make_broadcast(sa, sb, so, fn);
  {
    py::gil_scoped_release nogil;
    eltwise::table().binary(op, bc, in_ptr(a), in_ptr(b), y.mutable_data());
  }
  return y;
}

py::array broadcast_to(const py::object& x_obj, const Shape& shape, const py::object& out) {
  const char* fn = "broadcast_to";
  py::array x = operand(x_obj, fn, "x");
  for (int64_t d : shape) {
    if (d < 0) throw py::value_error(std::string(fn) + ": negative dimension in shape " + shape_str(shape));
  }
  const Shape sx = shape_of(x);
  if (!broadcasts_to(sx, shape)) {
    throw py::value_error(std::string(fn) + ": cannot broadcast an array of shape " + shape_str(sx) + " to " +
                          shape_str(shape));
  }
  py::array y = output(out, shape, fn);
  if (numel(shape) == 0) return y;
  const eltwise::Broadcast bc = make_broadcast(sx, shape, shape, fn);
  {
    py::gil_scoped_release nogil;
    eltwise::table().broadcast(bc, in_ptr(x), 1.0f, out_ptr(y));
  }
  return y;
}

// ------------------------------------------------------------------------- reductions

const std::vector<std::pair<const char*, eltwise::ReduceOp>>& reduce_ops() {
  using R = eltwise::ReduceOp;
  static const std::vector<std::pair<const char*, R>> ops = {
      {"sum", R::sum}, {"mean", R::mean}, {"max", R::max}, {"min", R::min}, {"prod", R::prod},
      {"var", R::var}, {"std", R::std}, {"logsumexp", R::logsumexp}};
  return ops;
}

eltwise::ReduceOp find_reduce(const std::string& name, const char* fn) {
  for (const auto& [n, op] : reduce_ops()) {
    if (name == n) return op;
  }
  throw py::value_error(std::string(fn) + ": unknown reduction '" + name + "' (see REDUCE_OPS)");
}

// Which axes are reduced: None -> all; an int or a sequence of ints (normalized, no repeats).
std::vector<bool> reduced_axes(const py::object& axis, int64_t ndim, const char* fn) {
  std::vector<bool> r(static_cast<size_t>(ndim), axis.is_none());
  if (axis.is_none()) return r;
  std::vector<int64_t> list;
  if (py::isinstance<py::int_>(axis)) {
    list.push_back(axis.cast<int64_t>());
  } else if (py::isinstance<py::sequence>(axis) && !py::isinstance<py::str>(axis)) {
    for (const auto& a : axis) {
      if (!py::isinstance<py::int_>(a)) throw py::type_error(std::string(fn) + ": axis entries must be ints");
      list.push_back(a.cast<int64_t>());
    }
  } else {
    throw py::type_error(std::string(fn) + ": axis must be None, an int or a tuple of ints");
  }
  for (int64_t a : list) {
    const int64_t ax = normalize_axis(a, ndim, fn);
    if (r[ax]) throw py::value_error(std::string(fn) + ": axis " + std::to_string(a) + " is repeated");
    r[ax] = true;
  }
  return r;
}

// How a reduction runs: on x itself ([outer, len, inner] with one reduced group) or on a copy of
// x with the reduced axes moved last (reduced groups interleaved with kept ones).
struct ReducePlan {
  eltwise::ReduceShape rs;
  bool transpose = false;
  std::vector<int64_t> perm;  // kept axes then reduced axes
  Shape out_shape;            // with or without the kept size-1 dims, as asked
  Shape keep_shape;           // keepdims form
};

ReducePlan make_reduce_plan(const Shape& shape, const std::vector<bool>& red, bool keepdims) {
  ReducePlan p;
  int groups = 0;
  int last = -1;  // flag of the previous non-trivial dim
  for (size_t d = 0; d < shape.size(); ++d) {
    p.keep_shape.push_back(red[d] ? 1 : shape[d]);
    if (!red[d] || keepdims) p.out_shape.push_back(red[d] ? 1 : shape[d]);
    if (shape[d] == 1) continue;
    if (red[d] && last != 1) ++groups;
    last = red[d] ? 1 : 0;
  }
  int64_t kept = 1, reduced = 1;
  for (size_t d = 0; d < shape.size(); ++d) (red[d] ? reduced : kept) *= shape[d];
  if (groups <= 1) {
    // outer = kept dims before the reduced group, inner = kept dims after it.
    bool seen = false;
    p.rs.outer = 1; p.rs.len = 1; p.rs.inner = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (red[d] && shape[d] != 1) seen = true;
      if (red[d]) p.rs.len *= shape[d];
      else if (seen) p.rs.inner *= shape[d];
      else p.rs.outer *= shape[d];
    }
    return p;
  }
  p.transpose = true;
  for (size_t d = 0; d < shape.size(); ++d) if (!red[d]) p.perm.push_back(static_cast<int64_t>(d));
  for (size_t d = 0; d < shape.size(); ++d) if (red[d]) p.perm.push_back(static_cast<int64_t>(d));
  p.rs.outer = kept;
  p.rs.len = reduced;
  p.rs.inner = 1;
  return p;
}

py::array transposed_copy(const py::array& x, const std::vector<int64_t>& perm) {
  py::module_ np = py::module_::import("numpy");
  return np.attr("ascontiguousarray")(np.attr("transpose")(x, py::cast(perm)));
}

void require_nonempty_reduction(const ReducePlan& p, eltwise::ReduceOp op, const char* fn, const char* name) {
  const bool needs_elements = op == eltwise::ReduceOp::max || op == eltwise::ReduceOp::min;
  if (needs_elements && p.rs.len == 0 && p.rs.outer * p.rs.inner > 0) {
    throw py::value_error(std::string(fn) + ": zero-size reduction '" + name + "' has no identity");
  }
}

py::array reduce(const std::string& name, const py::object& x_obj, const py::object& axis, bool keepdims,
                 const py::object& out) {
  const char* fn = "reduce";
  const eltwise::ReduceOp op = find_reduce(name, fn);
  py::array x = as_f32_array(x_obj, fn, "x");
  const ReducePlan p = make_reduce_plan(shape_of(x), reduced_axes(axis, x.ndim(), fn), keepdims);
  require_nonempty_reduction(p, op, fn, name.c_str());
  py::array y = output(out, p.out_shape, fn);
  py::array src = p.transpose ? transposed_copy(x, p.perm) : x;
  {
    py::gil_scoped_release nogil;
    eltwise::table().reduce(op, p.rs, in_ptr(src), out_ptr(y));
  }
  return y;
}

// `a` must hold the reduction's result shape, with or without the kept size-1 dims.
void require_reduced_shape(const py::array& a, const ReducePlan& p, const char* fn, const char* arg) {
  const Shape s = shape_of(a);
  if (s != p.keep_shape && s != p.out_shape) {
    Shape squeezed;
    for (size_t d = 0; d < p.keep_shape.size(); ++d) {
      if (p.keep_shape[d] != 1 || p.out_shape.size() == p.keep_shape.size()) squeezed.push_back(p.keep_shape[d]);
    }
    if (s != squeezed) {
      throw py::value_error(std::string(fn) + ": '" + arg + "' has shape " + shape_str(s) + ", expected " +
                            shape_str(p.out_shape) + " (or " + shape_str(p.keep_shape) + ")");
    }
  }
}

py::array reduce_backward(const std::string& name, const py::object& x_obj, const py::object& y_obj,
                          const py::object& dy_obj, const py::object& axis, bool keepdims, const py::object& out) {
  const char* fn = "reduce_backward";
  const eltwise::ReduceOp op = find_reduce(name, fn);
  py::array x = as_f32_array(x_obj, fn, "x");
  py::array y = as_f32_array(y_obj, fn, "y");
  py::array dy = as_f32_array(dy_obj, fn, "dy");
  const ReducePlan p = make_reduce_plan(shape_of(x), reduced_axes(axis, x.ndim(), fn), keepdims);
  require_reduced_shape(y, p, fn, "y");
  require_reduced_shape(dy, p, fn, "dy");
  py::array dx = output(out, shape_of(x), fn);
  if (x.size() == 0) return dx;
  py::array src = p.transpose ? transposed_copy(x, p.perm) : x;
  py::array dst = p.transpose ? py::array(py::array_t<float>(shape_of(src))) : dx;
  {
    py::gil_scoped_release nogil;
    eltwise::table().reduce_backward(op, p.rs, in_ptr(src), in_ptr(y), in_ptr(dy), out_ptr(dst));
  }
  if (p.transpose) {
    std::vector<int64_t> inverse(p.perm.size());
    for (size_t i = 0; i < p.perm.size(); ++i) inverse[p.perm[i]] = static_cast<int64_t>(i);
    py::array back = transposed_copy(dst, inverse);
    std::memcpy(dx.mutable_data(), back.data(), static_cast<size_t>(back.size()) * sizeof(float));
  }
  return dx;
}

py::array arg_reduce(bool is_max, const py::object& x_obj, const py::object& axis, bool keepdims) {
  const char* fn = is_max ? "argmax" : "argmin";
  py::array x = as_f32_array(x_obj, fn, "x");
  if (!axis.is_none() && !py::isinstance<py::int_>(axis)) throw py::type_error(std::string(fn) + ": axis must be None or an int");
  const ReducePlan p = make_reduce_plan(shape_of(x), reduced_axes(axis, x.ndim(), fn), keepdims);
  if (p.rs.len == 0 && p.rs.outer * p.rs.inner > 0) {
    throw py::value_error(std::string(fn) + ": attempt to get " + fn + " of an empty sequence");
  }
  py::array_t<int64_t> idx(p.out_shape);
  {
    py::gil_scoped_release nogil;
    eltwise::table().arg_reduce(is_max, p.rs, in_ptr(x), idx.mutable_data());
  }
  return idx;
}

// Sum of x over the axes along which `shape` broadcasts to x.shape, shaped like `shape`.
py::array reduce_to_shape(const py::object& x_obj, const Shape& shape, const py::object& out) {
  const char* fn = "reduce_to_shape";
  py::array x = as_f32_array(x_obj, fn, "x");
  const Shape sx = shape_of(x);
  if (!broadcasts_to(shape, sx)) {
    throw py::value_error(std::string(fn) + ": shape " + shape_str(shape) + " does not broadcast to " + shape_str(sx));
  }
  std::vector<bool> red(sx.size(), false);
  const size_t lead = sx.size() - shape.size();
  for (size_t d = 0; d < sx.size(); ++d) red[d] = d < lead || (shape[d - lead] == 1 && sx[d] != 1);
  const ReducePlan p = make_reduce_plan(sx, red, false);
  py::array y = output(out, shape, fn);
  py::array src = p.transpose ? transposed_copy(x, p.perm) : x;
  {
    py::gil_scoped_release nogil;
    eltwise::table().reduce(eltwise::ReduceOp::sum, p.rs, in_ptr(src), out_ptr(y));
  }
  return y;
}

py::tuple binary_backward(const std::string& name, const py::object& a_obj, const py::object& b_obj,
                          const py::object& dy_obj, bool need_a, bool need_b) {
  const char* fn = "binary_backward";
  const eltwise::BinaryOp op = find_binary(name, fn);
  if (eltwise::is_comparison(op)) throw py::value_error(std::string(fn) + ": comparison '" + name + "' has no gradient");
  py::array a = operand(a_obj, fn, "a");
  py::array b = operand(b_obj, fn, "b");
  py::array dy = as_f32_array(dy_obj, fn, "dy");
  const Shape sa = shape_of(a), sb = shape_of(b);
  const Shape so = broadcast_shapes(sa, sb, fn);
  require_shape(dy, so, fn, "dy");
  // Gradients of operands that span the whole output are written in place; the others go through
  // an output-shaped scratch array and a sum over the broadcast axes.
  const bool a_direct = numel(sa) == numel(so), b_direct = numel(sb) == numel(so);
  py::object da = py::none(), db = py::none();
  py::array ga, gb;
  if (need_a) { ga = py::array_t<float>(a_direct ? sa : so); }
  if (need_b) { gb = py::array_t<float>(b_direct ? sb : so); }
  if (numel(so) > 0) {
    const eltwise::Broadcast bc = make_broadcast(sa, sb, so, fn);
    py::gil_scoped_release nogil;
    eltwise::table().binary_backward(op, bc, in_ptr(a), in_ptr(b), in_ptr(dy), need_a ? out_ptr(ga) : nullptr,
                                     need_b ? out_ptr(gb) : nullptr);
  } else {
    if (need_a) std::memset(ga.mutable_data(), 0, static_cast<size_t>(ga.size()) * sizeof(float));
    if (need_b) std::memset(gb.mutable_data(), 0, static_cast<size_t>(gb.size()) * sizeof(float));
  }
  if (need_a) da = a_direct ? ga : reduce_to_shape(ga, sa, py::none());
  if (need_b) db = b_direct ? gb : reduce_to_shape(gb, sb, py::none());
  return py::make_tuple(da, db);
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

  // ---------------------------------------------------------------- binary, broadcasting
  py::list bnames;
  for (const auto& [n, op] : binary_ops()) bnames.append(py::str(n));
  m.attr("BINARY_OPS") = py::tuple(bnames);
  py::list rnames;
  for (const auto& [n, op] : reduce_ops()) rnames.append(py::str(n));
  m.attr("REDUCE_OPS") = py::tuple(rnames);

  m.def("binary", &binary, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
        "binary(op, a, b, out=None)\n\n"
        "Elementwise a <op> b with numpy broadcasting. a and b are float32 arrays or Python numbers.\n"
        "Arithmetic ops (add, subtract, multiply, divide, maximum, minimum, power, prelu) return float32;\n"
        "maximum/minimum propagate NaN; power follows C's powf; prelu is a > 0 ? a : b * a.\n"
        "Comparisons (equal, not_equal, less, less_equal, greater, greater_equal) return numpy bool.");
  m.def("binary_backward", &binary_backward, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("dy"),
        py::arg("need_a") = true, py::arg("need_b") = true,
        "binary_backward(op, a, b, dy, need_a=True, need_b=True) -> (da, db)\n\n"
        "Gradients of binary(op, a, b) for an upstream dy of the broadcast shape, each summed over the axes\n"
        "its operand was broadcast along (da has a's shape, db b's; None where not needed). maximum/minimum\n"
        "split ties in halves (as JAX); power's d/db is 0 where a == 0.");
  m.def("prelu", [](const py::object& x, const py::object& alpha, const py::object& out) {
    return binary("prelu", x, alpha, out);
  }, py::arg("x"), py::arg("alpha"), py::arg("out") = py::none(),
     "prelu(x, alpha, out=None): x > 0 ? x : alpha * x, alpha broadcast against x (Keras PReLU: alpha has\n"
     "shape x.shape[1:] with size 1 along the shared axes).");
  m.def("prelu_backward", [](const py::object& x, const py::object& alpha, const py::object& dy) {
    return binary_backward("prelu", x, alpha, dy, true, true);
  }, py::arg("x"), py::arg("alpha"), py::arg("dy"),
     "prelu_backward(x, alpha, dy) -> (dx, dalpha): dx = dy * (x > 0 ? 1 : alpha); dalpha = sum of dy * min(x, 0)\n"
     "over the axes alpha is broadcast along.");
  m.def("broadcast_to", &broadcast_to, py::arg("x"), py::arg("shape"), py::arg("out") = py::none(),
        "broadcast_to(x, shape, out=None): x broadcast to shape, as a new contiguous float32 array.");
  m.def("reduce_to_shape", &reduce_to_shape, py::arg("x"), py::arg("shape"), py::arg("out") = py::none(),
        "reduce_to_shape(x, shape, out=None)\n\n"
        "Sums x over the axes along which an array of `shape` is broadcast to x.shape (leading axes and size-1\n"
        "axes), returning an array of `shape`: the gradient of a broadcast.");

  // ---------------------------------------------------------------- reductions
  m.def("reduce", &reduce, py::arg("op"), py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdims") = false,
        py::arg("out") = py::none(),
        "reduce(op, x, axis=None, keepdims=False, out=None)\n\n"
        "op: sum, mean, max, min, prod, var, std (population, ddof=0), logsumexp. axis: None (all), an int or a\n"
        "tuple. Float32 accumulation in fixed-size blocks combined in a fixed order: the result does not depend\n"
        "on the thread count. max/min propagate NaN; max/min of an empty axis is a ValueError.");
  m.def("reduce_backward", &reduce_backward, py::arg("op"), py::arg("x"), py::arg("y"), py::arg("dy"),
        py::arg("axis") = py::none(), py::arg("keepdims") = false, py::arg("out") = py::none(),
        "reduce_backward(op, x, y, dy, axis=None, keepdims=False, out=None) -> dx\n\n"
        "Gradient of y = reduce(op, x, axis, keepdims) (y and dy with or without the kept dims). max/min: dy is\n"
        "split equally between all elements equal to the result (ties, as JAX). prod: exact with zeros.\n"
        "std: 0 where std is 0. logsumexp: dy * softmax(x).");
  m.def("argmax", [](const py::object& x, const py::object& axis, bool keepdims) {
    return arg_reduce(true, x, axis, keepdims);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdims") = false,
     "argmax(x, axis=None, keepdims=False): int64 index of the first maximum (the first NaN if any);\n"
     "axis=None indexes the flattened array.");
  m.def("argmin", [](const py::object& x, const py::object& axis, bool keepdims) {
    return arg_reduce(false, x, axis, keepdims);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdims") = false,
     "argmin(x, axis=None, keepdims=False): int64 index of the first minimum (the first NaN if any).");

  // ---------------------------------------------------------------- softmax
  m.def("softmax", [](const py::object& x, int64_t axis, const py::object& out) {
    return softmax_forward(x, axis, out, false);
  }, py::arg("x"), py::arg("axis") = -1, py::arg("out") = py::none(),
     "softmax(x, axis=-1, out=None): exp(x - max) / sum(exp(x - max)) along axis. A slice whose max is +inf\n"
     "gives its limit (the +inf entries share the mass); NaN makes the slice NaN.");
  m.def("log_softmax", [](const py::object& x, int64_t axis, const py::object& out) {
    return softmax_forward(x, axis, out, true);
  }, py::arg("x"), py::arg("axis") = -1, py::arg("out") = py::none(),
     "log_softmax(x, axis=-1, out=None): x - max - log(sum(exp(x - max))) along axis.");
  m.def("softmax_backward", [](const py::object& y, const py::object& dy, int64_t axis, const py::object& out) {
    return softmax_backward(y, dy, axis, out, false);
  }, py::arg("y"), py::arg("dy"), py::arg("axis") = -1, py::arg("out") = py::none(),
     "softmax_backward(y, dy, axis=-1, out=None): dx = y * (dy - sum(dy * y, axis)) for y = softmax(x, axis).");
  m.def("log_softmax_backward", [](const py::object& y, const py::object& dy, int64_t axis, const py::object& out) {
    return softmax_backward(y, dy, axis, out, true);
  }, py::arg("y"), py::arg("dy"), py::arg("axis") = -1, py::arg("out") = py::none(),
     "log_softmax_backward(y, dy, axis=-1, out=None): dx = dy - exp(y) * sum(dy, axis) for y = log_softmax(x).");

  // ---------------------------------------------------------------- cross-entropy
  m.def("softmax_cross_entropy", [](const py::object& logits, const py::object& labels, int64_t axis,
                                    bool return_grad) {
    return dense_xent(logits, labels, py::none(), axis, true, return_grad, py::none(), "softmax_cross_entropy");
  }, py::arg("logits"), py::arg("labels"), py::arg("axis") = -1, py::arg("return_grad") = false,
     "softmax_cross_entropy(logits, labels, axis=-1, return_grad=False) -> loss or (loss, grad)\n\n"
     "Categorical cross-entropy from logits, per sample: loss = sum(labels * (logsumexp(logits) - logits)) along\n"
     "axis (shape: logits.shape without axis), stable for logits of any size; terms with label 0 are skipped, so\n"
     "-inf logits of impossible classes are fine. grad (for dloss = 1) = softmax * sum(labels) - labels.");
  m.def("softmax_cross_entropy_backward", [](const py::object& logits, const py::object& labels,
                                             const py::object& dloss, int64_t axis, const py::object& out) {
    return dense_xent(logits, labels, dloss, axis, false, true, out, "softmax_cross_entropy_backward");
  }, py::arg("logits"), py::arg("labels"), py::arg("dloss"), py::arg("axis") = -1, py::arg("out") = py::none(),
     "softmax_cross_entropy_backward(logits, labels, dloss, axis=-1, out=None) -> dlogits\n\n"
     "dlogits = (softmax(logits) * sum(labels) - labels) * dloss, dloss of the loss's shape.");
  m.def("sparse_softmax_cross_entropy", [](const py::object& logits, const py::object& labels, int64_t axis,
                                           const py::object& ignore_class, bool return_grad) {
    return sparse_xent(logits, labels, py::none(), axis, ignore_class, true, return_grad, py::none(),
                       "sparse_softmax_cross_entropy");
  }, py::arg("logits"), py::arg("labels"), py::arg("axis") = -1, py::arg("ignore_class") = py::none(),
     py::arg("return_grad") = false,
     "sparse_softmax_cross_entropy(logits, labels, axis=-1, ignore_class=None, return_grad=False)\n\n"
     "Cross-entropy from logits with int32/int64 class indices (shape: logits.shape without axis):\n"
     "loss = logsumexp(logits) - logits[label]. Labels equal to ignore_class give loss 0 and gradient 0; any other\n"
     "label outside [0, classes) is a ValueError. grad (for dloss = 1) = softmax - one_hot(label).");
  m.def("sparse_softmax_cross_entropy_backward", [](const py::object& logits, const py::object& labels,
                                                    const py::object& dloss, int64_t axis,
                                                    const py::object& ignore_class, const py::object& out) {
    return sparse_xent(logits, labels, dloss, axis, ignore_class, false, true, out,
                       "sparse_softmax_cross_entropy_backward");
  }, py::arg("logits"), py::arg("labels"), py::arg("dloss"), py::arg("axis") = -1,
     py::arg("ignore_class") = py::none(), py::arg("out") = py::none(),
     "sparse_softmax_cross_entropy_backward(logits, labels, dloss, axis=-1, ignore_class=None, out=None)\n\n"
     "dlogits = (softmax(logits) - one_hot(label)) * dloss (0 for ignored labels).");
  m.def("sigmoid_cross_entropy", [](const py::object& logits, const py::object& labels, bool return_grad) {
    return sigmoid_xent(logits, labels, py::none(), true, return_grad, py::none(), "sigmoid_cross_entropy");
  }, py::arg("logits"), py::arg("labels"), py::arg("return_grad") = false,
     "sigmoid_cross_entropy(logits, labels, return_grad=False) -> loss or (loss, grad)\n\n"
     "Elementwise binary cross-entropy from logits: loss = labels * softplus(-z) + (1 - labels) * softplus(z),\n"
     "stable for any z (a term whose weight is 0 is skipped: z = +-inf with the matching label gives 0).\n"
     "grad (for dloss = 1) = sigmoid(z) - labels. Keras's binary_crossentropy is the mean over the last axis.");
  m.def("sigmoid_cross_entropy_backward", [](const py::object& logits, const py::object& labels,
                                             const py::object& dloss, const py::object& out) {
    return sigmoid_xent(logits, labels, dloss, false, true, out, "sigmoid_cross_entropy_backward");
  }, py::arg("logits"), py::arg("labels"), py::arg("dloss"), py::arg("out") = py::none(),
     "sigmoid_cross_entropy_backward(logits, labels, dloss, out=None): (sigmoid(logits) - labels) * dloss.");

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
