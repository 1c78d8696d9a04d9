// Bindings of the fused optimizer updates and gradient-clipping helpers (csrc/kernels/optim) as
// pykeras._core.optim. Every list is a Python sequence of C-contiguous float32 numpy arrays;
// params and the optimizer state ("slot") lists are updated in place, one native call per step
// for the whole model. Slot lists match params one to one in shape. weight_decay is None, a
// float, or one float (or None) per parameter (Keras's exclude_from_weight_decay); it is applied
// decoupled, before the update: p -= p * weight_decay * learning_rate. `step` is the 1-based
// number of this update (Keras's optimizer.iterations + 1). Formulas: csrc/kernels/optim/optim.h.
//
//   sgd_update(params, grads, momentums=None, *, learning_rate=0.01, momentum=0.0, nesterov=False,
//              weight_decay=None)                 momentums required iff momentum != 0
//   rmsprop_update(params, grads, velocities, momentums=None, average_gradients=None, *,
//                  learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
//                  weight_decay=None)             momentums iff momentum > 0, average_gradients iff centered
//   adagrad_update(params, grads, accumulators, *, learning_rate=0.001, epsilon=1e-7, weight_decay=None)
//   adadelta_update(params, grads, accumulated_grads, accumulated_delta_vars, *, learning_rate=0.001,
//                   rho=0.95, epsilon=1e-7, weight_decay=None)
//   adam_update(params, grads, momentums, velocities, velocity_hats=None, *, step, learning_rate=0.001,
//               beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None)
//                                                 velocity_hats required iff amsgrad
//   adamax_update(params, grads, momentums, norms, *, step, learning_rate=0.001, beta_1=0.9,
//                 beta_2=0.999, epsilon=1e-7, weight_decay=None)
//   nadam_update(params, grads, momentums, velocities, *, step, learning_rate=0.001, beta_1=0.9,
//                beta_2=0.999, epsilon=1e-7, weight_decay=None)
//                                                 (Keras's momentum-schedule product is derived from step)
//   sum_squares(arrays) -> list[float]            per-array sum of squares (float64 accumulation)
//   global_norm(arrays) -> float                  sqrt of the total sum of squares, deterministic
//   scale_(arrays, factor)                        in place; factor: float or one float per array
//   clip_by_value_(arrays, clip_value)            in place, to [-clip_value, clip_value]
//   clip_by_norm_(arrays, clip_norm)              in place, each array to L2 norm <= clip_norm
//   clip_by_global_norm_(arrays, clip_norm) -> float
//                                                 in place, Keras's rule; returns the norm before clipping
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "bindings/common.h"
#include "kernels/optim/optim.h"

