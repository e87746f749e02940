"""Exact rewrites of an exported ONNX graph that onnxruntime's CPU provider runs faster.

onnxruntime runs float convolutions on x86 / ARM CPUs in its blocked NCHWc layout, whose
output channels come in blocks of 16 (AVX-512; 8 with AVX2): a convolution with few output
channels (the last layer of an image generator: 3 RGB channels) is computed as if it had 16,
i.e. 5.3x the multiply-adds it needs. Profiled on CycleGAN's resnet_9blocks at 256x256 (2-core
AMD EPYC, onnxruntime 1.31): its 7x7 64 -> 3 output convolution took 63 ms, more than one of the
eighteen 3x3 256 -> 256 convolutions of the residual blocks (47 ms), for 1/4 of their work.

:func:`phase_split_convolutions` computes such a stride-1 convolution as a stride-2 one that
produces the four output phases (even / odd rows x even / odd columns) of each output channel
at once, 4 M channels with a (k + 1) x (k + 1) kernel holding the original k x k kernel at the
offset of its phase, followed by DepthToSpace (DCR) and a crop to the original output size. For
M = 3 and k = 7 that is 16 x 64 multiply-adds per 4 output pixels instead of 16 x 49 per pixel
(3.1x less). The result is the same sum of the same products (outputs equal to float rounding,
checked by the export's verification against PyTorch).

:func:`phase_split_transposed_convolutions` computes a stride-2 transposed convolution that
doubles the size (the U-Net decoder's 4x4 / pad 1, CycleGAN's 3x3 / pad 1 / output padding 1) as
four ordinary stride-1 convolutions, one per output phase, each holding only the kernel taps that
reach that phase (2x2 of a 4x4 kernel), concatenated and interleaved by DepthToSpace: the same
multiply-adds, the same sums. In fp32 onnxruntime runs both forms at the same speed (measured on
the pix2pix U-Net and CycleGAN, 2-core AMD EPYC); the point is int8: onnxruntime has no integer
CPU kernel for ConvTranspose, so a quantised U-Net ran its whole decoder in float between
DequantizeLinear / QuantizeLinear pairs (slower than fp32), while the phase convolutions become
integer QLinearConv. The export applies it to graphs it quantises.

:func:`unshare_constant_dequantize` is not about speed: it gives each reader of a quantised constant
its own DequantizeLinear, which onnxruntime needs to open an int8 file with the session option that
makes its integer kernels exact on x86 CPUs without VNNI (see the function).

Generic: it looks at shapes and attributes only, never at which network it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import onnx

#: onnxruntime's NCHWc channel block on AVX-512 CPUs (the largest it uses; on AVX2 it is 8, where
#: the rewrite still needs fewer multiply-adds as long as 4 M <= 16).
NCHWC_BLOCK = 16
#: Shape with start / end (the crop to the output size) needs opset 15.
MIN_OPSET = 15
#: Rewrite only when the phase form needs at most this fraction of the original multiply-adds.
MAX_COST_RATIO = 0.75


def _blocks(channels: int) -> int:
    return -(-channels // NCHWC_BLOCK) * NCHWC_BLOCK


def phase_cost_ratio(out_channels: int, kernel: tuple[int, int]) -> float:
    """Multiply-adds per output pixel of the phase form over those of the original convolution,
    both with output channels padded to the NCHWc block: ``blocks(4 M) (kh + 1) (kw + 1) / 4``
    over ``blocks(M) kh kw``."""
    kh, kw = kernel
    return _blocks(4 * out_channels) * (kh + 1) * (kw + 1) / 4 / (_blocks(out_channels) * kh * kw)


def _attributes(node: "onnx.NodeProto") -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _plain_convolution(node: "onnx.NodeProto", op_type: str, stride: int,
                       initializers: dict[str, "onnx.TensorProto"]) -> tuple[Any, str | None, dict[str, Any]] | None:
    """(weight initializer, bias name or None, attributes) of ``node`` when it is an ``op_type``
    (Conv / ConvTranspose) of the default domain that both rewrites can take: a float32 4-D weight
    and bias held as initializers, ``group`` and ``dilations`` 1, ``strides`` ``stride`` on both
    axes, ``auto_pad`` and ``output_shape`` unset; None otherwise."""
    from onnx import TensorProto

    if node.op_type != op_type or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
        return None
    weight = initializers.get(node.input[1])
    bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
    attrs = _attributes(node)
    if (weight is None or weight.data_type != TensorProto.FLOAT or len(weight.dims) != 4
            or (bias_name is not None and bias_name not in initializers)
            or attrs.get("group", 1) != 1 or list(attrs.get("strides", [1, 1])) != [stride, stride]
            or list(attrs.get("dilations", [1, 1])) != [1, 1] or "output_shape" in attrs
            or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
        return None
    return weight, bias_name, attrs


def _name_maker(graph: "onnx.GraphProto") -> Callable[[str], str]:
    """A function giving each call a node / tensor name not yet used in ``graph`` (``name``,
    else ``name_1``, ``name_2``, ...)."""
    taken = ({n.name for n in graph.node} | {o for n in graph.node for o in n.output}
             | {t.name for t in graph.initializer})

    def fresh(name: str) -> str:
        candidate, i = name, 1
        while candidate in taken:
            candidate, i = f"{name}_{i}", i + 1
        taken.add(candidate)
        return candidate

    return fresh


def _replace_nodes(graph: "onnx.GraphProto", nodes: list) -> None:
    """Make ``nodes`` the graph's nodes and drop the initializers no node reads any more. The
    exporter's value_info of replaced outputs stays valid: the same names with the same shapes."""
    used = {i for n in nodes for i in n.input}
    keep = [t for t in graph.initializer if t.name in used or t.name in {i.name for i in graph.input}]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep)


