// Bindings of the convolution kernels (csrc/kernels/conv): pykeras._core.conv.
//
// Data is channels_last float32, C-contiguous; the number of spatial dimensions N (1, 2 or 3) is
// x.ndim - 2. Kernels use Keras's layouts, so Keras weights load without reshuffling:
//   Conv{1,2,3}D            kernel (*k, in // groups, out)
//   DepthwiseConv{1,2}D     kernel (*k, in, depth_multiplier)          output channel c * mult + m
//   SeparableConv{1,2}D     depthwise kernel as above, pointwise kernel (*1, in * mult, out) or (in * mult, out)
//   Conv{1,2,3}DTranspose   kernel (*k, out, in)
// Common arguments: strides / dilation: an int or N positive ints. padding: 'valid', 'same'
// (TensorFlow's arithmetic: out = ceil(in / stride), the odd padding after), 'causal' (N == 1:
// (k - 1) * dilation zeros before), or N (before, after) pairs of non-negative ints (not for
// transposed convolutions). activation: an int code of pyk::Activation (0 linear, 1 relu,
// 2 relu6, 3 leaky_relu, 4 elu, 5 sigmoid, 6 tanh, 7 hard_sigmoid, 8 swish, 9 gelu, 10 softplus,
// 11 selu, 12 exponential, 13 softsign, 14 hard_silu, 15 thresholded_relu, 16 mish,
// 17 log_sigmoid; the same definitions as pykeras._core.eltwise.unary), act_alpha its parameter
// (leaky_relu slope, elu alpha, hard_sigmoid slope (0: Keras 2's 0.2), thresholded_relu theta,
// gelu: non-zero for the tanh approximation). out: an optional preallocated output.
// Every argument is checked before a kernel runs (TypeError for dtype/contiguity, ValueError
// with the shapes for everything else). The GIL is released while kernels run.
//
// API
//   conv_output_shape(input_shape, kernel_shape, strides=1, padding='valid', dilation=1, groups=1) -> tuple
//   conv_forward(x, kernel, bias=None, strides=1, padding='valid', dilation=1, groups=1,
//                activation=0, act_alpha=0.0, out=None) -> y = act(conv(x, kernel) + bias)
//   conv_backward_data(dy, kernel, input_shape, strides=1, padding='valid', dilation=1, groups=1, out=None) -> dx
//   conv_backward_filter(x, dy, kernel_size, strides=1, padding='valid', dilation=1, groups=1, bias=True,
//                        out=None, bias_out=None) -> (dkernel, dbias or None)
//   conv_backward(x, kernel, dy, strides=1, padding='valid', dilation=1, groups=1, y=None, activation=0,
//                 act_alpha=0.0, bias=True, input_grad=True, dx_out=None, dkernel_out=None, dbias_out=None)
//       -> (dx or None, dkernel, dbias or None)
//       dy is the gradient of the activation's output; with an activation other than linear, y (the
//       forward output) is required and the activation's derivative is applied first, as
//       pykeras._core.eltwise.unary_backward computes it from y (supported: the activations whose
//       derivative follows from their output: linear, relu with alpha >= 0, relu6, leaky_relu/elu
//       with alpha > 0, sigmoid, tanh, hard_sigmoid, softplus, selu, exponential, softsign,
//       thresholded_relu with alpha >= 0, log_sigmoid; not swish, gelu, hard_silu, mish).
//   depthwise_forward(x, kernel, bias=None, strides=1, padding='valid', dilation=1, activation=0,
//                     act_alpha=0.0, out=None) -> y
//   depthwise_backward_data(dy, kernel, input_shape, strides=1, padding='valid', dilation=1, out=None) -> dx
//   depthwise_backward_filter(x, dy, kernel_size, strides=1, padding='valid', dilation=1, bias=True,
//                             out=None, bias_out=None) -> (dkernel, dbias or None)
//   depthwise_backward(x, kernel, dy, strides=1, padding='valid', dilation=1, y=None, activation=0,
//                      act_alpha=0.0, bias=True, input_grad=True, dx_out=None, dkernel_out=None, dbias_out=None)
//       -> (dx or None, dkernel, dbias or None); both gradients in one pass over dy
//   separable_forward(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1, padding='valid',
//                     dilation=1, activation=0, act_alpha=0.0, out=None) -> y
//   separable_backward(x, depthwise_kernel, pointwise_kernel, dy, strides=1, padding='valid', dilation=1,
//                      y=None, activation=0, act_alpha=0.0, bias=True, input_grad=True)
//       -> (dx or None, d_depthwise_kernel, d_pointwise_kernel, dbias or None)
//   conv_transpose_output_shape(input_shape, kernel_shape, strides=1, padding='valid', output_padding=None,
//                               dilation=1) -> tuple (Keras's Conv*Transpose output shape)
//   conv_transpose_forward(x, kernel, bias=None, strides=1, padding='valid', output_padding=None,
//                          dilation=1, activation=0, act_alpha=0.0, out=None) -> y
//   conv_transpose_backward(x, kernel, dy, strides=1, padding='valid', output_padding=None, dilation=1,
//                           y=None, activation=0, act_alpha=0.0, bias=True, input_grad=True)
//       -> (dx or None, dkernel, dbias or None)
//   activation_backward(y, dy, activation, act_alpha=0.0, out=None) -> dz = dy * act'(z) from y = act(z)
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>
#include <vector>

#include "bindings/common.h"
#include "kernels/conv/conv.h"