namespace pyk::bind {
namespace {

struct ArrayRef {
  py::array array;
  std::string name;  // e.g. "params[3]", for error messages
};

std::vector<ArrayRef> array_list(const py::object& obj, const char* fn, const char* arg, bool writeable) {
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj) || py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a list of float32 numpy arrays, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  std::vector<ArrayRef> out;
  const py::sequence seq = obj.cast<py::sequence>();
  for (size_t i = 0; i < seq.size(); ++i) {
    const py::object item = seq[i];
    const std::string name = std::string(arg) + "[" + std::to_string(i) + "]";
    if (!py::isinstance<py::array>(item)) {
      throw py::type_error(std::string(fn) + ": '" + name + "' must be a float32 numpy array, got " +
                           std::string(py::str(py::type::of(item).attr("__module__"))) + "." +
                           std::string(py::str(py::type::of(item).attr("__name__"))));
    }
    py::array a = py::reinterpret_borrow<py::array>(item);
    require_f32(a, fn, name.c_str());
    if (writeable) require_writeable(a, fn, name.c_str());
    out.push_back({a, name});
  }
  return out;
}

void require_same_shapes(const std::vector<ArrayRef>& ref, const std::vector<ArrayRef>& other, const char* fn,
                         const char* ref_arg, const char* arg) {
  if (other.size() != ref.size()) {
    throw py::value_error(std::string(fn) + ": '" + arg + "' has " + std::to_string(other.size()) + " arrays, '" +
                          ref_arg + "' has " + std::to_string(ref.size()));
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    if (shape_of(other[i].array) != shape_of(ref[i].array)) {
      throw py::value_error(std::string(fn) + ": '" + other[i].name + "' has shape " +
                            shape_str(shape_of(other[i].array)) + ", expected " + shape_str(shape_of(ref[i].array)) +
                            " (the shape of '" + ref[i].name + "')");
    }
  }
}

// Arrays written in place must not share memory with each other or with any array read.
void require_no_overlap(const std::vector<const ArrayRef*>& written, const std::vector<const ArrayRef*>& read,
                        const char* fn) {
  struct Span {
    uintptr_t lo, hi;
    const ArrayRef* ref;
  };
  auto span = [](const ArrayRef* r) {
    const auto lo = reinterpret_cast<uintptr_t>(r->array.data());
    return Span{lo, lo + static_cast<uintptr_t>(r->array.nbytes()), r};
  };
  std::vector<Span> spans;
  for (const ArrayRef* r : written) {
    if (r->array.nbytes() > 0) spans.push_back(span(r));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.lo < b.lo; });
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].lo < spans[i - 1].hi) {
      throw py::value_error(std::string(fn) + ": '" + spans[i - 1].ref->name + "' and '" + spans[i].ref->name +
                            "' share memory; arrays updated in place must be distinct");
    }
  }
  for (const ArrayRef* r : read) {
    if (r->array.nbytes() == 0) continue;
    const Span s = span(r);
    auto it = std::upper_bound(spans.begin(), spans.end(), s.lo, [](uintptr_t v, const Span& x) { return v < x.lo; });
    // The written span starting at or before s.lo, and the first one after it.
    if (it != spans.begin() && std::prev(it)->hi > s.lo) {
      throw py::value_error(std::string(fn) + ": '" + r->name + "' shares memory with '" + std::prev(it)->ref->name +
                            "', which is updated in place");
    }
    if (it != spans.end() && it->lo < s.hi) {
      throw py::value_error(std::string(fn) + ": '" + r->name + "' shares memory with '" + it->ref->name +
                            "', which is updated in place");
    }
  }
}

void require_finite(double v, const char* fn, const char* arg) {
  if (!std::isfinite(v)) throw py::value_error(std::string(fn) + ": " + arg + " must be finite, got " + std::to_string(v));
}

void require_nonnegative(double v, const char* fn, const char* arg) {
  require_finite(v, fn, arg);
  if (v < 0) throw py::value_error(std::string(fn) + ": " + arg + " must be >= 0, got " + std::to_string(v));
}