def phase_split_convolutions(model: "onnx.ModelProto") -> list[str]:
    """Rewrite, in place, each stride-1 2-D convolution with few output channels into its
    four-phase form (module docstring); returns the names of the rewritten nodes.

    A Conv node qualifies when its weight (M, C, kh, kw) and bias are float32 initializers,
    ``group``, ``strides`` and ``dilations`` are 1, ``auto_pad`` is unset, C is a multiple of 16
    (the NCHWc layout takes its input as it is) and :func:`phase_cost_ratio` is at most
    :data:`MAX_COST_RATIO` (e.g. M = 3: k = 3, 7, 9 all qualify; M >= 16 never does). Input
    sizes may be dynamic: the crop to the original output size is computed from the input's shape.
    Graphs of opset < :data:`MIN_OPSET` are left as they are.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        return []
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    fresh = _name_maker(graph)

    def constant(name: str, value: np.ndarray) -> str:
        name = fresh(name)
        graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    nodes, rewritten = [], []
    for node in graph.node:
        plain = _plain_convolution(node, "Conv", 1, initializers)
        if plain is None:
            nodes.append(node)
            continue
        weight, bias_name, attrs = plain
        out_channels, in_channels, kh, kw = weight.dims
        if in_channels % NCHWC_BLOCK or phase_cost_ratio(out_channels, (kh, kw)) > MAX_COST_RATIO:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight)
        phased = np.zeros((4 * out_channels, in_channels, kh + 1, kw + 1), np.float32)
        for py in range(2):
            for px in range(2):
                phase = 2 * py + px  # DepthToSpace DCR: channel (phase, m) -> pixel (2y + py, 2x + px)
                phased[phase * out_channels:(phase + 1) * out_channels, :, py:py + kh, px:px + kw] = w
        base = node.name or node.output[0]
        inputs = [node.input[0], constant(f"{base}_phase_weight", phased)]
        if bias_name is not None:
            bias = numpy_helper.to_array(initializers[bias_name]).astype(np.float32)
            inputs.append(constant(f"{base}_phase_bias", np.tile(bias, 4)))
        top, left, bottom, right = list(attrs.get("pads", [0, 0, 0, 0]))
        phases, interleaved = fresh(f"{base}_phases"), fresh(f"{base}_interleaved")
        size, end = fresh(f"{base}_input_size"), fresh(f"{base}_output_size")
        # One more zero row / column at the end: an odd output size then gets its last phase row,
        # and the crop below removes the extra one.
        nodes.append(helper.make_node("Conv", inputs, [phases], name=fresh(f"{base}_phase"),
                                      kernel_shape=[kh + 1, kw + 1], strides=[2, 2],
                                      pads=[top, left, bottom + 1, right + 1]))
        nodes.append(helper.make_node("DepthToSpace", [phases], [interleaved], name=fresh(f"{base}_depth_to_space"),
                                      blocksize=2, mode="DCR"))
        nodes.append(helper.make_node("Shape", [node.input[0]], [size], name=fresh(f"{base}_shape"), start=2, end=4))
        offset = constant(f"{base}_size_offset", np.array([top + bottom - kh + 1, left + right - kw + 1], np.int64))
        nodes.append(helper.make_node("Add", [size, offset], [end], name=fresh(f"{base}_size")))
        nodes.append(helper.make_node("Slice", [interleaved, constant(f"{base}_starts", np.zeros(2, np.int64)), end,
                                                constant(f"{base}_axes", np.array([2, 3], np.int64))],
                                      list(node.output), name=fresh(f"{base}_crop")))
        rewritten.append(base)
    if rewritten:
        _replace_nodes(graph, nodes)
    return rewritten


def _phase_taps(kernel: int, pad_begin: int, phase: int) -> tuple[list[tuple[int, int]], int, int] | None:
    """For one axis of a stride-2 transposed convolution: the taps that reach output ``2 m + phase``
    as (tap of the transposed kernel, position in the phase's ordinary kernel), that kernel's
    length and its begin padding; None when the phase has no tap.

    Output ``o = 2 i - pad_begin + t`` receives input ``i`` through tap ``t``, so output ``2 m + phase``
    reads input ``m + (phase + pad_begin - t) / 2`` for the taps ``t`` of the right parity: an
    ordinary convolution reading offsets ``off = (phase + pad_begin - t) / 2`` around ``m``.
    """
    taps = [t for t in range(kernel) if (phase + pad_begin - t) % 2 == 0]
    if not taps:
        return None
    offsets = [(phase + pad_begin - t) // 2 for t in taps]
    begin = -min(offsets)
    return [(t, off + begin) for t, off in zip(taps, offsets)], max(offsets) - min(offsets) + 1, begin


def phase_split_transposed_convolutions(model: "onnx.ModelProto") -> list[str]:
    """Rewrite, in place, each size-doubling stride-2 2-D ConvTranspose into four ordinary
    convolutions, one per output phase, plus Concat and DepthToSpace (module docstring); returns
    the names of the rewritten nodes.

    A ConvTranspose node qualifies when its weight (C, M, kh, kw) and bias are float32
    initializers, ``group`` and ``dilations`` are 1, ``strides`` are 2, ``auto_pad`` and
    ``output_shape`` are unset, and the output is exactly twice the input on both axes
    (``k + output_padding - pad_begin - pad_end == 2``), with every phase reading at least one tap
    at non-negative padding. Input sizes may be dynamic. Other nodes are left as they are.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    fresh = _name_maker(graph)

    nodes, rewritten = [], []
    for node in graph.node:
        plain = _plain_convolution(node, "ConvTranspose", 2, initializers)
        if plain is None:
            nodes.append(node)
            continue
        weight, bias_name, attrs = plain
        _, out_channels, kh, kw = weight.dims
        top, left, bottom, right = list(attrs.get("pads", [0, 0, 0, 0]))
        extra_h, extra_w = list(attrs.get("output_padding", [0, 0]))
        axes = [[_phase_taps(kh, top, r) for r in range(2)], [_phase_taps(kw, left, r) for r in range(2)]]
        if (kh + extra_h - top - bottom != 2 or kw + extra_w - left - right != 2
                or any(a is None or a[2] < 0 or a[1] - 1 - a[2] < 0 for axis in axes for a in axis)):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight)
        base = node.name or node.output[0]
        phases = []
        for py in range(2):  # DepthToSpace DCR: channel (2 py + px, m) -> pixel (2 y + py, 2 x + px)
            taps_h, size_h, begin_h = axes[0][py]
            for px in range(2):
                taps_w, size_w, begin_w = axes[1][px]
                kernel = np.zeros((out_channels, w.shape[0], size_h, size_w), np.float32)
                for th, uh in taps_h:
                    for tw, uw in taps_w:
                        kernel[:, :, uh, uw] = w[:, :, th, tw].T
                name = fresh(f"{base}_phase{py}{px}_weight")
                graph.initializer.append(numpy_helper.from_array(kernel, name))
                phases.append(fresh(f"{base}_phase{py}{px}"))
                nodes.append(helper.make_node(
                    "Conv", [node.input[0], name] + ([bias_name] if bias_name else []), [phases[-1]],
                    name=phases[-1], kernel_shape=[size_h, size_w],
                    pads=[begin_h, begin_w, size_h - 1 - begin_h, size_w - 1 - begin_w]))
        stacked = fresh(f"{base}_phases")
        nodes.append(helper.make_node("Concat", phases, [stacked], name=stacked, axis=1))
        nodes.append(helper.make_node("DepthToSpace", [stacked], list(node.output), name=fresh(f"{base}_depth_to_space"),
                                      blocksize=2, mode="DCR"))
        rewritten.append(base)
    if rewritten:
        _replace_nodes(graph, nodes)
    return rewritten


