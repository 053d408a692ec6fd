"""Source strings of the custom MLX GPU kernels (Metal and CUDA).

One thread per (pillar, output sample) loops over the traces of one launch and
writes its own sum and count: no atomics, so the result does not depend on
thread scheduling.  The math is that of :mod:`pstm.kernels.reference` in
float32 (coordinates in the tile's local frame):

* aperture test on the pillar-to-midpoint distance (``d <= aperture[p, i]``),
* DSR time ``t = sqrt(h2 + ds2 * s2) + sqrt(h2 + dr2 * s2)`` with
  ``h2 = (t0 / 2)^2`` and ``s2 = 1 / vrms^2``,
* validity ``t > 0`` and ``t_lo < t < t_hi`` (the trace padded by one zero
  sample at each end),
* linear interpolation in the padded trace, cosine taper, and the weight
  ``wcoef * t^-power`` (``wcoef`` carries 1/vrms and t0 as chosen).

Inputs (all float32 except ``dims``), in this order:

``dims`` (int32: n_pillars, n_times, n_traces, padded samples, power),
``scal`` (t_lo, 1/dt, t_hi, taper constant), ``px``, ``py`` (n_pillars),
``h2`` (n_times), ``s2``, ``ap``, ``tq``, ``wc`` (n_pillars x n_times),
``sx``, ``sy``, ``rx``, ``ry``, ``mx``, ``my`` (n_traces),
``amp`` (n_traces x padded samples).

Outputs: ``img`` and ``cnt`` (n_pillars x n_times).

These kernels have not been executed in this repository's CI (it has no
GPU); their host code is exercised with fakes in ``tests/test_mlx.py``.
"""

from __future__ import annotations

INPUT_NAMES = ["dims", "scal", "px", "py", "h2", "s2", "ap", "tq", "wc",
               "sx", "sy", "rx", "ry", "mx", "my", "amp"]
OUTPUT_NAMES = ["img", "cnt"]

_BODY = """
    const int n_pillars = dims[0];
    const int n_times = dims[1];
    const int n_traces = dims[2];
    const int n_pad = dims[3];
    const int power = dims[4];
    const int gid = (int)({gid});
    if (gid >= n_pillars * n_times) {{
        return;
    }}
    const int p = gid / n_times;
    const int i = gid - p * n_times;
    const float x0 = px[p];
    const float y0 = py[p];
    const float h2v = h2[i];
    const float s2v = s2[gid];
    const float apv = ap[gid];
    const float ap2 = apv * apv;
    const float tqv = tq[gid];
    const float wcv = wc[gid];
    const float t_lo = scal[0];
    const float inv_dt = scal[1];
    const float t_hi = scal[2];
    const float taper_c = scal[3];
    float acc = 0.0f;
    float count = 0.0f;
    for (int j = 0; j < n_traces; ++j) {{
        const float mdx = mx[j] - x0;
        const float mdy = my[j] - y0;
        const float d2 = mdx * mdx + mdy * mdy;
        if (d2 > ap2 * 1.000001f) {{
            continue;
        }}
        const float d = {sqrt}(d2);
        if (d > apv) {{
            continue;
        }}
        const float sdx = sx[j] - x0;
        const float sdy = sy[j] - y0;
        const float rdx = rx[j] - x0;
        const float rdy = ry[j] - y0;
        const float t = {sqrt}(h2v + (sdx * sdx + sdy * sdy) * s2v)
                      + {sqrt}(h2v + (rdx * rdx + rdy * rdy) * s2v);
        if (!(t > 0.0f && t > t_lo && t < t_hi)) {{
            continue;
        }}
        const float f = (t - t_lo) * inv_dt;
        int k = (int)f;
        k = k < 0 ? 0 : (k > n_pad - 2 ? n_pad - 2 : k);
        const float w = f - (float)k;
        const int base = j * n_pad + k;
        const float a0 = amp[base];
        const float a1 = amp[base + 1];
        float x = d * tqv - taper_c;
        x = x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
        float wt = wcv * (0.5f + 0.5f * {cos}(3.14159265358979f * x));
        if (power >= 1) {{
            wt = wt / t;
        }}
        if (power >= 2) {{
            wt = wt / t;
        }}
        acc += (a0 + w * (a1 - a0)) * wt;
        count += 1.0f;
    }}
    img[gid] = acc;
    cnt[gid] = count;
"""

#: Body of the Metal kernel (``mx.fast.metal_kernel``).
METAL_SOURCE = _BODY.format(gid="thread_position_in_grid.x", sqrt="metal::sqrt", cos="metal::cos")

#: Body of the CUDA kernel (``mx.fast.cuda_kernel``).
CUDA_SOURCE = _BODY.format(gid="blockIdx.x * blockDim.x + threadIdx.x", sqrt="sqrtf", cos="cosf")