namespace pyk::bind {
namespace {

std::string err(const char* fn, const std::string& msg) { return std::string(fn) + ": " + msg; }

// An int or a sequence of n ints, each >= 1.
std::vector<int64_t> int_tuple(const py::object& v, size_t n, const char* fn, const char* arg) {
  std::vector<int64_t> out;
  if (py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v)) {
    out.assign(n, v.cast<int64_t>());
  } else if (py::isinstance<py::sequence>(v) && !py::isinstance<py::str>(v)) {
    for (auto item : v.cast<py::sequence>()) {
      if (!py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item)) {
        throw py::type_error(err(fn, std::string("'") + arg + "' must hold ints, got " + std::string(py::repr(v))));
      }
      out.push_back(item.cast<int64_t>());
    }
    if (out.size() != n) {
      throw py::value_error(err(fn, std::string("'") + arg + "' must have " + std::to_string(n) +
                                        " values for a " + std::to_string(n) + "-d convolution, got " +
                                        std::string(py::repr(v))));
    }
  } else {
    throw py::type_error(err(fn, std::string("'") + arg + "' must be an int or a sequence of ints, got " +
                                     std::string(py::repr(v))));
  }
  for (int64_t x : out) {
    if (x < 1) {
      throw py::value_error(err(fn, std::string("'") + arg + "' must be positive, got " + std::string(py::repr(v))));
    }
  }
  return out;
}

// Padding spec: a keyword or explicit (before, after) pairs.
struct Padding {
  std::string kind;  // "valid", "same", "causal" or "explicit"
  std::vector<std::pair<int64_t, int64_t>> pairs;
};

Padding parse_padding(const py::object& p, size_t n, const char* fn, bool transposed) {
  Padding out;
  if (py::isinstance<py::str>(p)) {
    std::string k = p.cast<std::string>();
    for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool ok = k == "valid" || k == "same" || (!transposed && k == "causal" && n == 1);
    if (!ok) {
      throw py::value_error(err(fn, "padding must be " +
                                        std::string(transposed ? "'valid' or 'same'"
                                                               : (n == 1 ? "'valid', 'same', 'causal' or N (before, after) pairs"
                                                                         : "'valid', 'same' or N (before, after) pairs")) +
                                        ", got " + std::string(py::repr(p))));
    }
    out.kind = k;
    return out;
  }
  if (transposed || !py::isinstance<py::sequence>(p)) {
    throw py::value_error(err(fn, "padding must be a string" + std::string(transposed ? "" : " or N (before, after) pairs") +
                                      ", got " + std::string(py::repr(p))));
  }
  out.kind = "explicit";
  for (auto item : p.cast<py::sequence>()) {
    std::vector<int64_t> pair;
    if (py::isinstance<py::sequence>(item) && !py::isinstance<py::str>(item)) {
      for (auto v : item.cast<py::sequence>()) {
        if (!py::isinstance<py::int_>(v)) pair.clear();
        else pair.push_back(v.cast<int64_t>());
      }
    }
    if (pair.size() != 2 || pair[0] < 0 || pair[1] < 0) {
      throw py::value_error(err(fn, "explicit padding must be N (before, after) pairs of non-negative ints, got " +
                                        std::string(py::repr(p))));
    }
    out.pairs.emplace_back(pair[0], pair[1]);
  }
  if (out.pairs.size() != n) {
    throw py::value_error(err(fn, "explicit padding needs " + std::to_string(n) + " (before, after) pairs, got " +
                                      std::string(py::repr(p))));
  }
  return out;
}

// Spatial sizes of one convolution (N dims), with the padding before each dimension.
struct Geometry {
  Shape in, k, stride, dil, out, pad;
};

Geometry conv_geometry(const Shape& in, const Shape& k, const Shape& stride, const Shape& dil, const Padding& pad,
                       const char* fn, const std::string& shapes) {
  Geometry g{in, k, stride, dil, Shape(in.size()), Shape(in.size())};
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] < 1) throw py::value_error(err(fn, "spatial sizes must be positive: " + shapes));
    if (k[i] < 1) throw py::value_error(err(fn, "kernel sizes must be positive: " + shapes));
    const int64_t keff = (k[i] - 1) * dil[i] + 1;
    int64_t before = 0, total = in[i];
    if (pad.kind == "same") {
      const int64_t o = (in[i] + stride[i] - 1) / stride[i];
      const int64_t pt = std::max<int64_t>((o - 1) * stride[i] + keff - in[i], 0);
      before = pt / 2;
      total = in[i] + pt;
    } else if (pad.kind == "causal") {
      before = keff - 1;
      total = in[i] + keff - 1;
    } else if (pad.kind == "explicit") {
      before = pad.pairs[i].first;
      total = in[i] + pad.pairs[i].first + pad.pairs[i].second;
    }
    if (total < keff) {
      throw py::value_error(err(fn, "the kernel (dilated size " + std::to_string(keff) + " in spatial dimension " +
                                        std::to_string(i) + ") is larger than the padded input (" +
                                        std::to_string(total) + "): " + shapes));
    }
    g.out[i] = (total - keff) / stride[i] + 1;
    g.pad[i] = before;
  }
  return g;
}

// The kernel-level problem: the N spatial dimensions are the last N of three.
conv::Shape to_shape(int64_t batch, const Geometry& g, int64_t cin, int64_t cout, int64_t groups) {
  conv::Shape s;
  const size_t n = g.in.size(), lead = 3 - n;
  s.batch = batch;
  for (size_t i = 0; i < n; ++i) {
    s.in[lead + i] = g.in[i];
    s.out[lead + i] = g.out[i];
    s.k[lead + i] = g.k[i];
    s.stride[lead + i] = g.stride[i];
    s.dilation[lead + i] = g.dil[i];
    s.pad[lead + i] = g.pad[i];
  }
  s.cin = cin;
  s.cout = cout;
  s.groups = groups;
  return s;
}

Shape slice(const Shape& v, size_t b, size_t e) { return Shape(v.begin() + b, v.begin() + e); }

void require_rank(const py::array& a, const char* fn, const char* arg) {
  if (a.ndim() < 3 || a.ndim() > 5) {
    throw py::value_error(err(fn, std::string("'") + arg + "' must have rank 3, 4 or 5 (batch, *spatial, channels), got shape " +
                                      shape_str(shape_of(a))));
  }
}

void require_positive(const Shape& v, const char* fn, const char* what) {
  for (int64_t x : v) {
    if (x < 1) throw py::value_error(err(fn, std::string(what) + " must have positive sizes, got " + shape_str(v)));
  }
}

