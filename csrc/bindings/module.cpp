// The extension module pykeras._core: one submodule per kernel family, each bound in its own file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace pyk::bind {
void bind_runtime(py::module_& m);
void bind_eltwise(py::module_& m);
void bind_random(py::module_& m);
void bind_gemm(py::module_& m);
void bind_conv(py::module_& m);
void bind_pool(py::module_& m);
void bind_norm(py::module_& m);
void bind_optim(py::module_& m);
}  // namespace pyk::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "pykeras native kernels";
  auto sub = [&](const char* name, void (*bind)(py::module_&)) {
    py::module_ s = m.def_submodule(name);
    bind(s);
  };
  sub("runtime", pyk::bind::bind_runtime);
  sub("eltwise", pyk::bind::bind_eltwise);
  sub("random", pyk::bind::bind_random);
  sub("gemm", pyk::bind::bind_gemm);
  sub("conv", pyk::bind::bind_conv);
  sub("pool", pyk::bind::bind_pool);
  sub("norm", pyk::bind::bind_norm);
  sub("optim", pyk::bind::bind_optim);
}
