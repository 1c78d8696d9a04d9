// Bindings of the batch-normalization kernels (csrc/kernels/norm) as pykeras._core.norm.
//
// x is any C-contiguous float32 array; `axis` (default -1, negative counts from the end) is the
// channel axis and statistics are taken over every other axis, as keras.layers.BatchNormalization
// does. Per-channel arrays (gamma, beta, moving_mean, moving_variance, mean, inv_std) are 1-D
// float32 of length x.shape[axis]; gamma=None means scale=False, beta=None means center=False.
//
//   batch_norm_train(x, gamma=None, beta=None, moving_mean=None, moving_variance=None, axis=-1,
//                    momentum=0.99, epsilon=1e-3, out=None) -> (y, mean, inv_std)
//       Batch statistics (biased variance), y = gamma * (x - mean) * inv_std + beta with
//       inv_std = 1 / sqrt(var + epsilon); moving_mean / moving_variance (both or neither) are
//       updated in place: moving = moving * momentum + batch * (1 - momentum).
//   batch_norm_inference(x, moving_mean, moving_variance, gamma=None, beta=None, axis=-1,
//                        epsilon=1e-3, out=None) -> y
//   batch_norm_backward(dy, x, mean, inv_std, gamma=None, axis=-1, training=True, out=None)
//       -> (dx, dgamma, dbeta)
//       training=True: mean/inv_std are the batch statistics returned by batch_norm_train;
//       training=False: they are constants (moving_mean and 1 / sqrt(moving_variance + epsilon)),
//       as for a frozen layer. dgamma = sum(dy * (x - mean) * inv_std), dbeta = sum(dy), always
//       returned (the caller ignores the one it has no weight for).
#include <cmath>

#include "bindings/common.h"
#include "kernels/norm/norm.h"

namespace pyk::bind {
namespace {

struct Axis {
  norm::BatchNormShape shape;
  int64_t channels = 0;
};

Axis channel_axis(const py::array& x, int64_t axis, const char* fn) {
  const int64_t ndim = x.ndim();
  if (ndim < 1) throw py::value_error(std::string(fn) + ": 'x' must have at least 1 dimension");
  if (axis < -ndim || axis >= ndim) {
    throw py::value_error(std::string(fn) + ": axis " + std::to_string(axis) + " is out of range for 'x' of shape " +
                          shape_str(shape_of(x)));
  }
  if (axis < 0) axis += ndim;
  Axis a;
  a.shape.channels = x.shape(axis);
  for (int64_t i = 0; i < axis; ++i) a.shape.outer *= x.shape(i);
  for (int64_t i = axis + 1; i < ndim; ++i) a.shape.inner *= x.shape(i);
  a.channels = a.shape.channels;
  return a;
}

// An optional per-channel float32 vector (None -> nullptr).
const float* channel_vector(const py::object& obj, int64_t channels, const char* fn, const char* arg,
                            bool writeable = false, py::array* keep = nullptr) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": '" + arg + "' must be a float32 numpy array or None");
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  require_f32(a, fn, arg);
  require_shape(a, {channels}, fn, arg);
  if (writeable) require_writeable(a, fn, arg);
  if (keep) *keep = a;
  return in_ptr(a);
}

void require_epsilon(float epsilon, const char* fn) {
  if (!(epsilon >= 0.0f) || !std::isfinite(epsilon)) {
    throw py::value_error(std::string(fn) + ": epsilon must be a finite value >= 0, got " + std::to_string(epsilon));
  }
}

py::tuple batch_norm_train(const py::array& x, const py::object& gamma, const py::object& beta,
                           const py::object& moving_mean, const py::object& moving_variance, int64_t axis,
                           float momentum, float epsilon, const py::object& out) {
  const char* fn = "batch_norm_train";
  require_f32(x, fn, "x");
  const Axis ax = channel_axis(x, axis, fn);
  require_epsilon(epsilon, fn);
  if (!std::isfinite(momentum)) throw py::value_error(std::string(fn) + ": momentum must be finite");
  if (ax.shape.outer * ax.shape.inner == 0 && ax.channels > 0) {
    throw py::value_error(std::string(fn) + ": no elements to compute batch statistics over in 'x' of shape " +
                          shape_str(shape_of(x)));
  }
  if (moving_mean.is_none() != moving_variance.is_none()) {
    throw py::value_error(std::string(fn) + ": give both moving_mean and moving_variance, or neither");
  }
  norm::BatchNormTrain a;
  a.shape = ax.shape;
  a.x = in_ptr(x);
  a.gamma = channel_vector(gamma, ax.channels, fn, "gamma");
  a.beta = channel_vector(beta, ax.channels, fn, "beta");
  a.moving_mean = const_cast<float*>(channel_vector(moving_mean, ax.channels, fn, "moving_mean", true));
  a.moving_var = const_cast<float*>(channel_vector(moving_variance, ax.channels, fn, "moving_variance", true));
  a.epsilon = epsilon;
  a.momentum = momentum;
  py::array y = output(out, shape_of(x), fn);
  py::array_t<float> mean(ax.channels), inv_std(ax.channels);
  a.y = out_ptr(y);
  a.mean = mean.mutable_data();
  a.inv_std = inv_std.mutable_data();
  {
    py::gil_scoped_release nogil;
    norm::table().train_forward(a);
  }
  return py::make_tuple(y, mean, inv_std);
}