Activation activation_arg(int code, const char* fn) {
  if (code < 0 || code >= kNumActivations) {
    throw py::value_error(err(fn, "unknown activation code " + std::to_string(code)));
  }
  return static_cast<Activation>(code);
}

const float* optional_vector(const py::object& obj, int64_t n, const char* fn, const char* arg, py::array* keep) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<py::array>(obj)) throw py::type_error(err(fn, std::string("'") + arg + "' must be a numpy array or None"));
  *keep = py::reinterpret_borrow<py::array>(obj);
  require_f32(*keep, fn, arg);
  require_shape(*keep, {n}, fn, arg);
  return in_ptr(*keep);
}

py::array as_f32(const py::object& obj, const char* fn, const char* arg) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error(err(fn, std::string("'") + arg + "' must be a numpy array"));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  require_f32(a, fn, arg);
  return a;
}

Shape shape_arg(const py::object& obj, const char* fn, const char* arg) {
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj)) {
    throw py::type_error(err(fn, std::string("'") + arg + "' must be a sequence of ints, got " + std::string(py::repr(obj))));
  }
  Shape out;
  for (auto v : obj.cast<py::sequence>()) {
    if (!py::isinstance<py::int_>(v)) {
      throw py::type_error(err(fn, std::string("'") + arg + "' must be a sequence of ints, got " + std::string(py::repr(obj))));
    }
    out.push_back(v.cast<int64_t>());
  }
  return out;
}

// Kernels read their inputs while writing outputs: an output overlapping an input would corrupt
// the result, so it is refused.
void require_disjoint(const py::array& out, const py::array& in, const char* fn, const char* in_name) {
  const char* o0 = static_cast<const char*>(out.data());
  const char* o1 = o0 + out.nbytes();
  const char* i0 = static_cast<const char*>(in.data());
  const char* i1 = i0 + in.nbytes();
  if (out.nbytes() > 0 && in.nbytes() > 0 && o0 < i1 && i0 < o1) {
    throw py::value_error(err(fn, std::string("'out' must not overlap '") + in_name + "'"));
  }
}

py::tuple to_tuple(const Shape& v) {
  py::tuple t(v.size());
  for (size_t i = 0; i < v.size(); ++i) t[i] = v[i];
  return t;
}

// ------------------------------------------------------------------------------ dense problems
// A dense (or grouped) convolution described by the input shape and the kernel shape.
struct Problem {
  conv::Shape s;
  Shape x_shape, y_shape, k_shape;
};

Problem dense_problem(const Shape& x_shape, const Shape& k_shape, const py::object& strides, const py::object& padding,
                      const py::object& dilation, int64_t groups, const char* fn) {
  const std::string shapes = "input shape " + shape_str(x_shape) + ", kernel shape " + shape_str(k_shape);
  if (x_shape.size() < 3 || x_shape.size() > 5) {
    throw py::value_error(err(fn, "the input must have rank 3, 4 or 5 (batch, *spatial, channels), got " + shape_str(x_shape)));
  }
  if (k_shape.size() != x_shape.size()) {
    throw py::value_error(err(fn, "the kernel must have rank " + std::to_string(x_shape.size()) +
                                      " (*kernel_size, in_channels // groups, out_channels): " + shapes));
  }
  require_positive(x_shape, fn, "the input");
  require_positive(k_shape, fn, "the kernel");
  const size_t n = x_shape.size() - 2;
  if (groups < 1) throw py::value_error(err(fn, "groups must be positive, got " + std::to_string(groups)));
  const int64_t cin = x_shape.back(), kin = k_shape[n], cout = k_shape[n + 1];
  if (kin * groups != cin) {
    throw py::value_error(err(fn, "input channels (" + std::to_string(cin) + ") must equal the kernel's input channels (" +
                                      std::to_string(kin) + ") times groups (" + std::to_string(groups) + "): " + shapes));
  }
  if (cout % groups != 0) {
    throw py::value_error(err(fn, "output channels (" + std::to_string(cout) + ") must be divisible by groups (" +
                                      std::to_string(groups) + "): " + shapes));
  }
  const Geometry g = conv_geometry(slice(x_shape, 1, n + 1), slice(k_shape, 0, n), int_tuple(strides, n, fn, "strides"),
                                   int_tuple(dilation, n, fn, "dilation"), parse_padding(padding, n, fn, false), fn, shapes);
  Problem p;
  p.s = to_shape(x_shape[0], g, cin, cout, groups);
  p.x_shape = x_shape;
  p.k_shape = k_shape;
  p.y_shape = {x_shape[0]};
  p.y_shape.insert(p.y_shape.end(), g.out.begin(), g.out.end());
  p.y_shape.push_back(cout);
  return p;
}

// Depthwise kernel (*k, C, M) seen as the grouped kernel (*k, 1, C * M).
Problem depthwise_problem(const Shape& x_shape, const Shape& k_shape, const py::object& strides,
                          const py::object& padding, const py::object& dilation, const char* fn) {
  if (k_shape.size() != x_shape.size()) {
    throw py::value_error(err(fn, "the depthwise kernel must have rank " + std::to_string(x_shape.size()) +
                                      " (*kernel_size, in_channels, depth_multiplier): input shape " + shape_str(x_shape) +
                                      ", kernel shape " + shape_str(k_shape)));
  }
  const size_t n = k_shape.size() - 2;
  if (!x_shape.empty() && k_shape[n] != x_shape.back()) {
    throw py::value_error(err(fn, "the depthwise kernel's channels (" + std::to_string(k_shape[n]) +
                                      ") must equal the input channels: input shape " + shape_str(x_shape) +
                                      ", kernel shape " + shape_str(k_shape)));
  }
  Shape grouped = k_shape;
  grouped[n] = 1;
  grouped[n + 1] = k_shape[n] * k_shape[n + 1];
  Problem p = dense_problem(x_shape, grouped, strides, padding, dilation, x_shape.back(), fn);
  p.k_shape = k_shape;
  return p;
}

struct Grads {
  py::object dx, dk, db;
};

