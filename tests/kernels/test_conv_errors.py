"""Bad arguments to pykeras._core.conv raise TypeError / ValueError naming the function and the
shapes, before any kernel touches memory."""
import numpy as np
import pytest

from pykeras import _core

conv = _core.conv


def f32(*shape):
    return np.ones(shape, np.float32)


def test_wrong_dtype_and_layout_are_type_errors():
    with pytest.raises(TypeError, match="conv_forward: 'x' must be a float32"):
        conv.conv_forward(np.ones((1, 5, 5, 3)), f32(3, 3, 3, 4))
    with pytest.raises(TypeError, match="'kernel' must be C-contiguous"):
        conv.conv_forward(f32(1, 5, 5, 3), np.asfortranarray(f32(3, 3, 3, 4)))
    with pytest.raises(TypeError, match="'x' must be a numpy array"):
        conv.conv_forward([[1.0]], f32(3, 3, 3, 4))
    with pytest.raises(TypeError, match="strides"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), strides="2")


def test_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"larger than the padded input.*\(1, 2, 5, 3\).*\(3, 3, 3, 4\)"):
        conv.conv_forward(f32(1, 2, 5, 3), f32(3, 3, 3, 4))
    with pytest.raises(ValueError, match="dilated size 5"):
        conv.conv_forward(f32(1, 4, 5, 3), f32(3, 3, 3, 4), dilation=2)
    with pytest.raises(ValueError, match="larger than"):
        conv.depthwise_forward(f32(1, 2, 2, 3), f32(3, 3, 3, 1))
    # 'same' pads, so the same sizes are fine there.
    assert conv.conv_forward(f32(1, 2, 5, 3), f32(3, 3, 3, 4), padding="same").shape == (1, 2, 5, 4)


def test_channel_and_group_mismatches():
    with pytest.raises(ValueError, match=r"input channels \(3\) must equal the kernel's input channels \(2\) times groups \(1\)"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 2, 4))
    with pytest.raises(ValueError, match=r"output channels \(5\) must be divisible by groups \(2\)"):
        conv.conv_forward(f32(1, 5, 5, 4), f32(3, 3, 2, 5), groups=2)
    with pytest.raises(ValueError, match="groups must be positive"):
        conv.conv_forward(f32(1, 5, 5, 4), f32(3, 3, 2, 4), groups=0)
    with pytest.raises(ValueError, match="depthwise kernel's channels"):
        conv.depthwise_forward(f32(1, 5, 5, 4), f32(3, 3, 3, 1))
    with pytest.raises(ValueError, match="pointwise kernel must have shape"):
        conv.separable_forward(f32(1, 5, 5, 4), f32(3, 3, 4, 2), f32(1, 1, 4, 6))
    with pytest.raises(ValueError, match="kernel's input channels"):
        conv.conv_transpose_forward(f32(1, 5, 5, 4), f32(3, 3, 6, 3))


def test_ranks_and_sizes():
    with pytest.raises(ValueError, match="rank 3, 4 or 5"):
        conv.conv_forward(f32(5, 3), f32(3, 3, 4))
    with pytest.raises(ValueError, match="must have rank 4"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 4))
    with pytest.raises(ValueError, match=r"positive sizes, got \(0, 5, 5, 3\)"):
        conv.conv_forward(f32(0, 5, 5, 3), f32(3, 3, 3, 4))
    with pytest.raises(ValueError, match="positive sizes"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 0, 3, 4))
    with pytest.raises(ValueError, match="positive sizes"):
        conv.conv_output_shape((1, 5, -5, 3), (3, 3, 3, 4))


def test_strides_dilation_padding_values():
    with pytest.raises(ValueError, match=r"'strides' must be positive, got \(1, 0\)"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), strides=(1, 0))
    with pytest.raises(ValueError, match="'dilation' must be positive"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), dilation=-1)
    with pytest.raises(ValueError, match="'strides' must have 2 values"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), strides=(1, 1, 1))
    with pytest.raises(ValueError, match="padding must be"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), padding="full")
    with pytest.raises(ValueError, match="padding must be"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), padding="causal")  # 1-d only
    with pytest.raises(ValueError, match="non-negative"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), padding=((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="needs 2"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), padding=((1, 1),))
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        conv.conv_transpose_forward(f32(1, 5, 5, 3), f32(3, 3, 4, 3), padding="causal")
    with pytest.raises(ValueError, match="output_padding must be non-negative"):
        conv.conv_transpose_forward(f32(1, 5, 5, 3), f32(3, 3, 4, 3), strides=2, output_padding=-1)


def test_bias_out_and_gradient_shapes():
    with pytest.raises(ValueError, match=r"'bias' has shape \(3,\), expected \(4,\)"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), bias=f32(3))
    with pytest.raises(ValueError, match=r"'out' has shape \(1, 3, 3, 5\), expected \(1, 3, 3, 4\)"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), out=f32(1, 3, 3, 5))
    ro = f32(1, 3, 3, 4)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), out=ro)
    with pytest.raises(ValueError, match=r"conv_backward_data: 'dy' has shape \(1, 3, 3, 3\), expected \(1, 3, 3, 4\)"):
        conv.conv_backward_data(f32(1, 3, 3, 3), f32(3, 3, 3, 4), (1, 5, 5, 3))
    with pytest.raises(ValueError, match=r"'dy' has shape"):
        conv.conv_backward_filter(f32(1, 5, 5, 3), f32(1, 4, 3, 4), (3, 3))
    with pytest.raises(ValueError, match=r"'dy' has shape"):
        conv.depthwise_backward(f32(1, 5, 5, 3), f32(3, 3, 3, 2), f32(1, 3, 3, 3))
    with pytest.raises(ValueError, match="'dy' has shape"):
        conv.conv_transpose_backward(f32(1, 3, 3, 2), f32(3, 3, 4, 2), f32(1, 6, 5, 4))


def test_activation_arguments():
    with pytest.raises(ValueError, match="unknown activation code 99"):
        conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), activation=99)
    y = conv.conv_forward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), activation=1)
    with pytest.raises(ValueError, match="'y' .* is needed"):
        conv.conv_backward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), y, activation=1)
    with pytest.raises(ValueError, match="cannot be formed from its output"):
        conv.conv_backward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), y, y=y, activation=8)  # swish
    with pytest.raises(ValueError, match=r"'y' has shape"):
        conv.conv_backward(f32(1, 5, 5, 3), f32(3, 3, 3, 4), y, y=f32(1, 3, 3, 3), activation=1)
    with pytest.raises(ValueError, match="cannot be formed"):
        conv.activation_backward(y, y, 9)


def test_output_overlapping_an_input_is_refused():
    x = f32(1, 5, 5, 4)
    with pytest.raises(ValueError, match="'out' must not overlap 'x'"):
        conv.depthwise_forward(x, f32(3, 3, 4, 1), padding="same", out=x)
    buf = f32(2, 5, 5, 4)
    with pytest.raises(ValueError, match="must not overlap"):
        conv.conv_forward(buf[0:1], f32(1, 1, 4, 4), out=buf[0:1])
    conv.conv_forward(buf[0:1], f32(1, 1, 4, 4), out=buf[1:2])  # disjoint halves of one buffer are fine
