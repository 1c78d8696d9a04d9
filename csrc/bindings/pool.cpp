// Bindings of the pooling kernels (csrc/kernels/pool) as pykeras._core.pool.
//
// Tensors are channels-last float32, C-contiguous: (batch, steps, channels) for 1-D,
// (batch, rows, cols, channels) for 2-D, (batch, d1, d2, d3, channels) for 3-D; the rank of x
// picks the dimensionality. pool_size / strides are an int or one int per spatial dimension;
// strides=None means strides = pool_size; padding is 'valid' or 'same' with TensorFlow's
// arithmetic (same: out = ceil(in / stride), pad_before = pad_total // 2; average pooling divides
// by the number of real elements in each window).
//
//   output_shape(input_shape, pool_size, strides=None, padding='valid') -> tuple
//   max_pool(x, pool_size, strides=None, padding='valid', out=None) -> y
//   avg_pool(x, pool_size, strides=None, padding='valid', out=None) -> y
//   max_pool_backward(x, dy, pool_size, strides=None, padding='valid', out=None) -> dx
//   avg_pool_backward(dy, input_shape, pool_size, strides=None, padding='valid', out=None) -> dx
//   global_max_pool(x, keepdims=False, out=None) -> y      (batch, channels) or (batch, 1.., channels)
//   global_avg_pool(x, keepdims=False, out=None) -> y
//   global_max_pool_backward(x, dy, out=None) -> dx        dy with or without the kept dims
//   global_avg_pool_backward(dy, input_shape, out=None) -> dx
//
// Max-pooling gradients go to the first maximal element of each window in scan order
// (depth, row, column), per channel; the backward recomputes the maxima from x.
#include <algorithm>
#include <cctype>
#include <cstdint>

#include "bindings/common.h"
#include "kernels/pool/pool.h"

namespace pyk::bind {
namespace {

Shape int_tuple(const py::object& value, size_t rank, const char* fn, const char* arg) {
  Shape out;
  if (py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value)) {
    out.assign(rank, value.cast<int64_t>());
  } else if (py::isinstance<py::sequence>(value) && !py::isinstance<py::str>(value)) {
    for (const auto& item : value.cast<py::sequence>()) {
      if (!py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item)) {
        throw py::type_error(std::string(fn) + ": '" + arg + "' must be an int or a tuple of ints, got " +
                             std::string(py::repr(value)));
      }
      out.push_back(item.cast<int64_t>());
    }
  } else {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be an int or a tuple of ints, got " +
                         std::string(py::repr(value)));
  }
  if (out.size() != rank) {
    throw py::value_error(std::string(fn) + ": '" + arg + "' must have " + std::to_string(rank) +
                          " value(s) for this input rank, got " + std::string(py::repr(value)));
  }
  for (int64_t v : out) {
    if (v < 1) {
      throw py::value_error(std::string(fn) + ": '" + arg + "' values must be >= 1, got " +
                            std::string(py::repr(value)));
    }
  }
  return out;
}

bool parse_same(const std::string& padding, const char* fn) {
  std::string p = padding;
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (p == "same") return true;
  if (p == "valid") return false;
  throw py::value_error(std::string(fn) + ": padding must be 'valid' or 'same', got '" + padding + "'");
}

void require_pool_rank(const Shape& shape, const char* fn, const char* arg) {
  if (shape.size() < 3 || shape.size() > 5) {
    throw py::value_error(std::string(fn) + ": '" + arg +
                          "' must be 3-D (batch, steps, channels), 4-D (batch, rows, cols, channels) or 5-D, "
                          "got shape " + shape_str(shape));
  }
  for (int64_t d : shape) {
    if (d < 0) throw py::value_error(std::string(fn) + ": negative size in shape " + shape_str(shape));
  }
}

// Window geometry (the kernels' 3-D view) and the output shape for an input shape.
struct Geometry {
  pool::Window w;
  Shape out_shape;
};

Geometry geometry(const Shape& in_shape, const py::object& pool_size, const py::object& strides,
                  const std::string& padding, const char* fn) {
  require_pool_rank(in_shape, fn, "x");
  const size_t rank = in_shape.size() - 2;
  const Shape pool_v = int_tuple(pool_size, rank, fn, "pool_size");
  const Shape stride_v = strides.is_none() ? pool_v : int_tuple(strides, rank, fn, "strides");
  const bool same = parse_same(padding, fn);
  Geometry g;
  g.w.n = in_shape.front();
  g.w.c = in_shape.back();
  g.out_shape = {in_shape.front()};
  const size_t lead = 3 - rank;  // leading unit dimensions of the 3-D view
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = in_shape[1 + i], k = pool_v[i], s = stride_v[i];
    int64_t out = 0, pad = 0;
    if (same) {
      out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
      pad = total / 2;
    } else {
      if (in < k) {
        throw py::value_error(std::string(fn) + ": pool_size " + shape_str(pool_v) +
                              " is larger than the spatial dimensions of input shape " + shape_str(in_shape) +
                              " with padding='valid'");
      }
      out = (in - k) / s + 1;
    }
    g.w.in[lead + i] = in;
    g.w.out[lead + i] = out;
    g.w.pool[lead + i] = k;
    g.w.stride[lead + i] = s;
    g.w.pad[lead + i] = pad;
    g.out_shape.push_back(out);
  }
  g.out_shape.push_back(in_shape.back());
  return g;
}