// dz from dy and the activation (a new array), or dy itself for linear.
py::array pre_activation_grad(const py::array& dy, const py::object& y_obj, Activation act, float alpha, const char* fn) {
  if (act == Activation::linear) return dy;
  if (!conv::activation_backward_supported(act, alpha)) {
    throw py::value_error(err(fn, "the gradient of activation code " + std::to_string(static_cast<int>(act)) +
                                      " cannot be formed from its output; apply it separately"));
  }
  if (y_obj.is_none()) throw py::value_error(err(fn, "'y' (the forward output) is needed to differentiate the activation"));
  py::array y = as_f32(y_obj, fn, "y");
  require_shape(y, shape_of(dy), fn, "y");
  py::array dz = py::array_t<float>(shape_of(dy));
  {
    py::gil_scoped_release nogil;
    conv::table().activation_backward(in_ptr(y), in_ptr(dy), out_ptr(dz), dy.size(), act, alpha);
  }
  return dz;
}

py::object conv_forward_impl(const Problem& p, const py::array& x, const py::array& kernel, const py::object& bias_obj,
                             int activation, float act_alpha, const py::object& out, const char* fn) {
  require_shape(kernel, p.k_shape, fn, "kernel");
  py::array keep;
  const float* bias = optional_vector(bias_obj, p.s.cout, fn, "bias", &keep);
  const Activation act = activation_arg(activation, fn);
  py::array y = output(out, p.y_shape, fn);
  require_disjoint(y, x, fn, "x");
  require_disjoint(y, kernel, fn, "kernel");
  {
    py::gil_scoped_release nogil;
    conv::table().forward(p.s, in_ptr(x), in_ptr(kernel), bias, act, act_alpha, out_ptr(y));
  }
  return std::move(y);
}

py::array backward_data_impl(const Problem& p, const py::array& dy, const py::array& kernel, const py::object& out,
                             const char* fn) {
  require_shape(dy, p.y_shape, fn, "dy");
  py::array dx = output(out, p.x_shape, fn);
  require_disjoint(dx, dy, fn, "dy");
  require_disjoint(dx, kernel, fn, "kernel");
  {
    py::gil_scoped_release nogil;
    conv::table().backward_data(p.s, in_ptr(dy), in_ptr(kernel), nullptr, Activation::linear, 0.0f, out_ptr(dx));
  }
  return dx;
}

py::tuple backward_filter_impl(const Problem& p, const py::array& x, const py::array& dy, bool with_bias,
                               const py::object& out, const py::object& bias_out, const char* fn) {
  require_shape(dy, p.y_shape, fn, "dy");
  py::array dk = output(out, p.k_shape, fn);
  require_disjoint(dk, x, fn, "x");
  require_disjoint(dk, dy, fn, "dy");
  py::object db_obj = py::none();
  float* db = nullptr;
  if (with_bias) {
    py::array a = output(bias_out, {p.s.cout}, fn);
    require_disjoint(a, dy, fn, "dy");
    require_disjoint(a, dk, fn, "dkernel");
    db = out_ptr(a);
    db_obj = a;
  }
  {
    py::gil_scoped_release nogil;
    conv::table().backward_filter(p.s, in_ptr(x), in_ptr(dy), out_ptr(dk), db);
  }
  return py::make_tuple(dk, db_obj);
}

// The gradient outputs of a combined backward call: given arrays (checked) or new ones.
struct GradOuts {
  py::object dx_out = py::none(), dk_out = py::none(), db_out = py::none();
};

py::tuple backward_impl(const Problem& p, const py::array& x, const py::array& kernel, const py::array& dy_in,
                        const py::object& y, int activation, float act_alpha, bool with_bias, bool input_grad,
                        const GradOuts& outs, const char* fn) {
  require_shape(kernel, p.k_shape, fn, "kernel");
  require_shape(dy_in, p.y_shape, fn, "dy");
  const Activation act = activation_arg(activation, fn);
  py::array dz = pre_activation_grad(dy_in, y, act, act_alpha, fn);
  py::object dx = py::none(), db = py::none();
  py::array dx_arr, db_arr;
  py::array dk = output(outs.dk_out, p.k_shape, fn);
  for (const py::array* in : std::initializer_list<const py::array*>{&x, &kernel, &dz}) require_disjoint(dk, *in, fn, "an input");
  if (input_grad) {
    dx_arr = output(outs.dx_out, p.x_shape, fn);
    for (const py::array* in : std::initializer_list<const py::array*>{&x, &kernel, &dz, &dk}) require_disjoint(dx_arr, *in, fn, "an input or dkernel");
    dx = dx_arr;
  }
  if (with_bias) {
    db_arr = output(outs.db_out, Shape{p.s.cout}, fn);
    require_disjoint(db_arr, dz, fn, "dy");
    require_disjoint(db_arr, dk, fn, "dkernel");
    if (input_grad) require_disjoint(db_arr, dx_arr, fn, "dx");
    db = db_arr;
  }
  {
    py::gil_scoped_release nogil;
    conv::table().backward(p.s, in_ptr(x), in_ptr(kernel), in_ptr(dz), input_grad ? out_ptr(dx_arr) : nullptr,
                           out_ptr(dk), with_bias ? out_ptr(db_arr) : nullptr);
  }
  return py::make_tuple(dx, dk, db);
}

Problem dense_from_arrays(const py::array& x, const py::array& kernel, const py::object& strides,
                          const py::object& padding, const py::object& dilation, int64_t groups, const char* fn) {
  require_rank(x, fn, "x");
  return dense_problem(shape_of(x), shape_of(kernel), strides, padding, dilation, groups, fn);
}

// ------------------------------------------------------------------------------ separable
struct SepProblem {
  Problem dw;
  int64_t pw_out;
  Shape pw_shape, y_shape;
};

