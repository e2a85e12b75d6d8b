// Fused ESP evaluation: prescriptor forward + action decoding + predictor forward + sum over contexts.
//
// One thread per (prescriptor p, context n); a block holds blockDim.x contexts of one prescriptor.
// The prescriptor's genome and the predictor's action-side weights sit in shared memory (every thread
// of the block reads the same weights, so shared-memory broadcasts replace global loads). Hidden
// units are streamed: each hidden value is consumed as soon as it is made, so only the action
// outputs, the action encoding and the running outcome sums live per thread. Nothing per
// (prescriptor, context) is written to global memory: each block reduces its contexts in shared
// memory (fixed order, so results are deterministic) and writes one partial sum per output;
// the host sums the few partials per prescriptor and divides by N.
//
// Layouts (row-major, float32): theta (P, D) with D = C*H + H + H*AOUT + AOUT as [W1 (C,H), b1 (H),
// W2 (H,AOUT), b2 (AOUT)]; X (N, C) encoded contexts; Zc (N, PH) = X @ Wp1[:C] + bp1 precomputed;
// Wa (AE, PH) the action rows of the predictor's first layer; Wp2 (PH, O), bp2 (O) with outcome scaling
// folded in. act_info (n_act, 4) = kind (0 continuous, 1 binary, 2 categorical, 3 integer: continuous
// rounded half to even, 4 member of a simplex group), output offset, width, and for kind 4 the simplex
// group (otherwise the encoding offset, equal to the output offset and unused); act_f (n_act, 4) = lo,
// hi, mean, std (kind 4: hi is the group's total). cost_w (AOUT) per output unit.
// partial (P, n_cblocks, O + 1): sums of each predicted outcome, then of action cost.
//
// The per-(prescriptor, context) arithmetic is esp_pair(), a __host__ __device__ function the kernel
// calls. Compiled with ESP_HOST_BUILD by a plain C++ compiler (g++ -x c++ -DESP_HOST_BUILD), the file
// instead provides esp_eval_host(): the same arguments as the kernel plus the grid and block sizes,
// looping over blocks and threads and reducing in the kernel's exact order, so the kernel's math is
// tested on machines without a GPU (tests/esp/test_gpu_host.py).

#ifdef ESP_HOST_BUILD
#include <cmath>   // fmaf, tanhf, expf, fmaxf (built-ins under nvcc and NVRTC)
#include <vector>
#endif
#ifdef __CUDACC__  // nvcc and NVRTC
#define ESP_INLINE __forceinline__
#else              // a plain C++ compiler: only meaningful with ESP_HOST_BUILD
#define __host__
#define __device__
#define ESP_INLINE inline
#endif

#ifndef ESP_MAX_AOUT
#define ESP_MAX_AOUT 64
#endif
#ifndef ESP_MAX_O
#define ESP_MAX_O 16
#endif

// y[0..O-1] = predicted outcomes, y[O] = action cost, for genome g (D floats) and context n.
// x: the context's C encoded features; zc: its PH precomputed context terms of the predictor.
static ESP_INLINE __host__ __device__ void esp_pair(
    const float* __restrict__ g, const float* __restrict__ x, const int C, const int H, const int AOUT,
    const int* __restrict__ act_info, const float* __restrict__ act_f, const int n_act,
    const float* __restrict__ cost_w,
    const float* __restrict__ zc, const int PH,
    const float* __restrict__ Wa, const int AE,
    const float* __restrict__ Wp2, const float* __restrict__ bp2, const int O,
    float* __restrict__ y)
{
    const float* W1 = g;
    const float* b1 = W1 + C * H;
    const float* Wo = b1 + H;
    const float* bo = Wo + H * AOUT;

    float a[ESP_MAX_AOUT];
    for (int k = 0; k < AOUT; ++k) a[k] = bo[k];
    for (int h = 0; h < H; ++h) {
        float s = b1[h];
        for (int c = 0; c < C; ++c) s = fmaf(x[c], W1[c * H + h], s);
        const float t = tanhf(s);
        for (int k = 0; k < AOUT; ++k) a[k] = fmaf(t, Wo[h * AOUT + k], a[k]);
    }

    // Simplex members first, into sv[] (each reads its whole group's raw outputs, which the in-place
    // decoding below overwrites): total * softmax over the group, max subtracted (no overflow).
    float sv[ESP_MAX_AOUT];
    for (int j = 0; j < n_act; ++j) {
        if (act_info[4 * j] != 4) continue;
        const int g = act_info[4 * j + 3], off = act_info[4 * j + 1];
        float m = a[off];
        for (int k = 0; k < n_act; ++k)
            if (act_info[4 * k] == 4 && act_info[4 * k + 3] == g) m = fmaxf(m, a[act_info[4 * k + 1]]);
        float s = 0.0f;
        for (int k = 0; k < n_act; ++k)
            if (act_info[4 * k] == 4 && act_info[4 * k + 3] == g) s += expf(a[act_info[4 * k + 1]] - m);
        sv[off] = expf(a[off] - m) * (act_f[4 * j + 1] / s);
    }

    // Decode actions in place: a[] becomes the predictor's action encoding (same width).
    float cost = 0.0f;
    for (int j = 0; j < n_act; ++j) {
        const int kind = act_info[4 * j], off = act_info[4 * j + 1], width = act_info[4 * j + 2];
        if (kind == 2) {
            int best = 0;
            float bv = a[off];
            for (int i = 1; i < width; ++i)
                if (a[off + i] > bv) { bv = a[off + i]; best = i; }
            for (int i = 0; i < width; ++i) a[off + i] = (i == best) ? 1.0f : 0.0f;
            cost += cost_w[off + best];
        } else if (kind == 1) {
            const float v = a[off] > 0.0f ? 1.0f : 0.0f;
            a[off] = v;
            cost += cost_w[off] * v;
        } else {
            const float lo = act_f[4 * j], hi = act_f[4 * j + 1];
            const float mean = act_f[4 * j + 2], sd = act_f[4 * j + 3];
            float v = kind == 4 ? sv[off] : lo + (hi - lo) / (1.0f + expf(-a[off]));
            if (kind == 3) v = rintf(v);  // lo and hi are whole numbers: stays in range
            a[off] = (v - mean) / sd;
            cost += cost_w[off] * v;
        }
    }

    for (int o = 0; o < O; ++o) y[o] = bp2[o];
    for (int j = 0; j < PH; ++j) {
        float z = zc[j];
        for (int i = 0; i < AE; ++i) z = fmaf(a[i], Wa[i * PH + j], z);
        z = fmaxf(z, 0.0f);
        for (int o = 0; o < O; ++o) y[o] = fmaf(z, Wp2[j * O + o], y[o]);
    }
    y[O] = cost;
}