// Pooling reads neighbourhoods, so an output may not overlap an input (unlike elementwise ops).
void require_disjoint(const py::array& out, const py::array& in, const char* fn, const char* arg) {
  const auto o = reinterpret_cast<uintptr_t>(out.data()), i = reinterpret_cast<uintptr_t>(in.data());
  if (out.nbytes() > 0 && in.nbytes() > 0 && o < i + static_cast<uintptr_t>(in.nbytes()) &&
      i < o + static_cast<uintptr_t>(out.nbytes())) {
    throw py::value_error(std::string(fn) + ": 'out' shares memory with '" + arg + "'");
  }
}

Shape shape_from_object(const py::object& obj, const char* fn, const char* arg) {
  Shape s;
  try {
    for (const auto& item : obj.cast<py::sequence>()) s.push_back(item.cast<int64_t>());
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a tuple of ints, got " + std::string(py::repr(obj)));
  }
  return s;
}

py::array pool_forward(bool is_max, const py::array& x, const py::object& pool_size, const py::object& strides,
                       const std::string& padding, const py::object& out) {
  const char* fn = is_max ? "max_pool" : "avg_pool";
  require_f32(x, fn, "x");
  const Geometry g = geometry(shape_of(x), pool_size, strides, padding, fn);
  py::array y = output(out, g.out_shape, fn);
  require_disjoint(y, x, fn, "x");
  {
    py::gil_scoped_release nogil;
    const auto& t = pool::table();
    (is_max ? t.max_forward : t.avg_forward)(g.w, in_ptr(x), out_ptr(y));
  }
  return y;
}

py::array max_pool_backward(const py::array& x, const py::array& dy, const py::object& pool_size,
                            const py::object& strides, const std::string& padding, const py::object& out) {
  const char* fn = "max_pool_backward";
  require_f32(x, fn, "x");
  require_f32(dy, fn, "dy");
  const Geometry g = geometry(shape_of(x), pool_size, strides, padding, fn);
  require_shape(dy, g.out_shape, fn, "dy");
  py::array dx = output(out, shape_of(x), fn);
  require_disjoint(dx, x, fn, "x");
  require_disjoint(dx, dy, fn, "dy");
  {
    py::gil_scoped_release nogil;
    pool::table().max_backward(g.w, in_ptr(x), in_ptr(dy), out_ptr(dx));
  }
  return dx;
}

py::array avg_pool_backward(const py::array& dy, const py::object& input_shape, const py::object& pool_size,
                            const py::object& strides, const std::string& padding, const py::object& out) {
  const char* fn = "avg_pool_backward";
  require_f32(dy, fn, "dy");
  const Shape in_shape = shape_from_object(input_shape, fn, "input_shape");
  const Geometry g = geometry(in_shape, pool_size, strides, padding, fn);
  require_shape(dy, g.out_shape, fn, "dy");
  py::array dx = output(out, in_shape, fn);
  require_disjoint(dx, dy, fn, "dy");
  {
    py::gil_scoped_release nogil;
    pool::table().avg_backward(g.w, in_ptr(dy), out_ptr(dx));
  }
  return dx;
}

// (batch, spatial..., channels) -> batch, product of spatial sizes, channels.
struct GlobalView {
  int64_t n, s, c;
  Shape reduced, kept;  // output shapes without / with keepdims
};

GlobalView global_view(const Shape& shape, const char* fn, const char* arg) {
  require_pool_rank(shape, fn, arg);
  GlobalView v{shape.front(), 1, shape.back(), {shape.front(), shape.back()}, {shape.front()}};
  for (size_t i = 1; i + 1 < shape.size(); ++i) {
    v.s *= shape[i];
    v.kept.push_back(1);
  }
  v.kept.push_back(shape.back());
  if (v.s == 0) {
    throw py::value_error(std::string(fn) + ": cannot pool over empty spatial dimensions, got shape " +
                          shape_str(shape));
  }
  return v;
}

py::array global_forward(bool is_max, const py::array& x, bool keepdims, const py::object& out) {
  const char* fn = is_max ? "global_max_pool" : "global_avg_pool";
  require_f32(x, fn, "x");
  const GlobalView v = global_view(shape_of(x), fn, "x");
  py::array y = output(out, keepdims ? v.kept : v.reduced, fn);
  require_disjoint(y, x, fn, "x");
  {
    py::gil_scoped_release nogil;
    const auto& t = pool::table();
    (is_max ? t.global_max_forward : t.global_avg_forward)(v.n, v.s, v.c, in_ptr(x), out_ptr(y));
  }
  return y;
}

