#pragma once
// Argument checking shared by every binding. Kernels trust their inputs, so everything a kernel
// reads or writes is validated here first: dtype, contiguity, writeability and shapes. Failures
// raise TypeError (wrong kind of array) or ValueError (wrong shape or value) naming the function,
// the argument, what was given and what was expected.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pyk::bind {
namespace py = pybind11;

using Shape = std::vector<int64_t>;

inline std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    out += std::to_string(s[i]);
    if (i + 1 < s.size() || s.size() == 1) out += ",";
    if (i + 1 < s.size()) out += " ";
  }
  return out + ")";
}

inline Shape shape_of(const py::array& a) { return Shape(a.shape(), a.shape() + a.ndim()); }

// `a` must be a C-contiguous float32 ndarray.
inline void require_f32(const py::array& a, const char* fn, const char* arg) {
  if (!py::isinstance<py::array_t<float>>(a) || a.dtype().kind() != 'f' || a.itemsize() != 4) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a float32 array, got dtype " +
                         std::string(py::str(a.dtype())));
  }
  if (!(a.flags() & py::array::c_style)) {
    throw py::type_error(std::string(fn) + ": '" + arg +
                         "' must be C-contiguous (use numpy.ascontiguousarray), got strides " +
                         shape_str(Shape(a.strides(), a.strides() + a.ndim())));
  }
}

inline void require_writeable(const py::array& a, const char* fn, const char* arg) {
  if (!a.writeable()) throw py::value_error(std::string(fn) + ": '" + arg + "' is read-only");
}

inline void require_shape(const py::array& a, const Shape& expected, const char* fn, const char* arg) {
  const Shape got = shape_of(a);
  if (got != expected) {
    throw py::value_error(std::string(fn) + ": '" + arg + "' has shape " + shape_str(got) + ", expected " +
                          shape_str(expected));
  }
}

inline const float* in_ptr(const py::array& a) { return static_cast<const float*>(a.data()); }
inline float* out_ptr(py::array& a) { return static_cast<float*>(a.mutable_data()); }

// The output array: `out` if given (checked: float32, contiguous, writeable, right shape),
// else a new uninitialised array of that shape.
inline py::array output(const py::object& out, const Shape& shape, const char* fn) {
  if (out.is_none()) return py::array_t<float>(shape);
  if (!py::isinstance<py::array>(out)) {
    throw py::type_error(std::string(fn) + ": 'out' must be a numpy array or None");
  }
  py::array a = py::reinterpret_borrow<py::array>(out);
  require_f32(a, fn, "out");
  require_writeable(a, fn, "out");
  require_shape(a, shape, fn, "out");
  return a;
}

}  // namespace pyk::bind