SepProblem separable_problem(const py::array& x, const py::array& dk, const py::array& pk, const py::object& strides,
                             const py::object& padding, const py::object& dilation, const char* fn) {
  require_rank(x, fn, "x");
  SepProblem sp{depthwise_problem(shape_of(x), shape_of(dk), strides, padding, dilation, fn), 0, shape_of(pk), {}};
  const size_t n = x.ndim() - 2;
  const int64_t cm = sp.dw.s.cout;
  bool ok = (pk.ndim() == 2 || static_cast<size_t>(pk.ndim()) == n + 2) && pk.shape(pk.ndim() - 2) == cm;
  for (int i = 0; ok && i + 2 < pk.ndim(); ++i) ok = pk.shape(i) == 1;
  if (!ok || pk.shape(pk.ndim() - 1) < 1) {
    throw py::value_error(err(fn, "the pointwise kernel must have shape (" + std::string(n == 1 ? "1, " : n == 2 ? "1, 1, " : "1, 1, 1, ") +
                                      std::to_string(cm) + ", filters) or (" + std::to_string(cm) +
                                      ", filters) for input channels x depth_multiplier = " + std::to_string(cm) + ", got " +
                                      shape_str(shape_of(pk))));
  }
  sp.pw_out = pk.shape(pk.ndim() - 1);
  sp.y_shape = sp.dw.y_shape;
  sp.y_shape.back() = sp.pw_out;
  return sp;
}

// ------------------------------------------------------------------------------ transposed
// A transposed convolution is the backward-data pass of the forward convolution whose input is
// the transposed output: in = transposed output, out = x, cin = kernel out channels.
Problem transpose_problem(const Shape& x_shape, const Shape& k_shape, const py::object& strides,
                          const py::object& padding, const py::object& output_padding, const py::object& dilation,
                          const char* fn) {
  const std::string shapes = "input shape " + shape_str(x_shape) + ", kernel shape " + shape_str(k_shape);
  if (x_shape.size() < 3 || x_shape.size() > 5) {
    throw py::value_error(err(fn, "the input must have rank 3, 4 or 5 (batch, *spatial, channels), got " + shape_str(x_shape)));
  }
  if (k_shape.size() != x_shape.size()) {
    throw py::value_error(err(fn, "the kernel must have rank " + std::to_string(x_shape.size()) +
                                      " (*kernel_size, out_channels, in_channels): " + shapes));
  }
  require_positive(x_shape, fn, "the input");
  require_positive(k_shape, fn, "the kernel");
  const size_t n = x_shape.size() - 2;
  if (k_shape[n + 1] != x_shape.back()) {
    throw py::value_error(err(fn, "the kernel's input channels (last axis, " + std::to_string(k_shape[n + 1]) +
                                      ") must equal the input channels: " + shapes));
  }
  const Shape st = int_tuple(strides, n, fn, "strides"), dil = int_tuple(dilation, n, fn, "dilation");
  const Padding pad = parse_padding(padding, n, fn, true);
  Shape op;
  if (!output_padding.is_none()) {
    if (py::isinstance<py::int_>(output_padding)) {
      op.assign(n, output_padding.cast<int64_t>());
    } else {
      op = shape_arg(output_padding, fn, "output_padding");
    }
    if (op.size() != n) throw py::value_error(err(fn, "output_padding must have " + std::to_string(n) + " values"));
    for (int64_t v : op) {
      if (v < 0) throw py::value_error(err(fn, "output_padding must be non-negative, got " + std::string(py::repr(output_padding))));
    }
  }
  Geometry g;
  g.out = slice(x_shape, 1, n + 1);  // the forward convolution's output is x
  g.k = slice(k_shape, 0, n);
  g.stride = st;
  g.dil = dil;
  g.in.resize(n);
  g.pad.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t keff = (g.k[i] - 1) * dil[i] + 1, s = st[i], in = g.out[i];
    int64_t len, left;
    if (pad.kind == "valid") {
      const int64_t o = op.empty() ? std::max(keff, s) - keff : op[i];
      len = (in - 1) * s + keff + o;
      left = keff - 1;
    } else {
      const int64_t pad_len = op.empty() ? s + keff - 2 : keff + keff % 2 - 2 + op[i];
      len = op.empty() ? in * s : (in - 1) * s + keff % 2 + op[i];
      left = std::min(pad_len / 2 + pad_len % 2, keff - 1);
    }
    if (len < 1) {
      throw py::value_error(err(fn, "the output would be empty in spatial dimension " + std::to_string(i) + ": " + shapes));
    }
    g.in[i] = len;
    g.pad[i] = keff - 1 - left;
  }
  Problem p;
  p.s = to_shape(x_shape[0], g, k_shape[n], k_shape[n + 1], 1);
  p.y_shape = {x_shape[0]};  // the transposed output (the forward convolution's input)
  p.y_shape.insert(p.y_shape.end(), g.in.begin(), g.in.end());
  p.y_shape.push_back(k_shape[n]);
  p.x_shape = x_shape;
  p.k_shape = k_shape;
  return p;
}

}  // namespace