// A Python or numpy number as a double.
double number(const py::handle& obj, const char* fn, const char* arg) {
  try {
    return py::float_(py::reinterpret_borrow<py::object>(obj)).cast<double>();
  } catch (const py::error_already_set&) {
    throw py::type_error(std::string(fn) + ": " + arg + " must be a number, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
}

// Per-parameter weight decay from None, a float, or a sequence of floats/None.
std::vector<float> weight_decays(const py::object& obj, size_t count, const char* fn) {
  std::vector<float> out;
  if (obj.is_none()) return out;
  if (py::isinstance<py::str>(obj)) {
    throw py::type_error(std::string(fn) + ": weight_decay must be None, a float or one float per parameter");
  }
  if (!py::isinstance<py::sequence>(obj)) {  // a number (Python or numpy scalar)
    const double v = number(obj, fn, "weight_decay");
    require_finite(v, fn, "weight_decay");
    if (v != 0.0) out.assign(count, static_cast<float>(v));
    return out;
  }
  const py::sequence seq = obj.cast<py::sequence>();
  if (seq.size() != count) {
    throw py::value_error(std::string(fn) + ": weight_decay has " + std::to_string(seq.size()) +
                          " values for " + std::to_string(count) + " parameters");
  }
  out.resize(count, 0.0f);
  bool any = false;
  for (size_t i = 0; i < count; ++i) {
    const py::object item = seq[i];
    if (item.is_none()) continue;
    const double v = number(item, fn, "weight_decay");
    require_finite(v, fn, "weight_decay");
    out[i] = static_cast<float>(v);
    any = any || v != 0.0;
  }
  if (!any) out.clear();
  return out;
}

// Everything one update call hands to the kernel, with the arrays kept alive.
class UpdateCall {
 public:
  UpdateCall(const char* fn, const py::object& params, const py::object& grads) : fn_(fn) {
    params_ = array_list(params, fn, "params", true);
    grads_ = array_list(grads, fn, "grads", false);
    require_same_shapes(params_, grads_, fn, "params", "grads");
  }

  // Adds state list k; None is allowed only when `required` is false.
  void slot(int k, const py::object& obj, const char* arg, bool required, const char* why) {
    if (obj.is_none()) {
      if (required) throw py::value_error(std::string(fn_) + ": '" + arg + "' is required " + why);
      return;
    }
    if (!required) {
      throw py::value_error(std::string(fn_) + ": '" + arg + "' is given but not used " + why);
    }
    slots_[k] = array_list(obj, fn_, arg, true);
    require_same_shapes(params_, slots_[k], fn_, "params", arg);
    used_[k] = true;
  }

  void run(void (*kernel)(const optim::TensorList&, const optim::Hyper&), const optim::Hyper& h,
           const py::object& weight_decay) {
    std::vector<const ArrayRef*> written, read;
    for (const auto& r : params_) written.push_back(&r);
    for (int k = 0; k < optim::kMaxSlots; ++k) {
      for (const auto& r : slots_[k]) written.push_back(&r);
    }
    for (const auto& r : grads_) read.push_back(&r);
    require_no_overlap(written, read, fn_);

    const size_t n = params_.size();
    const std::vector<float> decay = weight_decays(weight_decay, n, fn_);
    std::vector<int64_t> offset{0};
    std::vector<float*> param, slot_ptr[optim::kMaxSlots];
    std::vector<const float*> grad;
    for (size_t i = 0; i < n; ++i) {
      offset.push_back(offset.back() + params_[i].array.size());
      param.push_back(out_ptr(params_[i].array));
      grad.push_back(in_ptr(grads_[i].array));
    }
    optim::TensorList l;
    l.count = static_cast<int64_t>(n);
    l.offset = offset.data();
    l.param = param.data();
    l.grad = grad.data();
    for (int k = 0; k < optim::kMaxSlots; ++k) {
      if (!used_[k]) continue;
      for (size_t i = 0; i < n; ++i) slot_ptr[k].push_back(out_ptr(slots_[k][i].array));
      l.slot[k] = slot_ptr[k].data();
    }
    l.weight_decay = decay.empty() ? nullptr : decay.data();
    py::gil_scoped_release nogil;
    kernel(l, h);
  }

 private:
  const char* fn_;
  std::vector<ArrayRef> params_, grads_, slots_[optim::kMaxSlots];
  bool used_[optim::kMaxSlots] = {false, false, false};
};

void require_step(int64_t step, const char* fn) {
  if (step < 1) throw py::value_error(std::string(fn) + ": step must be >= 1 (iterations + 1), got " + std::to_string(step));
}

optim::Hyper base_hyper(float learning_rate, float epsilon, const char* fn) {
  require_finite(learning_rate, fn, "learning_rate");
  require_nonnegative(epsilon, fn, "epsilon");
  optim::Hyper h;
  h.learning_rate = learning_rate;
  h.epsilon = epsilon;
  return h;
}

// The hyper-parameters of the Adam family (Adam, Adamax, Nadam): bias corrections need the step.
optim::Hyper adam_family_hyper(float learning_rate, float epsilon, int64_t step, float beta_1, float beta_2,
                               const char* fn) {
  optim::Hyper h = base_hyper(learning_rate, epsilon, fn);
  require_step(step, fn);
  require_finite(beta_1, fn, "beta_1");
  require_finite(beta_2, fn, "beta_2");
  h.step = step;
  h.beta_1 = beta_1;
  h.beta_2 = beta_2;
  return h;
}

// ------------------------------------------------------------------------------ clipping helpers
struct ArrayCall {
  std::vector<ArrayRef> arrays;
  std::vector<int64_t> offset;
  std::vector<float*> data;
  optim::ArrayList list;

  ArrayCall(const py::object& obj, const char* fn, bool writeable) {
    arrays = array_list(obj, fn, "arrays", writeable);
    if (writeable) {
      std::vector<const ArrayRef*> written;
      for (const auto& r : arrays) written.push_back(&r);
      require_no_overlap(written, {}, fn);
    }
    offset.assign(arrays.size() + 1, 0);
    data.resize(arrays.size());
    for (size_t i = 0; i < arrays.size(); ++i) {
      offset[i + 1] = offset[i] + arrays[i].array.size();
      data[i] = static_cast<float*>(const_cast<void*>(arrays[i].array.data()));
    }
    list.count = static_cast<int64_t>(arrays.size());
    list.offset = offset.data();
    list.data = data.data();
  }

  std::vector<double> sum_squares() const {
    std::vector<double> out(arrays.size());
    py::gil_scoped_release nogil;
    optim::table().sum_squares(list, out.data());
    return out;
  }

  void scale(const std::vector<float>& factor) {
    py::gil_scoped_release nogil;
    optim::table().scale(list, factor.data());
  }
};

double total(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s;
}

}  // namespace

void bind_optim(py::module_& m) {
  m.doc() = "Fused optimizer updates over a list of parameters (Keras 3 formulas) and gradient clipping.";

  m.def("sgd_update", [](const py::object& params, const py::object& grads, const py::object& momentums,
                         float learning_rate, float momentum, bool nesterov, const py::object& weight_decay) {
    const char* fn = "sgd_update";
    optim::Hyper h = base_hyper(learning_rate, 0.0f, fn);
    if (!(momentum >= 0.0f && momentum <= 1.0f)) {
      throw py::value_error(std::string(fn) + ": momentum must be a float in [0, 1], got " + std::to_string(momentum));
    }
    h.momentum = momentum;
    h.nesterov = nesterov;
    UpdateCall call(fn, params, grads);
    call.slot(0, momentums, "momentums", momentum != 0.0f, "when momentum != 0");
    call.run(optim::table().sgd, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("momentums") = py::none(), py::kw_only(),
  py::arg("learning_rate") = 0.01f, py::arg("momentum") = 0.0f, py::arg("nesterov") = false,
  py::arg("weight_decay") = py::none(), "SGD (momentum, Nesterov) update of every parameter, in place.");

  m.def("rmsprop_update", [](const py::object& params, const py::object& grads, const py::object& velocities,
                             const py::object& momentums, const py::object& average_gradients, float learning_rate,
                             float rho, float momentum, float epsilon, bool centered, const py::object& weight_decay) {
    const char* fn = "rmsprop_update";
    optim::Hyper h = base_hyper(learning_rate, epsilon, fn);
    require_finite(rho, fn, "rho");
    require_nonnegative(momentum, fn, "momentum");
    h.rho = rho;
    h.momentum = momentum;
    h.centered = centered;
    UpdateCall call(fn, params, grads);
    call.slot(0, velocities, "velocities", true, "");
    call.slot(1, momentums, "momentums", momentum > 0.0f, "when momentum > 0");
    call.slot(2, average_gradients, "average_gradients", centered, "when centered=True");
    call.run(optim::table().rmsprop, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("velocities"), py::arg("momentums") = py::none(),
  py::arg("average_gradients") = py::none(), py::kw_only(), py::arg("learning_rate") = 0.001f,
  py::arg("rho") = 0.9f, py::arg("momentum") = 0.0f, py::arg("epsilon") = 1e-7f, py::arg("centered") = false,
  py::arg("weight_decay") = py::none(), "RMSprop update of every parameter, in place.");

  m.def("adagrad_update", [](const py::object& params, const py::object& grads, const py::object& accumulators,
                             float learning_rate, float epsilon, const py::object& weight_decay) {
    const char* fn = "adagrad_update";
    optim::Hyper h = base_hyper(learning_rate, epsilon, fn);
    UpdateCall call(fn, params, grads);
    call.slot(0, accumulators, "accumulators", true, "");
    call.run(optim::table().adagrad, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("accumulators"), py::kw_only(), py::arg("learning_rate") = 0.001f,
  py::arg("epsilon") = 1e-7f, py::arg("weight_decay") = py::none(),
  "Adagrad update of every parameter, in place (accumulators start at initial_accumulator_value).");

  m.def("adadelta_update", [](const py::object& params, const py::object& grads, const py::object& accumulated_grads,
                              const py::object& accumulated_delta_vars, float learning_rate, float rho, float epsilon,
                              const py::object& weight_decay) {
    const char* fn = "adadelta_update";
    optim::Hyper h = base_hyper(learning_rate, epsilon, fn);
    require_finite(rho, fn, "rho");
    h.rho = rho;
    UpdateCall call(fn, params, grads);
    call.slot(0, accumulated_grads, "accumulated_grads", true, "");
    call.slot(1, accumulated_delta_vars, "accumulated_delta_vars", true, "");
    call.run(optim::table().adadelta, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("accumulated_grads"), py::arg("accumulated_delta_vars"),
  py::kw_only(), py::arg("learning_rate") = 0.001f, py::arg("rho") = 0.95f, py::arg("epsilon") = 1e-7f,
  py::arg("weight_decay") = py::none(), "Adadelta update of every parameter, in place.");

  m.def("adam_update", [](const py::object& params, const py::object& grads, const py::object& momentums,
                          const py::object& velocities, const py::object& velocity_hats, int64_t step,
                          float learning_rate, float beta_1, float beta_2, float epsilon, bool amsgrad,
                          const py::object& weight_decay) {
    const char* fn = "adam_update";
    optim::Hyper h = adam_family_hyper(learning_rate, epsilon, step, beta_1, beta_2, fn);
    h.amsgrad = amsgrad;
    UpdateCall call(fn, params, grads);
    call.slot(0, momentums, "momentums", true, "");
    call.slot(1, velocities, "velocities", true, "");
    call.slot(2, velocity_hats, "velocity_hats", amsgrad, "when amsgrad=True");
    call.run(optim::table().adam, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("momentums"), py::arg("velocities"),
  py::arg("velocity_hats") = py::none(), py::kw_only(), py::arg("step"), py::arg("learning_rate") = 0.001f,
  py::arg("beta_1") = 0.9f, py::arg("beta_2") = 0.999f, py::arg("epsilon") = 1e-7f, py::arg("amsgrad") = false,
  py::arg("weight_decay") = py::none(), "Adam (AMSGrad) update of every parameter, in place; step = iterations + 1.");

  m.def("adamax_update", [](const py::object& params, const py::object& grads, const py::object& momentums,
                            const py::object& norms, int64_t step, float learning_rate, float beta_1, float beta_2,
                            float epsilon, const py::object& weight_decay) {
    const char* fn = "adamax_update";
    optim::Hyper h = adam_family_hyper(learning_rate, epsilon, step, beta_1, beta_2, fn);
    UpdateCall call(fn, params, grads);
    call.slot(0, momentums, "momentums", true, "");
    call.slot(1, norms, "norms", true, "");
    call.run(optim::table().adamax, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("momentums"), py::arg("norms"), py::kw_only(), py::arg("step"),
  py::arg("learning_rate") = 0.001f, py::arg("beta_1") = 0.9f, py::arg("beta_2") = 0.999f,
  py::arg("epsilon") = 1e-7f, py::arg("weight_decay") = py::none(),
  "Adamax update of every parameter, in place; step = iterations + 1.");

  m.def("nadam_update", [](const py::object& params, const py::object& grads, const py::object& momentums,
                           const py::object& velocities, int64_t step, float learning_rate, float beta_1,
                           float beta_2, float epsilon, const py::object& weight_decay) {
    const char* fn = "nadam_update";
    optim::Hyper h = adam_family_hyper(learning_rate, epsilon, step, beta_1, beta_2, fn);
    UpdateCall call(fn, params, grads);
    call.slot(0, momentums, "momentums", true, "");
    call.slot(1, velocities, "velocities", true, "");
    call.run(optim::table().nadam, h, weight_decay);
  }, py::arg("params"), py::arg("grads"), py::arg("momentums"), py::arg("velocities"), py::kw_only(),
  py::arg("step"), py::arg("learning_rate") = 0.001f, py::arg("beta_1") = 0.9f, py::arg("beta_2") = 0.999f,
  py::arg("epsilon") = 1e-7f, py::arg("weight_decay") = py::none(),
  "Nadam update of every parameter, in place; step = iterations + 1.");

  m.def("sum_squares", [](const py::object& arrays) {
    return ArrayCall(arrays, "sum_squares", false).sum_squares();
  }, py::arg("arrays"), "Sum of squares of each array (float64 accumulation, deterministic).");

  m.def("global_norm", [](const py::object& arrays) {
    return std::sqrt(total(ArrayCall(arrays, "global_norm", false).sum_squares()));
  }, py::arg("arrays"), "L2 norm of all arrays together (float64 accumulation, deterministic).");

  m.def("scale_", [](const py::object& arrays, const py::object& factor) {
    const char* fn = "scale_";
    ArrayCall call(arrays, fn, true);
    std::vector<float> f;
    if (!py::isinstance<py::sequence>(factor) || py::isinstance<py::str>(factor)) {
      f.assign(call.arrays.size(), static_cast<float>(number(factor, fn, "factor")));
    } else {
      for (const auto& item : factor.cast<py::sequence>()) f.push_back(static_cast<float>(number(item, fn, "factor")));
      if (f.size() != call.arrays.size()) {
        throw py::value_error(std::string(fn) + ": factor has " + std::to_string(f.size()) + " values for " +
                              std::to_string(call.arrays.size()) + " arrays");
      }
    }
    call.scale(f);
  }, py::arg("arrays"), py::arg("factor"), "Multiplies each array in place by factor (a float or one per array).");

  m.def("clip_by_value_", [](const py::object& arrays, float clip_value) {
    const char* fn = "clip_by_value_";
    if (!(clip_value >= 0.0f)) {
      throw py::value_error(std::string(fn) + ": clip_value must be >= 0, got " + std::to_string(clip_value));
    }
    ArrayCall call(arrays, fn, true);
    py::gil_scoped_release nogil;
    optim::table().clip(call.list, -clip_value, clip_value);
  }, py::arg("arrays"), py::arg("clip_value"), "Clips every array in place to [-clip_value, clip_value].");

  m.def("clip_by_norm_", [](const py::object& arrays, float clip_norm) {
    const char* fn = "clip_by_norm_";
    if (!(clip_norm > 0.0f) || !std::isfinite(clip_norm)) {
      throw py::value_error(std::string(fn) + ": clip_norm must be > 0, got " + std::to_string(clip_norm));
    }
    ArrayCall call(arrays, fn, true);
    const std::vector<double> sq = call.sum_squares();
    std::vector<float> f(sq.size());
    for (size_t i = 0; i < sq.size(); ++i) {
      // Keras: values * clip_norm / max(l2norm, clip_norm).
      f[i] = static_cast<float>(clip_norm / std::max(std::sqrt(sq[i]), static_cast<double>(clip_norm)));
    }
    call.scale(f);
  }, py::arg("arrays"), py::arg("clip_norm"), "Rescales each array in place to an L2 norm of at most clip_norm.");

  m.def("clip_by_global_norm_", [](const py::object& arrays, float clip_norm) {
    const char* fn = "clip_by_global_norm_";
    if (!(clip_norm > 0.0f) || !std::isfinite(clip_norm)) {
      throw py::value_error(std::string(fn) + ": clip_norm must be > 0, got " + std::to_string(clip_norm));
    }
    ArrayCall call(arrays, fn, true);
    const double norm = std::sqrt(total(call.sum_squares()));
    // Keras: scale = clip_norm * min(1 / norm, 1 / clip_norm), NaN when the norm is not finite.
    const double c = clip_norm;
    const double factor = std::isfinite(norm) ? c * std::min(1.0 / norm, 1.0 / c) : std::nan("");
    if (factor != 1.0) call.scale(std::vector<float>(call.arrays.size(), static_cast<float>(factor)));
    return norm;
  }, py::arg("arrays"), py::arg("clip_norm"),
  "Scales all arrays in place so that their global norm is at most clip_norm; returns the norm before.");
}

}  // namespace pyk::bind