void require_global_dy(const py::array& dy, const GlobalView& v, const char* fn) {
  const Shape got = shape_of(dy);
  if (got != v.reduced && got != v.kept) {
    throw py::value_error(std::string(fn) + ": 'dy' has shape " + shape_str(got) + ", expected " +
                          shape_str(v.reduced) + " or " + shape_str(v.kept));
  }
}

py::array global_max_backward(const py::array& x, const py::array& dy, const py::object& out) {
  const char* fn = "global_max_pool_backward";
  require_f32(x, fn, "x");
  require_f32(dy, fn, "dy");
  const GlobalView v = global_view(shape_of(x), fn, "x");
  require_global_dy(dy, v, fn);
  py::array dx = output(out, shape_of(x), fn);
  require_disjoint(dx, x, fn, "x");
  require_disjoint(dx, dy, fn, "dy");
  {
    py::gil_scoped_release nogil;
    pool::table().global_max_backward(v.n, v.s, v.c, in_ptr(x), in_ptr(dy), out_ptr(dx));
  }
  return dx;
}

py::array global_avg_backward(const py::array& dy, const py::object& input_shape, const py::object& out) {
  const char* fn = "global_avg_pool_backward";
  require_f32(dy, fn, "dy");
  const Shape in_shape = shape_from_object(input_shape, fn, "input_shape");
  const GlobalView v = global_view(in_shape, fn, "input_shape");
  require_global_dy(dy, v, fn);
  py::array dx = output(out, in_shape, fn);
  require_disjoint(dx, dy, fn, "dy");
  {
    py::gil_scoped_release nogil;
    pool::table().global_avg_backward(v.n, v.s, v.c, in_ptr(dy), out_ptr(dx));
  }
  return dx;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.doc() = "Max/average pooling (1-D, 2-D, 3-D, global) on channels-last float32 tensors, forward and backward.";
  m.def("output_shape", [](const py::object& input_shape, const py::object& pool_size, const py::object& strides,
                           const std::string& padding) {
    const Shape s = shape_from_object(input_shape, "output_shape", "input_shape");
    return py::tuple(py::cast(geometry(s, pool_size, strides, padding, "output_shape").out_shape));
  }, py::arg("input_shape"), py::arg("pool_size"), py::arg("strides") = py::none(), py::arg("padding") = "valid",
  "Output shape of max_pool/avg_pool for an input shape (Keras's arithmetic).");

  m.def("max_pool", [](const py::array& x, const py::object& pool_size, const py::object& strides,
                       const std::string& padding, const py::object& out) {
    return pool_forward(true, x, pool_size, strides, padding, out);
  }, py::arg("x"), py::arg("pool_size"), py::arg("strides") = py::none(), py::arg("padding") = "valid",
  py::arg("out") = py::none(),
  "Max pooling of a channels-last float32 tensor (3-D, 4-D or 5-D for 1-D/2-D/3-D pooling).");

  m.def("avg_pool", [](const py::array& x, const py::object& pool_size, const py::object& strides,
                       const std::string& padding, const py::object& out) {
    return pool_forward(false, x, pool_size, strides, padding, out);
  }, py::arg("x"), py::arg("pool_size"), py::arg("strides") = py::none(), py::arg("padding") = "valid",
  py::arg("out") = py::none(),
  "Average pooling of a channels-last float32 tensor; 'same' windows average their real elements only.");

  m.def("max_pool_backward", &max_pool_backward, py::arg("x"), py::arg("dy"), py::arg("pool_size"),
        py::arg("strides") = py::none(), py::arg("padding") = "valid", py::arg("out") = py::none(),
        "Gradient of max_pool with respect to x: dy routed to the first maximum of each window.");

  m.def("avg_pool_backward", &avg_pool_backward, py::arg("dy"), py::arg("input_shape"), py::arg("pool_size"),
        py::arg("strides") = py::none(), py::arg("padding") = "valid", py::arg("out") = py::none(),
        "Gradient of avg_pool with respect to its input of shape input_shape.");

  m.def("global_max_pool", [](const py::array& x, bool keepdims, const py::object& out) {
    return global_forward(true, x, keepdims, out);
  }, py::arg("x"), py::arg("keepdims") = false, py::arg("out") = py::none(),
  "Maximum over all spatial positions: (batch, ..., channels) -> (batch, channels), or keepdims.");

  m.def("global_avg_pool", [](const py::array& x, bool keepdims, const py::object& out) {
    return global_forward(false, x, keepdims, out);
  }, py::arg("x"), py::arg("keepdims") = false, py::arg("out") = py::none(),
  "Mean over all spatial positions: (batch, ..., channels) -> (batch, channels), or keepdims.");

  m.def("global_max_pool_backward", &global_max_backward, py::arg("x"), py::arg("dy"), py::arg("out") = py::none(),
        "Gradient of global_max_pool: dy routed to the first maximum of each (image, channel).");

  m.def("global_avg_pool_backward", &global_avg_backward, py::arg("dy"), py::arg("input_shape"),
        py::arg("out") = py::none(), "Gradient of global_avg_pool: dy / (number of spatial positions).");
}

}  // namespace pyk::bind