py::array batch_norm_inference(const py::array& x, const py::object& moving_mean, const py::object& moving_variance,
                               const py::object& gamma, const py::object& beta, int64_t axis, float epsilon,
                               const py::object& out) {
  const char* fn = "batch_norm_inference";
  require_f32(x, fn, "x");
  const Axis ax = channel_axis(x, axis, fn);
  require_epsilon(epsilon, fn);
  if (moving_mean.is_none() || moving_variance.is_none()) {
    throw py::value_error(std::string(fn) + ": moving_mean and moving_variance are required");
  }
  norm::BatchNormInference a;
  a.shape = ax.shape;
  a.x = in_ptr(x);
  a.moving_mean = channel_vector(moving_mean, ax.channels, fn, "moving_mean");
  a.moving_var = channel_vector(moving_variance, ax.channels, fn, "moving_variance");
  a.gamma = channel_vector(gamma, ax.channels, fn, "gamma");
  a.beta = channel_vector(beta, ax.channels, fn, "beta");
  a.epsilon = epsilon;
  py::array y = output(out, shape_of(x), fn);
  a.y = out_ptr(y);
  {
    py::gil_scoped_release nogil;
    norm::table().inference_forward(a);
  }
  return y;
}

py::tuple batch_norm_backward(const py::array& dy, const py::array& x, const py::object& mean,
                              const py::object& inv_std, const py::object& gamma, int64_t axis, bool training,
                              const py::object& out) {
  const char* fn = "batch_norm_backward";
  require_f32(dy, fn, "dy");
  require_f32(x, fn, "x");
  require_shape(dy, shape_of(x), fn, "dy");
  const Axis ax = channel_axis(x, axis, fn);
  if (mean.is_none() || inv_std.is_none()) {
    throw py::value_error(std::string(fn) + ": mean and inv_std are required");
  }
  norm::BatchNormBackward a;
  a.shape = ax.shape;
  a.dy = in_ptr(dy);
  a.x = in_ptr(x);
  a.mean = channel_vector(mean, ax.channels, fn, "mean");
  a.inv_std = channel_vector(inv_std, ax.channels, fn, "inv_std");
  a.gamma = channel_vector(gamma, ax.channels, fn, "gamma");
  a.training = training;
  py::array dx = output(out, shape_of(x), fn);
  py::array_t<float> dgamma(ax.channels), dbeta(ax.channels);
  a.dx = out_ptr(dx);
  a.dgamma = dgamma.mutable_data();
  a.dbeta = dbeta.mutable_data();
  {
    py::gil_scoped_release nogil;
    norm::table().backward(a);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

}  // namespace

void bind_norm(py::module_& m) {
  m.doc() = "Batch normalization over any axis of a float32 tensor: training/inference forward and backward.";
  m.def("batch_norm_train", &batch_norm_train, py::arg("x"), py::arg("gamma") = py::none(),
        py::arg("beta") = py::none(), py::arg("moving_mean") = py::none(), py::arg("moving_variance") = py::none(),
        py::arg("axis") = -1, py::arg("momentum") = 0.99f, py::arg("epsilon") = 1e-3f, py::arg("out") = py::none(),
        "Training-mode batch normalization: returns (y, batch mean, inv_std) and updates the moving statistics "
        "in place (Keras's rule, biased batch variance).");
  m.def("batch_norm_inference", &batch_norm_inference, py::arg("x"), py::arg("moving_mean"),
        py::arg("moving_variance"), py::arg("gamma") = py::none(), py::arg("beta") = py::none(),
        py::arg("axis") = -1, py::arg("epsilon") = 1e-3f, py::arg("out") = py::none(),
        "Inference-mode batch normalization with the moving statistics.");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("inv_std"), py::arg("gamma") = py::none(), py::arg("axis") = -1, py::arg("training") = true,
        py::arg("out") = py::none(),
        "Gradients (dx, dgamma, dbeta) of batch normalization; training=False treats mean/inv_std as constants.");
}

}  // namespace pyk::bind