def unshare_constant_dequantize(model: "onnx.ModelProto") -> int:
    """Give every reader of a DequantizeLinear of constants its own DequantizeLinear, reading its
    own copies of the initializers (quantised values, scale, zero point); in place, returns how many
    copies were made. The values computed are the same.

    Why: onnxruntime's quantiser writes one DequantizeLinear per quantised initializer, so a
    constant read by several nodes (an InstanceNormalization scale / bias that the exporter or the
    pre-processor shares between layers) reaches them through one node. At session creation the
    CPU provider first gives each reader its own DequantizeLinear (EnsureUniqueDQForNodeUnit) still
    reading the one initializer, and with ``session.x64quantprecision`` (which an int8 file needs on x86
    CPUs without VNNI, :data:`translate.export.quantize.EXACT_INT8_SESSION_CONFIG`) QDQS8ToU8Transformer then
    converts that int8 initializer to uint8 once per DequantizeLinear, under the same new name:
    onnxruntime 1.31 refuses the session ("AddInitializedOrtValue Attempt to replace the existing
    tensor"; seen on facades-photo2label and the U-Net of tests/export/test_quantize.py).
    """
    import collections

    from onnx import helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    readers: dict[str, list] = collections.defaultdict(list)
    for node in graph.node:
        for index, name in enumerate(node.input):
            readers[name].append((node, index))
    fresh = _name_maker(graph)

    def copied(names) -> list[str]:
        """``names`` with each initializer among them replaced by a fresh copy of it."""
        result = []
        for name in names:
            if name in initializers:
                copy = type(initializers[name])()
                copy.CopyFrom(initializers[name])
                copy.name = fresh(f"{name}_copy")
                graph.initializer.append(copy)
                name = copy.name
            result.append(name)
        return result

    claimed: set[str] = set()
    nodes, copies = [], 0
    for node in graph.node:
        nodes.append(node)
        if node.op_type != "DequantizeLinear" or node.input[0] not in initializers:
            continue
        if node.input[0] in claimed:  # another DequantizeLinear reads the same values: copy them
            node.input[:] = copied(node.input)
            copies += 1
        claimed.add(node.input[0])
        # The first reader keeps the node; each other one gets a copy of it and its initializers.
        for user, index in readers[node.output[0]][1:]:
            inputs = copied(node.input)
            output = fresh(f"{node.output[0]}_copy")
            nodes.append(helper.make_node("DequantizeLinear", inputs, [output], name=fresh(f"{node.name or 'dq'}_copy"),
                                          **_attributes(node)))
            user.input[index] = output
            copies += 1
    if copies:
        del graph.node[:]
        graph.node.extend(nodes)
    return copies


__all__ = ["MAX_COST_RATIO", "MIN_OPSET", "NCHWC_BLOCK", "phase_cost_ratio", "phase_split_convolutions",
           "phase_split_transposed_convolutions", "unshare_constant_dequantize"]