#ifndef ESP_HOST_BUILD
extern "C" __global__ void esp_eval_fused(
    const float* __restrict__ theta, const int D,
    const float* __restrict__ X, const int N, const int C, const int H, const int AOUT,
    const int* __restrict__ act_info, const float* __restrict__ act_f, const int n_act,
    const float* __restrict__ cost_w,
    const float* __restrict__ Zc, const int PH,
    const float* __restrict__ Wa, const int AE,
    const float* __restrict__ Wp2, const float* __restrict__ bp2, const int O,
    const int n_cblocks,
    float* __restrict__ partial)
{
    extern __shared__ float sh[];
    float* s_theta = sh;               // D
    float* s_Wa = s_theta + D;         // AE * PH
    float* s_W2 = s_Wa + AE * PH;      // PH * O
    float* s_red = s_W2 + PH * O;      // blockDim.x

    const long long p = blockIdx.x / n_cblocks;
    const int cb = blockIdx.x % n_cblocks;
    const float* tp = theta + p * (long long)D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) s_theta[i] = tp[i];
    for (int i = threadIdx.x; i < AE * PH; i += blockDim.x) s_Wa[i] = Wa[i];
    for (int i = threadIdx.x; i < PH * O; i += blockDim.x) s_W2[i] = Wp2[i];
    __syncthreads();

    const int n = cb * blockDim.x + threadIdx.x;
    float y[ESP_MAX_O + 1];
    for (int o = 0; o <= O; ++o) y[o] = 0.0f;

    if (n < N)  // no early return: every thread must reach the reduction's __syncthreads
        esp_pair(s_theta, X + (long long)n * C, C, H, AOUT, act_info, act_f, n_act, cost_w,
                 Zc + (long long)n * PH, PH, s_Wa, AE, s_W2, bp2, O, y);

    for (int o = 0; o <= O; ++o) {
        s_red[threadIdx.x] = y[o];
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) s_red[threadIdx.x] += s_red[threadIdx.x + s];
            __syncthreads();
        }
        if (threadIdx.x == 0) partial[(p * n_cblocks + cb) * (O + 1) + o] = s_red[0];
        __syncthreads();
    }
}
#else
// Host emulation of esp_eval_fused<<<grid, block>>>: same arguments, then the launch shape. Reads the
// weights where the kernel reads its shared-memory copies (identical values) and reproduces the
// per-block tree reduction, stride blockDim/2 down to 1, output by output.
extern "C" void esp_eval_host(
    const float* __restrict__ theta, const int D,
    const float* __restrict__ X, const int N, const int C, const int H, const int AOUT,
    const int* __restrict__ act_info, const float* __restrict__ act_f, const int n_act,
    const float* __restrict__ cost_w,
    const float* __restrict__ Zc, const int PH,
    const float* __restrict__ Wa, const int AE,
    const float* __restrict__ Wp2, const float* __restrict__ bp2, const int O,
    const int n_cblocks,
    float* __restrict__ partial,
    const int grid, const int block)
{
    std::vector<float> ys((size_t)block * (ESP_MAX_O + 1));
    std::vector<float> s_red((size_t)block);
    for (int b = 0; b < grid; ++b) {
        const long long p = b / n_cblocks;
        const int cb = b % n_cblocks;
        const float* tp = theta + p * (long long)D;
        for (int t = 0; t < block; ++t) {
            float* y = &ys[(size_t)t * (ESP_MAX_O + 1)];
            for (int o = 0; o <= O; ++o) y[o] = 0.0f;
            const int n = cb * block + t;
            if (n < N)
                esp_pair(tp, X + (long long)n * C, C, H, AOUT, act_info, act_f, n_act, cost_w,
                         Zc + (long long)n * PH, PH, Wa, AE, Wp2, bp2, O, y);
        }
        for (int o = 0; o <= O; ++o) {
            for (int t = 0; t < block; ++t) s_red[t] = ys[(size_t)t * (ESP_MAX_O + 1) + o];
            for (int s = block / 2; s > 0; s >>= 1)
                for (int t = 0; t < s; ++t) s_red[t] += s_red[t + s];
            partial[(p * n_cblocks + cb) * (O + 1) + o] = s_red[0];
        }
    }
}
#endif
