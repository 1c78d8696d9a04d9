// Bindings of the elementwise kernels (csrc/kernels/eltwise).
#include "bindings/common.h"
#include "kernels/eltwise/eltwise.h"

namespace pyk::bind {

void bind_eltwise(py::module_& m) {
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
  }, py::arg("x"), py::arg("out") = py::none());

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
  }, py::arg("x"), py::arg("dy"), py::arg("out") = py::none());
}

}  // namespace pyk::bind