void bind_conv(py::module_& m) {
  m.doc() = "Convolutions on channels_last float32 arrays with Keras kernel layouts (see csrc/bindings/conv.cpp).";

  m.def("conv_output_shape", [](const py::object& input_shape, const py::object& kernel_shape, const py::object& strides,
                                const py::object& padding, const py::object& dilation, int64_t groups) {
    const char* fn = "conv_output_shape";
    const Problem p = dense_problem(shape_arg(input_shape, fn, "input_shape"), shape_arg(kernel_shape, fn, "kernel_shape"),
                                    strides, padding, dilation, groups, fn);
    return to_tuple(p.y_shape);
  }, py::arg("input_shape"), py::arg("kernel_shape"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("groups") = 1,
     "Output shape of conv_forward for an input shape and a Keras kernel shape.");

  m.def("conv_forward", [](const py::object& x_obj, const py::object& k_obj, const py::object& bias, const py::object& strides,
                           const py::object& padding, const py::object& dilation, int64_t groups, int activation,
                           float act_alpha, const py::object& out) {
    const char* fn = "conv_forward";
    py::array x = as_f32(x_obj, fn, "x"), kernel = as_f32(k_obj, fn, "kernel");
    const Problem p = dense_from_arrays(x, kernel, strides, padding, dilation, groups, fn);
    return conv_forward_impl(p, x, kernel, bias, activation, act_alpha, out, fn);
  }, py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("activation") = 0, py::arg("act_alpha") = 0.0f,
     py::arg("out") = py::none(),
     "y = act(conv(x, kernel) + bias). x (batch, *spatial, in), kernel (*k, in // groups, out).");

  m.def("conv_backward_data", [](const py::object& dy_obj, const py::object& k_obj, const py::object& input_shape,
                                 const py::object& strides, const py::object& padding, const py::object& dilation,
                                 int64_t groups, const py::object& out) {
    const char* fn = "conv_backward_data";
    py::array dy = as_f32(dy_obj, fn, "dy"), kernel = as_f32(k_obj, fn, "kernel");
    const Problem p = dense_problem(shape_arg(input_shape, fn, "input_shape"), shape_of(kernel), strides, padding,
                                    dilation, groups, fn);
    return backward_data_impl(p, dy, kernel, out, fn);
  }, py::arg("dy"), py::arg("kernel"), py::arg("input_shape"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("out") = py::none(),
     "Gradient of conv_forward (before its activation) with respect to x.");

  m.def("conv_backward_filter", [](const py::object& x_obj, const py::object& dy_obj, const py::object& kernel_size,
                                   const py::object& strides, const py::object& padding, const py::object& dilation,
                                   int64_t groups, bool bias, const py::object& out, const py::object& bias_out) {
    const char* fn = "conv_backward_filter";
    py::array x = as_f32(x_obj, fn, "x"), dy = as_f32(dy_obj, fn, "dy");
    require_rank(x, fn, "x");
    require_rank(dy, fn, "dy");
    const size_t n = x.ndim() - 2;
    if (groups < 1) throw py::value_error(err(fn, "groups must be positive, got " + std::to_string(groups)));
    Shape k = int_tuple(kernel_size, n, fn, "kernel_size");
    k.push_back(x.shape(x.ndim() - 1) / groups);
    k.push_back(dy.shape(dy.ndim() - 1));
    if (x.shape(x.ndim() - 1) % groups != 0) {
      throw py::value_error(err(fn, "input channels must be divisible by groups: x shape " + shape_str(shape_of(x)) +
                                        ", groups " + std::to_string(groups)));
    }
    const Problem p = dense_problem(shape_of(x), k, strides, padding, dilation, groups, fn);
    return backward_filter_impl(p, x, dy, bias, out, bias_out, fn);
  }, py::arg("x"), py::arg("dy"), py::arg("kernel_size"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("bias") = true, py::arg("out") = py::none(),
     py::arg("bias_out") = py::none(),
     "(dkernel, dbias or None): gradients of conv_forward (before its activation) for the kernel and bias.");

  m.def("conv_backward", [](const py::object& x_obj, const py::object& k_obj, const py::object& dy_obj,
                            const py::object& strides, const py::object& padding, const py::object& dilation, int64_t groups,
                            const py::object& y, int activation, float act_alpha, bool bias, bool input_grad,
                            const py::object& dx_out, const py::object& dkernel_out, const py::object& dbias_out) {
    const char* fn = "conv_backward";
    py::array x = as_f32(x_obj, fn, "x"), kernel = as_f32(k_obj, fn, "kernel"), dy = as_f32(dy_obj, fn, "dy");
    const Problem p = dense_from_arrays(x, kernel, strides, padding, dilation, groups, fn);
    return backward_impl(p, x, kernel, dy, y, activation, act_alpha, bias, input_grad, {dx_out, dkernel_out, dbias_out},
                         fn);
  }, py::arg("x"), py::arg("kernel"), py::arg("dy"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("groups") = 1, py::arg("y") = py::none(), py::arg("activation") = 0,
     py::arg("act_alpha") = 0.0f, py::arg("bias") = true, py::arg("input_grad") = true, py::arg("dx_out") = py::none(),
     py::arg("dkernel_out") = py::none(), py::arg("dbias_out") = py::none(),
     "(dx or None, dkernel, dbias or None) for y = act(conv(x, kernel) + bias), given dy = dL/dy.");

  // ---------------------------------------------------------------- depthwise
  m.def("depthwise_forward", [](const py::object& x_obj, const py::object& k_obj, const py::object& bias,
                                const py::object& strides, const py::object& padding, const py::object& dilation,
                                int activation, float act_alpha, const py::object& out) {
    const char* fn = "depthwise_forward";
    py::array x = as_f32(x_obj, fn, "x"), kernel = as_f32(k_obj, fn, "kernel");
    require_rank(x, fn, "x");
    const Problem p = depthwise_problem(shape_of(x), shape_of(kernel), strides, padding, dilation, fn);
    return conv_forward_impl(p, x, kernel, bias, activation, act_alpha, out, fn);
  }, py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("activation") = 0, py::arg("act_alpha") = 0.0f, py::arg("out") = py::none(),
     "Depthwise convolution; kernel (*k, in, depth_multiplier), output channel c * multiplier + m.");

  m.def("depthwise_backward_data", [](const py::object& dy_obj, const py::object& k_obj, const py::object& input_shape,
                                      const py::object& strides, const py::object& padding, const py::object& dilation,
                                      const py::object& out) {
    const char* fn = "depthwise_backward_data";
    py::array dy = as_f32(dy_obj, fn, "dy"), kernel = as_f32(k_obj, fn, "kernel");
    const Problem p = depthwise_problem(shape_arg(input_shape, fn, "input_shape"), shape_of(kernel), strides, padding,
                                        dilation, fn);
    return backward_data_impl(p, dy, kernel, out, fn);
  }, py::arg("dy"), py::arg("kernel"), py::arg("input_shape"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("out") = py::none());

  m.def("depthwise_backward_filter", [](const py::object& x_obj, const py::object& dy_obj, const py::object& kernel_size,
                                        const py::object& strides, const py::object& padding, const py::object& dilation,
                                        bool bias, const py::object& out, const py::object& bias_out) {
    const char* fn = "depthwise_backward_filter";
    py::array x = as_f32(x_obj, fn, "x"), dy = as_f32(dy_obj, fn, "dy");
    require_rank(x, fn, "x");
    require_rank(dy, fn, "dy");
    const size_t n = x.ndim() - 2;
    const int64_t c = x.shape(x.ndim() - 1), cm = dy.shape(dy.ndim() - 1);
    if (c < 1 || cm % c != 0) {
      throw py::value_error(err(fn, "dy's channels must be a multiple of x's: x shape " + shape_str(shape_of(x)) +
                                        ", dy shape " + shape_str(shape_of(dy))));
    }
    Shape k = int_tuple(kernel_size, n, fn, "kernel_size");
    k.push_back(c);
    k.push_back(cm / c);
    const Problem p = depthwise_problem(shape_of(x), k, strides, padding, dilation, fn);
    return backward_filter_impl(p, x, dy, bias, out, bias_out, fn);
  }, py::arg("x"), py::arg("dy"), py::arg("kernel_size"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("bias") = true, py::arg("out") = py::none(), py::arg("bias_out") = py::none());

  m.def("depthwise_backward", [](const py::object& x_obj, const py::object& k_obj, const py::object& dy_obj,
                                 const py::object& strides, const py::object& padding, const py::object& dilation,
                                 const py::object& y, int activation, float act_alpha, bool bias, bool input_grad,
                                 const py::object& dx_out, const py::object& dkernel_out, const py::object& dbias_out) {
    const char* fn = "depthwise_backward";
    py::array x = as_f32(x_obj, fn, "x"), kernel = as_f32(k_obj, fn, "kernel"), dy = as_f32(dy_obj, fn, "dy");
    require_rank(x, fn, "x");
    const Problem p = depthwise_problem(shape_of(x), shape_of(kernel), strides, padding, dilation, fn);
    return backward_impl(p, x, kernel, dy, y, activation, act_alpha, bias, input_grad, {dx_out, dkernel_out, dbias_out},
                         fn);
  }, py::arg("x"), py::arg("kernel"), py::arg("dy"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("dilation") = 1, py::arg("y") = py::none(), py::arg("activation") = 0, py::arg("act_alpha") = 0.0f,
     py::arg("bias") = true, py::arg("input_grad") = true, py::arg("dx_out") = py::none(),
     py::arg("dkernel_out") = py::none(), py::arg("dbias_out") = py::none());

  // ---------------------------------------------------------------- separable
  m.def("separable_forward", [](const py::object& x_obj, const py::object& dk_obj, const py::object& pk_obj,
                                const py::object& bias_obj, const py::object& strides, const py::object& padding,
                                const py::object& dilation, int activation, float act_alpha, const py::object& out) {
    const char* fn = "separable_forward";
    py::array x = as_f32(x_obj, fn, "x"), dk = as_f32(dk_obj, fn, "depthwise_kernel"),
              pk = as_f32(pk_obj, fn, "pointwise_kernel");
    const SepProblem sp = separable_problem(x, dk, pk, strides, padding, dilation, fn);
    py::array keep;
    const float* bias = optional_vector(bias_obj, sp.pw_out, fn, "bias", &keep);
    const Activation act = activation_arg(activation, fn);
    py::array y = output(out, sp.y_shape, fn);
    require_disjoint(y, x, fn, "x");
    {
      py::gil_scoped_release nogil;
      conv::table().separable_forward(sp.dw.s, sp.pw_out, in_ptr(x), in_ptr(dk), in_ptr(pk), bias, act, act_alpha,
                                      out_ptr(y));
    }
    return y;
  }, py::arg("x"), py::arg("depthwise_kernel"), py::arg("pointwise_kernel"), py::arg("bias") = py::none(),
     py::arg("strides") = 1, py::arg("padding") = "valid", py::arg("dilation") = 1, py::arg("activation") = 0,
     py::arg("act_alpha") = 0.0f, py::arg("out") = py::none(),
     "y = act(pointwise(depthwise(x)) + bias), the depthwise intermediate never stored.");

  m.def("separable_backward", [](const py::object& x_obj, const py::object& dk_obj, const py::object& pk_obj,
                                 const py::object& dy_obj, const py::object& strides, const py::object& padding,
                                 const py::object& dilation, const py::object& y, int activation, float act_alpha,
                                 bool bias, bool input_grad) {
    const char* fn = "separable_backward";
    py::array x = as_f32(x_obj, fn, "x"), dk = as_f32(dk_obj, fn, "depthwise_kernel"),
              pk = as_f32(pk_obj, fn, "pointwise_kernel"), dy_in = as_f32(dy_obj, fn, "dy");
    const SepProblem sp = separable_problem(x, dk, pk, strides, padding, dilation, fn);
    require_shape(dy_in, sp.y_shape, fn, "dy");
    py::array dz = pre_activation_grad(dy_in, y, activation_arg(activation, fn), act_alpha, fn);
    py::array ddk = py::array_t<float>(shape_of(dk)), dpk = py::array_t<float>(shape_of(pk));
    py::object dx = py::none(), db = py::none();
    float *dx_ptr = nullptr, *db_ptr = nullptr;
    if (input_grad) {
      py::array a = py::array_t<float>(shape_of(x));
      dx_ptr = out_ptr(a);
      dx = a;
    }
    if (bias) {
      py::array a = py::array_t<float>(Shape{sp.pw_out});
      db_ptr = out_ptr(a);
      db = a;
    }
    {
      py::gil_scoped_release nogil;
      conv::table().separable_backward(sp.dw.s, sp.pw_out, in_ptr(x), in_ptr(dk), in_ptr(pk), in_ptr(dz), dx_ptr,
                                       out_ptr(ddk), out_ptr(dpk), db_ptr);
    }
    return py::make_tuple(dx, ddk, dpk, db);
  }, py::arg("x"), py::arg("depthwise_kernel"), py::arg("pointwise_kernel"), py::arg("dy"), py::arg("strides") = 1,
     py::arg("padding") = "valid", py::arg("dilation") = 1, py::arg("y") = py::none(), py::arg("activation") = 0,
     py::arg("act_alpha") = 0.0f, py::arg("bias") = true, py::arg("input_grad") = true,
     "(dx or None, d_depthwise_kernel, d_pointwise_kernel, dbias or None).");

  // ---------------------------------------------------------------- transposed
  m.def("conv_transpose_output_shape", [](const py::object& input_shape, const py::object& kernel_shape,
                                          const py::object& strides, const py::object& padding,
                                          const py::object& output_padding, const py::object& dilation) {
    const char* fn = "conv_transpose_output_shape";
    const Problem p = transpose_problem(shape_arg(input_shape, fn, "input_shape"), shape_arg(kernel_shape, fn, "kernel_shape"),
                                        strides, padding, output_padding, dilation, fn);
    return to_tuple(p.y_shape);
  }, py::arg("input_shape"), py::arg("kernel_shape"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("output_padding") = py::none(), py::arg("dilation") = 1);

  m.def("conv_transpose_forward", [](const py::object& x_obj, const py::object& k_obj, const py::object& bias_obj,
                                     const py::object& strides, const py::object& padding, const py::object& output_padding,
                                     const py::object& dilation, int activation, float act_alpha, const py::object& out) {
    const char* fn = "conv_transpose_forward";
    py::array x = as_f32(x_obj, fn, "x"), kernel = as_f32(k_obj, fn, "kernel");
    require_rank(x, fn, "x");
    const Problem p = transpose_problem(shape_of(x), shape_of(kernel), strides, padding, output_padding, dilation, fn);
    py::array keep;
    const float* bias = optional_vector(bias_obj, p.s.cin, fn, "bias", &keep);
    const Activation act = activation_arg(activation, fn);
    py::array y = output(out, p.y_shape, fn);
    require_disjoint(y, x, fn, "x");
    require_disjoint(y, kernel, fn, "kernel");
    {
      py::gil_scoped_release nogil;
      conv::table().backward_data(p.s, in_ptr(x), in_ptr(kernel), bias, act, act_alpha, out_ptr(y));
    }
    return y;
  }, py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("output_padding") = py::none(), py::arg("dilation") = 1, py::arg("activation") = 0,
     py::arg("act_alpha") = 0.0f, py::arg("out") = py::none(),
     "Keras Conv*Transpose: kernel (*k, out, in), output shape as conv_transpose_output_shape.");

  m.def("conv_transpose_backward", [](const py::object& x_obj, const py::object& k_obj, const py::object& dy_obj,
                                      const py::object& strides, const py::object& padding, const py::object& output_padding,
                                      const py::object& dilation, const py::object& y, int activation, float act_alpha,
                                      bool bias, bool input_grad) {
    const char* fn = "conv_transpose_backward";
    py::array x = as_f32(x_obj, fn, "x"), kernel = as_f32(k_obj, fn, "kernel"), dy_in = as_f32(dy_obj, fn, "dy");
    require_rank(x, fn, "x");
    const Problem p = transpose_problem(shape_of(x), shape_of(kernel), strides, padding, output_padding, dilation, fn);
    require_shape(dy_in, p.y_shape, fn, "dy");
    py::array dz = pre_activation_grad(dy_in, y, activation_arg(activation, fn), act_alpha, fn);
    py::array dk = py::array_t<float>(p.k_shape);
    py::object dx = py::none(), db = py::none();
    py::array dx_arr, db_arr;
    if (input_grad) {
      dx_arr = py::array_t<float>(p.x_shape);
      dx = dx_arr;
    }
    if (bias) {
      db_arr = py::array_t<float>(Shape{p.s.cin});
      db = db_arr;
    }
    {
      py::gil_scoped_release nogil;
      // x is the forward convolution's output side, dz its input side.
      if (input_grad) conv::table().forward(p.s, in_ptr(dz), in_ptr(kernel), nullptr, Activation::linear, 0.0f, out_ptr(dx_arr));
      conv::table().backward_filter(p.s, in_ptr(dz), in_ptr(x), out_ptr(dk), nullptr);
      if (bias) conv::table().bias_backward(in_ptr(dz), dz.size() / p.s.cin, p.s.cin, out_ptr(db_arr));
    }
    return py::make_tuple(dx, dk, db);
  }, py::arg("x"), py::arg("kernel"), py::arg("dy"), py::arg("strides") = 1, py::arg("padding") = "valid",
     py::arg("output_padding") = py::none(), py::arg("dilation") = 1, py::arg("y") = py::none(), py::arg("activation") = 0,
     py::arg("act_alpha") = 0.0f, py::arg("bias") = true, py::arg("input_grad") = true,
     "(dx or None, dkernel, dbias or None) for y = act(conv_transpose(x, kernel) + bias).");

  m.def("activation_backward", [](const py::object& y_obj, const py::object& dy_obj, int activation, float act_alpha,
                                  const py::object& out) {
    const char* fn = "activation_backward";
    py::array y = as_f32(y_obj, fn, "y"), dy = as_f32(dy_obj, fn, "dy");
    require_shape(dy, shape_of(y), fn, "dy");
    const Activation act = activation_arg(activation, fn);
    if (!conv::activation_backward_supported(act, act_alpha)) {
      throw py::value_error(err(fn, "the gradient of activation code " + std::to_string(activation) +
                                        " cannot be formed from its output"));
    }
    py::array dz = output(out, shape_of(y), fn);
    {
      py::gil_scoped_release nogil;
      conv::table().activation_backward(in_ptr(y), in_ptr(dy), out_ptr(dz), y.size(), act, act_alpha);
    }
    return dz;
  }, py::arg("y"), py::arg("dy"), py::arg("activation"), py::arg("act_alpha") = 0.0f, py::arg("out") = py::none(),
     "dz = dy * act'(z) computed from y = act(z).");
}

}  // namespace pyk::bind
