// Bindings of the seeded random kernels (csrc/kernels/random).
#include "bindings/common.h"
#include "kernels/random/random.h"

namespace pyk::bind {
namespace {

using Filler = void (*)(float*, int64_t, uint64_t, uint64_t, float, float);

py::array fill(const char* fn, Filler f, const Shape& shape, uint64_t seed, uint64_t stream, float a, float b,
               const py::object& out) {
  for (int64_t d : shape) {
    if (d < 0) throw py::value_error(std::string(fn) + ": negative dimension in shape " + shape_str(shape));
  }
  py::array y = output(out, shape, fn);
  {
    py::gil_scoped_release nogil;
    f(out_ptr(y), y.size(), seed, stream, a, b);
  }
  return y;
}

void check_rate(const char* fn, float rate) {
  if (!(rate >= 0.0f && rate < 1.0f)) {
    throw py::value_error(std::string(fn) + ": rate must be in [0, 1), got " + std::to_string(rate));
  }
}

// The data of a dropout mask: a C-contiguous numpy bool array of `shape` (writeable when the
// kernel fills it).
uint8_t* mask_ptr(const py::object& mask, const Shape& shape, const char* fn, bool writeable) {
  if (!py::isinstance<py::array>(mask) || py::reinterpret_borrow<py::array>(mask).dtype().kind() != 'b') {
    throw py::type_error(std::string(fn) + ": 'mask' must be a numpy bool array");
  }
  py::array a = py::reinterpret_borrow<py::array>(mask);
  if (!(a.flags() & py::array::c_style)) throw py::type_error(std::string(fn) + ": 'mask' must be C-contiguous");
  if (writeable && !a.writeable()) throw py::value_error(std::string(fn) + ": 'mask' is read-only");
  if (shape_of(a) != shape) {
    throw py::value_error(std::string(fn) + ": 'mask' has shape " + shape_str(shape_of(a)) + ", expected " +
                          shape_str(shape));
  }
  return static_cast<uint8_t*>(const_cast<void*>(a.data()));
}

}  // namespace

void bind_random(py::module_& m) {
  m.def("uniform", [](const Shape& shape, uint64_t seed, uint64_t stream, float minval, float maxval,
                      const py::object& out) {
    return fill("uniform", random::table().uniform, shape, seed, stream, minval, maxval, out);
  }, py::arg("shape"), py::arg("seed"), py::arg("stream") = 0, py::arg("minval") = 0.0f, py::arg("maxval") = 1.0f,
     py::arg("out") = py::none());
  m.def("normal", [](const Shape& shape, uint64_t seed, uint64_t stream, float mean, float stddev,
                     const py::object& out) {
    return fill("normal", random::table().normal, shape, seed, stream, mean, stddev, out);
  }, py::arg("shape"), py::arg("seed"), py::arg("stream") = 0, py::arg("mean") = 0.0f, py::arg("stddev") = 1.0f,
     py::arg("out") = py::none());
  m.def("truncated_normal", [](const Shape& shape, uint64_t seed, uint64_t stream, float mean, float stddev,
                               const py::object& out) {
    return fill("truncated_normal", random::table().truncated_normal, shape, seed, stream, mean, stddev, out);
  }, py::arg("shape"), py::arg("seed"), py::arg("stream") = 0, py::arg("mean") = 0.0f, py::arg("stddev") = 1.0f,
     py::arg("out") = py::none());

  m.def("dropout", [](const py::array& x, float rate, uint64_t seed, uint64_t stream, const py::object& out,
                      const py::object& mask) {
    require_f32(x, "dropout", "x");
    check_rate("dropout", rate);
    py::array y = output(out, shape_of(x), "dropout");
    uint8_t* m = mask.is_none() ? nullptr : mask_ptr(mask, shape_of(x), "dropout", true);
    {
      py::gil_scoped_release nogil;
      random::table().dropout(in_ptr(x), out_ptr(y), m, x.size(), rate, seed, stream);
    }
    return y;
  }, py::arg("x"), py::arg("rate"), py::arg("seed"), py::arg("stream") = 0, py::arg("out") = py::none(),
     py::arg("mask") = py::none(),
     "y = x / (1 - rate) on the kept elements, else 0; `mask` (a bool array of x's shape) receives "
     "which were kept.");
  m.def("dropout_masked_backward", [](const py::array& dy, const py::object& mask, float rate,
                                      const py::object& out) {
    require_f32(dy, "dropout_masked_backward", "dy");
    check_rate("dropout_masked_backward", rate);
    const uint8_t* m = mask_ptr(mask, shape_of(dy), "dropout_masked_backward", false);
    py::array dx = output(out, shape_of(dy), "dropout_masked_backward");
    {
      py::gil_scoped_release nogil;
      random::table().dropout_masked_backward(in_ptr(dy), m, out_ptr(dx), dy.size(), rate);
    }
    return dx;
  }, py::arg("dy"), py::arg("mask"), py::arg("rate"), py::arg("out") = py::none(),
     "dx = dy / (1 - rate) where mask (from dropout) is set, else 0.");
  m.def("dropout_backward", [](const py::array& dy, float rate, uint64_t seed, uint64_t stream,
                               const py::object& out) {
    require_f32(dy, "dropout_backward", "dy");
    check_rate("dropout_backward", rate);
    py::array dx = output(out, shape_of(dy), "dropout_backward");
    {
      py::gil_scoped_release nogil;
      random::table().dropout_backward(in_ptr(dy), out_ptr(dx), dy.size(), rate, seed, stream);
    }
    return dx;
  }, py::arg("dy"), py::arg("rate"), py::arg("seed"), py::arg("stream") = 0, py::arg("out") = py::none());
}

}  // namespace pyk::bind
